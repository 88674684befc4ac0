"""Playbooks: the default covers every exception type; a bad document names each problem."""

from __future__ import annotations

import pytest

from orderops.domain.cases import ExceptionType
from orderops.recommend.playbook import InvalidPlaybook, default_playbook, load_playbook

VALID_RULE = (
    "- name: ok\n  actions:\n    - kind: contact_customer\n      params: {subject: s, body: b}\n"
)


def test_the_default_playbook_has_rules_for_all_19_exception_types() -> None:
    playbook = default_playbook()
    missing = [t for t in ExceptionType if not playbook.rules_for(t)]
    assert missing == []
    assert len(ExceptionType) == 19


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            "types: {shipment_late: [{name: x, actions: [{kind: teleport}]}]}",
            "types.shipment_late.0.actions.0.kind: must be one of",
        ),
        ("types: {shipment_lateish: []}", "types.shipment_lateish"),
        (
            "types: {shipment_late: [{name: x, actions: []}]}",
            "types.shipment_late.0.actions: must have at least 1 item(s)",
        ),
        (
            "types: {shipment_late: [{name: x, when: {days_late_over: -1},"
            " actions: [{kind: refund}]}]}",
            "types.shipment_late.0.when.days_late_over: must be >= 0",
        ),
        (
            "types: {shipment_late: [{name: x, when: {vip: true}, actions: [{kind: refund}]}]}",
            "types.shipment_late.0.when.vip: is not a known setting",
        ),
        (
            "types: {shipment_late: [{name: x,"
            " actions: [{kind: refund, params: {amount_minor: lots}}]}]}",
            "types.shipment_late.0.actions.0.params.amount_minor: must be a number or one of",
        ),
        (
            "guardrails: {refund_ceiling_minor: '100'}\ntypes: {}",
            "guardrails.refund_ceiling_minor: must be a whole number",
        ),
        ("- just a list", "(root): must be a mapping"),
        (
            "types: {shipment_late: [{name: a, actions: [{kind: refund}]},"
            " {name: a, actions: [{kind: refund}]}]}",
            "rule names repeat: a",
        ),
    ],
)
def test_an_invalid_playbook_is_refused_naming_the_path(document: str, expected: str) -> None:
    with pytest.raises(InvalidPlaybook) as caught:
        load_playbook(document)
    assert expected in caught.value.message


def test_a_valid_tenant_playbook_replaces_the_default_whole() -> None:
    playbook = load_playbook(
        "name: acme\nversion: '3'\ntypes:\n  shipment_late:\n"
        + "    "
        + VALID_RULE.replace("\n  ", "\n      ")
    )
    assert playbook.reference == "acme@3"
    assert [r.name for r in playbook.rules_for(ExceptionType.SHIPMENT_LATE)] == ["ok"]
    assert playbook.rules_for(ExceptionType.PAYMENT_FAILED) == []
