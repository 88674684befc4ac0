"""A candidate policy file is parsed as strictly as each policy's own door (every problem
named by section and path), differs from live leaf by leaf, and two replays' results
compare into a report that names what changed, with at most five examples of each kind."""

from __future__ import annotations

from typing import Any

import pytest

from orderops.domain.approval_policy import DEFAULT_POLICY
from orderops.domain.policy import InvalidPolicy
from orderops.domain.routing import DEFAULT_RULES
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file
from orderops.recommend.playbook import default_playbook
from orderops.workflow.backtest_report import RunResult, compare
from orderops.workflow.candidate_policy import CandidatePolicy, parse_candidate, policy_diff

LIVE = CandidatePolicy(
    fulfillment=load_policy_file(EXAMPLE_POLICY),
    routing=DEFAULT_RULES,
    approval=DEFAULT_POLICY,
    playbook=default_playbook(),
    text="",
)


def _fulfillment(detectors: str) -> str:
    body = EXAMPLE_POLICY.read_text("utf-8").split("\ndetectors:")[0]
    text = body + f"\ndetectors: {detectors}\n"
    return "fulfillment_policy:\n" + "\n".join(f"  {line}" for line in text.splitlines()) + "\n"


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("fulfillment_policy: {a: [1\n", "not valid YAML"),
        ("thresholds: {}\n", "thresholds: is not a known section"),
        ("fulfillment_policy: 3\n", "fulfillment_policy: must be a mapping"),
        (_fulfillment("{warp_delay: {enabled: false}}"), "fulfillment_policy.detectors.warp_delay"),
        (
            _fulfillment("{fraud_review: {thresholds: {risk: 5}}}"),
            "detectors.fraud_review.thresholds.risk: is not a threshold",
        ),
        (_fulfillment("{fraud_review: {thresholds: {risk_score: '5'}}}"), "risk_score must be"),
        ("routing_rules: [{queue: ops}]\n", "routing_rules: a routing rule needs a name"),
        ("approval_policy: [1]\n", "approval_policy: must be a mapping"),
        ("playbook: {types: {}, guardrails: 7}\n", "playbook.guardrails"),
        ("a: &anchor 1\n", "anchors and aliases are not allowed"),
        ("x" * (1024 * 1024 + 1), "exceeds"),
    ],
)
def test_a_bad_candidate_names_its_problem(text: str, problem: str) -> None:
    with pytest.raises(InvalidPolicy) as refused:
        parse_candidate(text)

    assert problem in str(refused.value)


def test_an_empty_candidate_is_the_live_policy_and_differs_in_nothing() -> None:
    candidate = parse_candidate("")

    assert (candidate.fulfillment, candidate.routing, candidate.approval, candidate.playbook) == (
        None,
        None,
        None,
        None,
    )
    assert policy_diff(LIVE, candidate) == []


def test_the_diff_names_each_changed_leaf_and_routing_rules_by_name() -> None:
    candidate = parse_candidate(
        _fulfillment("{fraud_review: {thresholds: {risk_score: 50}}}")
        + "routing_rules:\n  - {name: high fraud risk, queue: fraud, priority: P1,"
        " when: {min_fraud_risk: 60}}\n"
    )

    paths = {c["path"]: c["after"] for c in policy_diff(LIVE, candidate)}

    assert paths["routing_rules.high fraud risk.when.min_fraud_risk"] == 60.0
    assert paths["routing_rules.vip customer"] is None  # a rule the candidate drops
    assert any(p.startswith("fulfillment_policy.detectors.fraud_review") for p in paths)


def _case(order: str, kind: str, **extra: Any) -> dict[str, Any]:
    return {
        "order_ref": order,
        "type": kind,
        "status": "new",
        "queue": "ops",
        "priority": "P3",
        "detected_at": "2026-11-20T10:00:00+00:00",
        "opened_at": "2026-11-20T10:30:00+00:00",
        "closed_at": None,
    } | extra


def test_compare_reports_cases_only_one_run_opened_and_cases_that_differ() -> None:
    live = RunResult(cases=[_case("o-1", "fraud_review"), _case("o-2", "shipment_late")])
    candidate = RunResult(
        cases=[
            _case("o-1", "fraud_review", queue="fraud"),
            *(_case(f"o-{n}", "pre_dispatch_delay") for n in range(10, 17)),
        ],
        actions=[
            {
                "id": "a1",
                "order_ref": "o-10",
                "case_type": "pre_dispatch_delay",
                "kind": "refund",
                "status": "awaiting_approval",
                "auto_rule": None,
                "required": ["finance"],
                "amount_minor": 1500,
                "moves_money": True,
            }
        ],
    )

    same = compare(live, live)
    report = compare(live, candidate)

    assert same["identical"] is True
    assert same["changed_cases"] == 0
    assert report["changed"]["all"]["only_live"] == [["o-2", "shipment_late"]]
    assert report["changed"]["all"]["different"] == [["o-1", "fraud_review"]]
    assert len(report["changed"]["all"]["only_candidate"]) == 7
    assert len(report["changed"]["examples"]["only_candidate"]) == 5
    assert report["changed_cases"] == 9
    assert report["cases"]["candidate"]["pre_dispatch_delay"] == {"opened": 7, "closed": 0}
    assert report["time_to_detection_minutes"]["candidate"]["pre_dispatch_delay"] == 30.0
    assert report["approvals"]["candidate"] == {
        "auto_approved": 0,
        "needing_approval": 1,
        "by_role": {"finance": 1},
    }
    assert report["money_minor"]["candidate"] == {
        "refund": {"proposed": 1500, "auto_approved": 0, "queued": 0}
    }
    assert report["queue_load"]["candidate"]["ops"] == {"10": 7}
