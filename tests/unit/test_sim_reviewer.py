"""The simulated human reviewer: one resolution per case from its own rules, independent of
the playbooks, recorded in labels.jsonl and scored beside the acceptable sets."""

from __future__ import annotations

import ast
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from orderops.domain.actions import ActionKind
from orderops.domain.cases import ExceptionType
from orderops.recommend.evaluation import evaluate_recommend
from orderops.sim import SimConfig, simulate
from orderops.sim import reviewer as reviewer_module
from orderops.sim.files import write_sim
from orderops.sim.labels import Label
from orderops.sim.resolutions import NO_ACTION, _Facts
from orderops.sim.review_time import judged_at_review, review_time
from orderops.sim.reviewer import decide

AT = datetime(2024, 6, 10, tzinfo=UTC)
CHEAP = (("TEE-1", 1, 1_500),)
DEAR = (("COAT-1", 1, 20_000),)


@pytest.mark.parametrize(
    ("exception_type", "facts", "expected"),
    [
        (ExceptionType.PAYMENT_FAILED, _Facts(cancelled=True), NO_ACTION),
        (ExceptionType.PAYMENT_FAILED, _Facts(fraud=0.72), "cancel_order"),
        (ExceptionType.PAYMENT_FAILED, _Facts(fraud=0.3), "contact_customer"),
        (ExceptionType.PAYMENT_HOLD, _Facts(fraud=0.5), "support_handoff"),
        (ExceptionType.PAYMENT_HOLD, _Facts(fraud=0.1), "capture_payment"),
        (ExceptionType.AUTHORIZATION_EXPIRING, _Facts(fraud=0.9), "void_payment"),
        (ExceptionType.FRAUD_REVIEW, _Facts(fraud=0.9, dispute=True), "support_handoff"),
        (ExceptionType.FRAUD_REVIEW, _Facts(fraud=0.5), "hold_fulfillment"),
        (ExceptionType.FRAUD_REVIEW, _Facts(fraud=0.1), "release_fulfillment"),
        # long overdue: a cheap order is refunded, a dear one reshipped
        (
            ExceptionType.SHIPMENT_LATE,
            _Facts(promised_by=AT - timedelta(days=6), lines=CHEAP),
            "refund",
        ),
        (
            ExceptionType.SHIPMENT_LATE,
            _Facts(promised_by=AT - timedelta(days=6), lines=DEAR),
            "reship",
        ),
        (
            ExceptionType.SHIPMENT_LATE,
            _Facts(promised_by=AT - timedelta(days=1), lines=DEAR),
            "contact_customer",
        ),
        (
            ExceptionType.SHIPMENT_LATE,
            _Facts(promised_by=AT - timedelta(days=3), delivered_at=AT, lines=DEAR),
            "store_credit",
        ),
        (ExceptionType.SHIPMENT_DELAY_PREDICTED, _Facts(tier="vip"), "shipping_upgrade"),
        (ExceptionType.SHIPMENT_DELAY_PREDICTED, _Facts(lines=CHEAP), "contact_customer"),
        (ExceptionType.INVENTORY_SHORTFALL, _Facts(lines=CHEAP + DEAR), "cancel_line"),
        (ExceptionType.INVENTORY_SHORTFALL, _Facts(lines=CHEAP), "contact_customer"),
        (ExceptionType.CARRIER_EXCEPTION, _Facts(lost=True), "reship"),
        (ExceptionType.CARRIER_EXCEPTION, _Facts(), "support_handoff"),
        (ExceptionType.CANCEL_REQUESTED, _Facts(), "cancel_order"),
        (ExceptionType.CANCEL_REQUESTED, _Facts(delivered_at=AT), "contact_customer"),
        (ExceptionType.INTEGRATION_SILENCE, _Facts(), "support_handoff"),
    ],
)
def test_the_reviewer_chooses_one_action_by_its_own_rules(
    exception_type: ExceptionType, facts: _Facts, expected: str
) -> None:
    label = Label(exception_type, "o-1", AT - timedelta(days=6))
    action, why = decide(label, facts, substitutable=False, decide_at=AT)
    assert action == expected
    assert why


