"""What the case page says and reads, without a database: an action's state in words for
every outbox outcome, the generated form's reading of what was typed, and the SLA span."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.console.action_forms import LineRow, OrderFacts, PaymentRoom, read_posted
from orderops.console.action_status import status_text
from orderops.console.case_facts import span, text
from orderops.decide.actions import DecisionView
from orderops.domain.actions import InvalidAction
from orderops.storage.tables import Action, OutboxMessage

AT = datetime(2026, 11, 20, 14, 2, tzinfo=UTC)
FACTS = OrderFacts(
    currency="JPY",
    lines=(LineRow(sku="MUG", title="Mug", ordered=2), LineRow(sku="TEA", title="Tea", ordered=1)),
    payments=(
        PaymentRoom(
            payment_ref="pi_1",
            provider="stripe",
            status="captured",
            amount_minor=5000,
            refundable_minor=5000,
            hold_available_minor=0,
        ),
    ),
)


def _action(status: str, kind: str = "refund") -> Action:
    return Action(
        id="a1",
        case_id="c1",
        kind=kind,
        params={},
        status=status,
        proposed_by="user:maker",
        created_at=AT,
        policy_version=1,
        evaluation={
            "policy_version": 1,
            "auto_rule": None,
            "required": ["approver"],
            "approvals": 1,
            "matched_rules": ["desk-approval"],
            "expiry_hours": 48,
            "inputs": {"amount_minor": 100, "order_total_minor": 5000},
        },
        decided_at=AT,
    )


def _row(status: str, **kw: object) -> OutboxMessage:
    values: dict[str, object] = {
        "system": "stripe",
        "operation": "refund",
        "status": status,
        "attempts": 0,
        "last_error": None,
        "dead_letter_reason": None,
        "completed_at": None,
    }
    values.update(kw)
    return OutboxMessage(**values)


@pytest.mark.parametrize(
    ("status", "row", "said"),
    [
        ("approved", _row("pending"), "approved, queued for Stripe"),
        (
            "approved",
            _row("in_flight", attempts=1),
            "approved, being delivered to Stripe (attempt 2)",
        ),
        ("approved", _row("unconfirmed"), "approved, checking with Stripe whether it arrived"),
        (
            "approved",
            _row("pending", attempts=2, last_error="503 from Stripe"),
            "approved, retrying Stripe after 2 attempt(s): 503 from Stripe",
        ),
        (
            "approved",
            _row("conflict", last_error="already refunded"),
            "needs review: Stripe disagreed: already refunded",
        ),
        ("executed", _row("delivered", completed_at=AT), "delivered to Stripe at 2026-11-20 14:02"),
        ("failed", _row("failed", last_error="card_declined"), "failed: card_declined"),
        (
            "failed",
            _row("cancelled", dead_letter_reason="cancelled by ops"),
            "failed: cancelled by ops",
        ),
    ],
)
def test_an_approved_action_says_where_its_effect_is(
    status: str, row: OutboxMessage, said: str
) -> None:
    assert status_text(_action(status), (), [row], people={}) == said


def test_a_saga_step_delivered_is_not_the_end_of_the_saga() -> None:
    row = _row("delivered", system="wms", completed_at=AT)
    said = status_text(_action("approved", kind="reship"), (), [row], people={})
    assert said == "approved, delivered to the warehouse at 2026-11-20 14:02; more steps to come"


def test_a_rejection_names_the_person_and_the_reason() -> None:
    no = DecisionView(
        approver="user:cy",
        role="approver",
        decision="reject",
        reason="not late",
        at=AT,
        bulk_id=None,
    )
    said = status_text(_action("rejected"), (no,), [], people={"user:cy": "Cy Checker"})
    assert said == "rejected by Cy Checker: not late"
    assert status_text(_action("expired"), (), [], people={}) == (
        "expired without approval at 2026-11-20 14:02"
    )


def test_the_form_reads_major_units_lines_and_boxes_into_typed_parameters() -> None:
    refund = read_posted(
        {"kind": "refund", "f.amount_minor": "1200", "f.reason": "late", "f.payment_ref": ""},
        FACTS,
    )
    assert refund.params == {"amount_minor": 1200, "reason": "late"}  # JPY has no decimals
    reship = read_posted(
        {"kind": "reship", "f.lines.MUG": "2", "f.lines.TEA": "0", "f.reason": "lost parcel"},
        FACTS,
    )
    assert reship.params == {"lines": [{"sku": "MUG", "quantity": 2}], "reason": "lost parcel"}
    cancel = read_posted(
        {"kind": "cancel_line", "f.sku": "TEA", "f.quantity": "1", "f.reason": "gone"}, FACTS
    )
    assert cancel.params == {
        "sku": "TEA",
        "quantity": 1,
        "refund": False,  # an unticked box is not posted: off
        "restock": False,
        "reason": "gone",
    }


@pytest.mark.parametrize(
    ("form", "problem"),
    [
        (
            {"kind": "refund", "f.amount_minor": "12.5", "f.reason": "late"},
            "more decimals than JPY",
        ),
        ({"kind": "refund", "f.amount_minor": "", "f.reason": ""}, "Reason: fill this in"),
        ({"kind": "reship", "f.reason": "lost"}, "choose at least one line"),
        ({"kind": "reship", "f.lines.MUG": "two", "f.reason": "lost"}, "is not a whole number"),
        ({"kind": "", "f.reason": "late"}, "choose an action"),
    ],
)
def test_what_cannot_be_read_is_refused_naming_the_field(
    form: dict[str, str], problem: str
) -> None:
    with pytest.raises(InvalidAction, match=problem):
        read_posted(form, FACTS)


def test_the_sla_span_and_fact_values_read_as_a_person_writes_them() -> None:
    assert span(timedelta(hours=3, minutes=12, seconds=40)) == "3 h 12 min"
    assert span(timedelta(minutes=25)) == "25 min"
    assert span(timedelta(days=2, hours=5)) == "2 d 5 h"
    assert text("refund_minor", 1250, "USD") == "12.50 USD"
    assert text("share", 0.5, "USD") == "50%"
    assert text("at", "2026-11-13T12:00:00+02:00", "") == "2026-11-13 10:00"
    assert text("skus", ["A", "B"], "") == "A; B"
