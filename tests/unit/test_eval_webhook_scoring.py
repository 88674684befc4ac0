"""Scoring the webhook evaluation: every counting rule on hand-made labels and cases, the
link-latency count, and reading a recorded store (bad, repeated and out-of-order lines)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orderops.evaluation.history import HistoryError, Label, read_deliveries, read_labels
from orderops.evaluation.scoring import (
    EarlyRecord,
    OpenedCase,
    link_latency,
    passes_between,
    score_cases,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def h(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def label(kind: str, order: str, at: float) -> Label:
    return Label(type=kind, order_ref=order, at=h(at))


def case(kind: str, order: str, opened: float, status: str = "new") -> OpenedCase:
    return OpenedCase(exception_type=kind, order_ref=order, opened_at=h(opened), status=status)


# --- counting rules ---------------------------------------------------------------------


def test_a_case_on_a_labelled_order_of_its_type_is_a_hit_with_its_lead_time() -> None:
    scores = score_cases([label("payment_failed", "A", 2.0)], [case("payment_failed", "A", 1.5)])

    s = scores["payment_failed"]
    assert (s.labels, s.cases, s.true_positives, s.false_positives, s.false_negatives) == (
        1, 1, 1, 0, 0
    )  # fmt: skip
    assert s.leads_hours == (0.5,)  # seen half an hour before the rule's moment
    assert (s.precision, s.recall, s.meets_aims) == (1.0, 1.0, True)


def test_a_case_opened_after_the_label_has_a_negative_lead() -> None:
    scores = score_cases([label("stuck_order", "A", 1.0)], [case("stuck_order", "A", 1.25)])

    assert scores["stuck_order"].median_lead_hours == -0.25


def test_an_auto_resolved_case_with_no_label_is_a_false_positive() -> None:
    scores = score_cases(
        [label("payment_failed", "A", 1.0)],
        [case("payment_failed", "A", 1.0), case("payment_failed", "B", 1.0, status="resolved")],
    )

    s = scores["payment_failed"]
    assert (s.cases, s.true_positives, s.false_positives) == (2, 1, 1)
    assert s.false_positives_resolved == 1
    assert s.precision == 0.5
    assert not s.meets_aims


def test_a_resolved_case_that_matches_a_label_is_still_a_hit() -> None:
    scores = score_cases(
        [label("fraud_review", "A", 1.0)], [case("fraud_review", "A", 1.0, status="resolved")]
    )

    s = scores["fraud_review"]
    assert (s.true_positives, s.false_positives, s.false_positives_resolved) == (1, 0, 0)


def test_a_label_with_no_case_is_a_false_negative_and_precision_is_undefined() -> None:
    scores = score_cases([label("customer_chasing", "A", 1.0)], [])

    s = scores["customer_chasing"]
    assert (s.false_negatives, s.recall, s.precision) == (1, 0.0, None)
    assert not s.recall_met
    assert s.precision_met  # nothing raised, nothing wrongly raised


def test_a_case_with_no_label_of_any_type_makes_its_type_appear_with_undefined_recall() -> None:
    scores = score_cases([], [case("address_problem", "A", 1.0)])

    s = scores["address_problem"]
    assert (s.labels, s.false_positives, s.recall, s.precision) == (0, 1, None, 0.0)
    assert s.recall_met
    assert not s.precision_met


def test_cases_and_labels_meet_on_type_and_order_together() -> None:
    scores = score_cases(
        [label("payment_failed", "A", 1.0), label("payment_hold", "B", 1.0)],
        [case("payment_hold", "A", 1.0), case("payment_failed", "B", 1.0)],
    )

    for kind in ("payment_failed", "payment_hold"):
        s = scores[kind]
        assert (s.true_positives, s.false_positives, s.false_negatives) == (0, 1, 1), kind


def test_one_pair_is_one_case_however_many_rows_and_the_earliest_opening_counts() -> None:
    scores = score_cases(
        [label("payment_failed", "A", 2.0)],
        [
            case("payment_failed", "A", 1.75, status="resolved"),
            case("payment_failed", "A", 1.0, status="reopened"),
        ],
    )

    s = scores["payment_failed"]
    assert (s.cases, s.true_positives, s.leads_hours) == (1, 1, (1.0,))


def test_repeated_labels_for_one_pair_count_once_from_the_earliest() -> None:
    scores = score_cases(
        [label("customer_chasing", "A", 3.0), label("customer_chasing", "A", 2.0)],
        [case("customer_chasing", "A", 2.5)],
    )

    s = scores["customer_chasing"]
    assert (s.labels, s.true_positives, s.leads_hours) == (1, 1, (-0.5,))


def test_median_lead_is_over_hits_only() -> None:
    labels = [label("shipment_late", r, 2.0) for r in "ABC"]
    cases = [
        case("shipment_late", r, opened) for r, opened in zip("ABCE", (1, 2, 4, 0), strict=True)
    ]

    scores = score_cases([*labels, label("shipment_late", "D", 9.0)], cases)

    s = scores["shipment_late"]
    assert s.leads_hours == (-2.0, 0.0, 1.0)
    assert s.median_lead_hours == 0.0
    assert (s.precision, s.recall) == (0.75, 0.75)


def test_the_aims_are_met_at_exactly_95_percent() -> None:
    labels = [label("stuck_order", str(i), 1.0) for i in range(20)]
    cases = [case("stuck_order", str(i), 1.0) for i in range(19)] + [case("stuck_order", "x", 1)]

    s = score_cases(labels, cases)["stuck_order"]

    assert (s.precision, s.recall, s.meets_aims) == (0.95, 0.95, True)


def test_the_json_row_carries_figures_and_aims() -> None:
    s = score_cases(
        [label("payment_failed", "A", 1.0)], [case("payment_failed", "B", 1, "resolved")]
    )

    row = s["payment_failed"].to_json()

    assert row == {
        "type": "payment_failed", "labels": 1, "cases": 1, "tp": 0, "fp": 1, "fn": 1,
        "fp_auto_resolved": 1, "precision": 0.0, "recall": 0.0, "median_lead_hours": None,
        "aims": {"precision": 0.95, "recall": 0.95}, "meets_aims": False,
    }  # fmt: skip


# --- passes between an order's arrival and the link of a record that came first ------------

PASSES = [h(q / 4) for q in range(1, 9)]  # 09:15 .. 11:00


def test_a_link_made_by_the_request_that_brought_the_order_took_no_pass() -> None:
    assert passes_between(PASSES, h(0.3), h(0.3)) == 0


def test_a_link_made_by_the_next_pass_took_one() -> None:
    assert passes_between(PASSES, h(0.3), h(0.5)) == 1


def test_link_latency_counts_records_within_one_pass_and_the_worst() -> None:
    records = [
        EarlyRecord("payment:stripe:pi_1", "A", order_arrived_at=h(0.3), linked_at=h(0.3)),
        EarlyRecord("ticket:zendesk:1", "B", order_arrived_at=h(0.3), linked_at=h(0.5)),
        EarlyRecord("shipment:easypost:2", "C", order_arrived_at=h(0.1), linked_at=h(1.0)),
    ]

    latency = link_latency(records, PASSES)

    assert (latency.records, latency.within_aim, latency.max_passes) == (3, 2, 4)
    assert not latency.meets_aim
    assert latency.to_json()["linked_within_one_pass"] == 2


def test_no_early_record_meets_the_link_aim_vacuously() -> None:
    latency = link_latency([], PASSES)

    assert (latency.records, latency.max_passes, latency.meets_aim) == (0, None, True)


# --- reading a recorded store -------------------------------------------------------------


def write_lines(path: Path, rows: list[Any]) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def delivery(seq: int, minutes: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "seq": seq,
        "deliver_at": (T0 + timedelta(minutes=minutes)).isoformat(),
        "provider": "stripe",
        "headers": {},
        "body": {"id": f"evt_{seq}"},
        "redelivery_of": None,
    }
    row.update(overrides)
    return row


def test_deliveries_out_of_time_order_are_put_back_and_counted(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.jsonl", [delivery(1, 0), delivery(3, 9), delivery(2, 5)])

    deliveries, reordered = read_deliveries(path)

    assert [d.seq for d in deliveries] == [1, 2, 3]
    assert reordered == 1


def test_deliveries_at_the_same_moment_keep_seq_order(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.jsonl", [delivery(2, 0), delivery(1, 0)])

    deliveries, _ = read_deliveries(path)

    assert [d.seq for d in deliveries] == [1, 2]


def test_every_bad_delivery_line_is_named_and_nothing_is_returned(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "d.jsonl",
        [
            delivery(1, 0),
            "{broken",
            delivery(1, 1),
            delivery(3, 2, provider="paypal"),
            delivery(4, 3, deliver_at="2026-03-02T09:00:00"),
            delivery(5, 4, headers={"Stripe-Signature": "t=1,v1=00"}),
            {k: v for k, v in delivery(6, 5).items() if k != "body"},
            delivery(True, 6),
            [1, 2],
        ],
    )

    with pytest.raises(HistoryError) as error:
        read_deliveries(path)

    problems = error.value.problems
    assert [p.split(":")[0] for p in problems] == [f"line {n}" for n in range(2, 10)]
    assert "seq 1 repeats line 1" in problems[1]
    assert "'paypal'" in problems[2]
    assert "no time zone" in problems[3]
    assert "signatures are made when posting" in problems[4]
    assert "body is missing" in problems[5]
    assert "seq must be an integer" in problems[6]


def test_an_empty_line_is_not_a_delivery(tmp_path: Path) -> None:
    path = write_lines(tmp_path / "d.jsonl", [delivery(1, 0), "", delivery(2, 1)])

    deliveries, _ = read_deliveries(path)

    assert len(deliveries) == 2


def test_a_file_with_no_delivery_is_refused(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="no deliveries"):
        read_deliveries(write_lines(tmp_path / "d.jsonl", ["", "  "]))


def test_a_missing_file_is_an_error_naming_it(tmp_path: Path) -> None:
    with pytest.raises(HistoryError, match="missing"):
        read_labels(tmp_path / "labels.jsonl")


def test_repeated_labels_merge_into_the_earliest_and_are_counted(tmp_path: Path) -> None:
    rows = [
        {"type": "customer_chasing", "order_ref": "A", "at": h(3).isoformat()},
        {"type": "customer_chasing", "order_ref": "A", "at": h(2).isoformat()},
        {"type": "customer_chasing", "order_ref": "B", "at": h(1).isoformat()},
    ]

    labels, merged = read_labels(write_lines(tmp_path / "l.jsonl", rows))

    assert [(x.order_ref, x.at) for x in labels] == [("B", h(1)), ("A", h(2))]
    assert merged == 1


def test_bad_labels_are_named_by_line(tmp_path: Path) -> None:
    rows = [
        {"type": "stuck_order", "order_ref": 5000, "at": h(1).isoformat()},
        {"type": "", "order_ref": "A", "at": h(1).isoformat()},
        {"type": "stuck_order", "order_ref": "A", "at": "yesterday"},
    ]

    with pytest.raises(HistoryError) as error:
        read_labels(write_lines(tmp_path / "l.jsonl", rows))

    assert [p.split(":")[0] for p in error.value.problems] == ["line 1", "line 2", "line 3"]
    assert "order_ref must be a non-empty string" in error.value.problems[0]
