"""Customer choices, pure: which options an offer holds and what they are worth, and the
link that carries it (signed per tenant, every field covered, expiry checked)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from orderops.domain.actions import ActionKind
from orderops.domain.approval_policy import Bounds, DecisionInputs
from orderops.domain.choice_links import ChoiceLink, ChoiceLinkKeys, ChoiceLinkRefused
from orderops.domain.choices import (
    DEFAULT_CHOICE_POLICY,
    ChoiceOption,
    ChoicePolicy,
    ChoiceRules,
    NoChoiceToOffer,
    OfferFacts,
    SubstituteFact,
    build_choices,
)
from orderops.domain.policy import InvalidPolicy, parse_policy
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file

T0 = datetime(2026, 11, 20, 12, tzinfo=UTC)
ALL = [ChoiceOption.WAIT, ChoiceOption.SUBSTITUTE, ChoiceOption.PARTIAL_REFUND, ChoiceOption.CANCEL]
SUB = SubstituteFact(from_sku="MUG-RED", to_sku="MUG-BLUE", quantity=2, unit_difference_minor=-150)


def facts(**kw: object) -> OfferFacts:
    base: dict[str, object] = {
        "exception_type": "inventory_shortfall",
        "order_total_minor": 8000,
        "refundable_minor": 8000,
        "cancel_refund_minor": 8000,
        "substitute": SUB,
    }
    return OfferFacts(**{**base, **kw})  # type: ignore[arg-type]


def test_each_option_becomes_the_action_it_proposes_with_amounts_from_the_facts() -> None:
    choices = build_choices(ChoiceRules(options=ALL, partial_refund_pct=15), facts())

    assert [(c.option, c.kind, c.amount_minor) for c in choices] == [
        (ChoiceOption.WAIT, ActionKind.ACCEPT_DELAY, 0),
        (ChoiceOption.SUBSTITUTE, ActionKind.SUBSTITUTE, -300),
        (ChoiceOption.PARTIAL_REFUND, ActionKind.REFUND, 1200),
        (ChoiceOption.CANCEL, ActionKind.CANCEL_ORDER, 8000),
    ]
    sub = choices[1].params
    assert (sub["from_sku"], sub["to_sku"], sub["quantity"]) == ("MUG-RED", "MUG-BLUE", 2)
    assert sub["price_difference_minor"] == -300  # the customer is owed the difference
    assert choices[3].params["reason"] == "customer"


def test_a_partial_refund_is_capped_by_what_the_ledger_leaves_and_dropped_at_nothing() -> None:
    rules = ChoiceRules(options=[ChoiceOption.PARTIAL_REFUND, ChoiceOption.WAIT])
    capped = build_choices(
        rules.model_copy(update={"partial_refund_pct": 50}), facts(refundable_minor=900)
    )
    assert capped[0].params["amount_minor"] == 900
    spent = build_choices(rules, facts(refundable_minor=0))
    assert [c.option for c in spent] == [ChoiceOption.WAIT]


def test_no_substitute_in_stock_means_no_substitute_option_and_nothing_left_is_refused() -> None:
    rules = ChoiceRules(options=[ChoiceOption.SUBSTITUTE])
    with pytest.raises(NoChoiceToOffer, match="fits this order"):
        build_choices(rules, facts(substitute=None))


def test_the_policy_offers_choices_only_on_delay_and_stock_cases_and_names_the_others() -> None:
    with pytest.raises(NoChoiceToOffer, match="shipment_late"):
        DEFAULT_CHOICE_POLICY.rules_for("shipment_late")
    with pytest.raises(ValueError, match="not for payment_failed"):
        ChoicePolicy.model_validate({"cases": {"payment_failed": {"options": ["wait"]}}})
    with pytest.raises(ValueError, match="must not repeat"):
        ChoiceRules.model_validate({"options": ["wait", "wait"]})


def test_a_tenant_policy_may_narrow_the_options_and_a_typo_is_refused_by_path() -> None:
    document = load_policy_file(EXAMPLE_POLICY).model_dump(mode="json")
    document["customer_choices"] = {
        "cases": {"shipment_delay_predicted": {"options": ["wait"], "link_hours": 24}}
    }
    policy = parse_policy(document)
    assert policy.customer_choices is not None
    rules = policy.customer_choices.rules_for("shipment_delay_predicted")
    assert (rules.options, rules.link_hours) == ([ChoiceOption.WAIT], 24)
    document["customer_choices"]["cases"]["shipment_delay_predicted"]["options"] = ["refund"]
    with pytest.raises(InvalidPolicy, match="customer_choices"):
        parse_policy(document)


def test_the_customer_choice_bound_tells_a_customers_choice_from_a_persons() -> None:
    def inputs(customer: bool) -> DecisionInputs:
        return DecisionInputs(
            kind=ActionKind.CANCEL_ORDER,
            amount_minor=100,
            order_total_minor=100,
            fraud_score=None,
            customer_tier="standard",
            customer_choice=customer,
        )

    only = Bounds(customer_choice=True)
    assert (only.hold(inputs(True)), only.hold(inputs(False))) == (True, False)
    assert Bounds().hold(inputs(False)) is True
    assert inputs(True).as_json()["customer_choice"] is True
    assert "customer_choice" not in inputs(False).as_json()


# --- the link ---------------------------------------------------------------------------

KEYS = ChoiceLinkKeys("a-secret-key-of-the-desk-at-least-32-chars")
LINK = ChoiceLink(tenant_id="acme", case_id="c" * 32, offer_id="a" * 32, expires_at=T0)


def _parts(token: str) -> tuple[dict[str, object], str]:
    payload, mac = token.split(".")
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))), mac


def _with(token: str, **changes: object) -> str:
    body, mac = _parts(token)
    payload = json.dumps({**body, **changes}, separators=(",", ":"), sort_keys=True).encode()
    return f"{base64.urlsafe_b64encode(payload).rstrip(b'=').decode()}.{mac}"


def test_a_signed_link_reads_back_as_the_tenant_case_offer_and_expiry_it_names() -> None:
    assert KEYS.verify(KEYS.sign(LINK)) == LINK


@pytest.mark.parametrize(
    "change", [{"t": "globex"}, {"c": "d" * 32}, {"o": "b" * 32}, {"e": int(T0.timestamp()) + 3600}]
)
def test_changing_any_field_of_a_link_breaks_it(change: dict[str, object]) -> None:
    with pytest.raises(ChoiceLinkRefused) as refused:
        KEYS.verify(_with(KEYS.sign(LINK), **change))
    assert refused.value.reason == "forged"


@pytest.mark.parametrize(
    "token", ["", "x", "a.b.c", "not-base64!.zz", "e30.AAAA", "x" * 700, "..", "eyJ0IjoxfQ.AA"]
)
def test_garbage_is_refused_as_forged(token: str) -> None:
    with pytest.raises(ChoiceLinkRefused) as refused:
        KEYS.verify(token)
    assert refused.value.reason == "forged"


def test_each_tenant_signs_with_its_own_key_and_another_secret_signs_nothing() -> None:
    globex = ChoiceLink(
        tenant_id="globex", case_id=LINK.case_id, offer_id=LINK.offer_id, expires_at=T0
    )
    _, acme_mac = _parts(KEYS.sign(LINK))
    _, globex_mac = _parts(KEYS.sign(globex))
    assert acme_mac != globex_mac
    with pytest.raises(ChoiceLinkRefused):
        ChoiceLinkKeys("another-secret-key-of-another-desk-000").verify(KEYS.sign(LINK))