def test_every_exception_type_gets_a_real_action_kind() -> None:
    kinds = {str(k) for k in ActionKind} | {NO_ACTION}
    for exception_type in ExceptionType:
        action, _ = decide(
            Label(exception_type, "o", AT), _Facts(), substitutable=True, decide_at=AT
        )
        assert action in kinds


def test_the_reviewer_does_not_read_the_recommender_or_the_playbook() -> None:
    source = Path(reviewer_module.__file__).read_text("utf-8")
    imported = {
        node.module or ""
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.ImportFrom)
    }
    assert not any(m.startswith("orderops.recommend") for m in imported)
    assert "playbook" not in source.replace("playbooks", "").lower().split('"""', 2)[2]


def test_labels_jsonl_records_the_reviewer_choice(tmp_path: Path) -> None:
    result = simulate(SimConfig(seed=3, days=0.5, orders_per_day=60))
    assert result.labels
    _, labels_path = write_sim(result, tmp_path)
    rows = [json.loads(line) for line in labels_path.read_text("utf-8").splitlines()]
    assert len(rows) == len(result.labels)
    kinds = {str(k) for k in ActionKind} | {NO_ACTION}
    assert all(row["reviewer_action"] in kinds and row["reviewer_why"] for row in rows)


def test_the_evaluation_reports_agreement_with_the_reviewer() -> None:
    result = evaluate_recommend(seeds=[7], days=0.5, orders_per_day=80, with_history=False)
    assert result.cases > 5
    assert 0.0 <= result.reviewer_top1_rate <= result.reviewer_top3_rate <= 1.0
    assert sum(t.reviewer_top1 for t in result.types) <= result.cases
    # the reviewer is a different judge: it does not agree with the acceptable sets everywhere
    assert any(t.reviewer_top1 != t.top1 for t in result.types)


def test_only_a_line_its_location_cannot_fill_is_replaced() -> None:
    """Two lines: a short one with nothing cheaper in stock, and one in stock whose
    category has a cheaper item. The in-stock line is no reason to substitute."""
    facts = _Facts(lines=(("HOM-1", 350, 3_900), ("KIT-1", 1, 5_400)), location="wh-east")
    stock = {("HOM-1", "wh-east"): 100, ("KIT-1", "wh-east"): 9, ("KIT-2", "wh-east"): 50}
    prices = {"HOM-1": 3_900, "KIT-1": 5_400, "KIT-2": 5_000}

    assert not reviewer_module._substitutable(facts, stock, prices)
    assert reviewer_module._substitutable(
        _Facts(lines=(("KIT-1", 20, 5_400),), location="wh-east"), stock, prices
    )


def test_a_label_is_judged_an_hour_after_it_fires_on_the_hour_never_past_the_end() -> None:
    end = AT + timedelta(days=1)
    label = Label(ExceptionType.PAYMENT_HOLD, "o-1", AT + timedelta(minutes=10))

    assert review_time(label, end=end) == AT + timedelta(hours=2)
    assert review_time(Label(ExceptionType.PAYMENT_HOLD, "o-1", AT), end=end) == (
        AT + timedelta(hours=1)
    )
    assert review_time(label, end=AT + timedelta(minutes=30)) == AT + timedelta(minutes=30)


def test_the_reviewer_sees_the_order_as_it_stood_when_the_case_was_worked() -> None:
    """A payment hold on a low-risk order, captured two days later by the store: at review
    time the reviewer captures; judged at the end of the window the order is long settled."""
    placed = {
        "time": AT.isoformat(),
        "type": "order.placed",
        "data": {
            "order_ref": "o-1",
            "lines": [{"sku": "TEE-1", "quantity": 1, "unit_price_minor": 1_500}],
        },
    }
    cancelled = {
        "time": (AT + timedelta(days=2)).isoformat(),
        "type": "order.cancelled",
        "data": {"order_ref": "o-1"},
    }
    label = Label(ExceptionType.PAYMENT_HOLD, "o-1", AT + timedelta(minutes=5))
    end = AT + timedelta(days=3)

    (at_review,) = judged_at_review(
        [placed, cancelled],
        [label],
        lambda known, labels, at: reviewer_module.review(known, labels, decide_at=at),
        end=end,
    )
    (at_end,) = reviewer_module.review([placed, cancelled], [label], decide_at=end)

    assert at_review.action == "capture_payment"
    assert at_end.action == NO_ACTION
