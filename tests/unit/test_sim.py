"""The store simulator: reproducible, valid canonical events, and labels that obey the rules.

The labelling rules are re-implemented here from the raw event dicts (grouped by
``subject``), independently of ``orderops.sim.labels``, because the end-to-end test
trusts the labels as ground truth.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orderops.domain.cases import ExceptionType
from orderops.domain.errors import InvalidEvent
from orderops.ingest.envelope import parse_event
from orderops.sim import Label, SimConfig, SimResult, read_events, read_labels, simulate, write_sim

START = datetime(2024, 6, 3, tzinfo=UTC)
ENVELOPE_KEYS = {"specversion", "id", "source", "type", "time", "subject", "data"}
SEEDS = (1, 2, 3, 4, 5)


@pytest.fixture(scope="module")
def default_run() -> SimResult:
    return simulate(SimConfig(start=START))


def _at(value: str) -> datetime:
    return datetime.fromisoformat(value)


@dataclass
class _Order:
    """What the events say about one order; filled from events, not from the simulator."""

    placed: dict[str, Any] | None = None
    statuses: list[tuple[str, str, datetime]] = field(default_factory=list)
    cancelled_at: datetime | None = None
    delivered: list[datetime] = field(default_factory=list)


def _by_subject(events: list[dict[str, Any]]) -> dict[str, _Order]:
    orders: dict[str, _Order] = defaultdict(_Order)
    for event in events:
        subject, data = event["subject"], event["data"]
        if subject is None:
            continue
        order = orders[subject]
        if event["type"] == "order.placed":
            order.placed = data
        elif event["type"] == "order.cancelled":
            order.cancelled_at = _at(event["time"])
        elif event["type"] == "payment.updated":
            order.statuses.append((data["payment_ref"], data["status"], _at(event["time"])))
        elif event["type"] == "shipment.tracking" and data["status"] == "delivered":
            order.delivered.append(_at(data["occurred_at"]))
    return orders


def expected_labels(events: list[dict[str, Any]], end: datetime) -> set[Label]:
    """The labelling rules of the brief, applied to the observed events (a decline is
    labelled once the order is still unpaid and not cancelled 30 minutes after it)."""
    labels: set[Label] = set()
    grace = timedelta(minutes=30)
    for ref, order in _by_subject([e for e in events if _at(e["time"]) <= end]).items():
        latest: dict[str, str] = {}
        declined: datetime | None = None
        for payment_ref, status, at in order.statuses:
            good_before = any(s in ("authorized", "captured") for s in latest.values())
            if status == "failed" and not good_before and declined is None:
                declined = at
            latest[payment_ref] = status
        if declined is not None:
            made_good = [
                at
                for _, status, at in order.statuses
                if status in ("authorized", "captured") and at >= declined
            ]
            settled = [*made_good, *([order.cancelled_at] if order.cancelled_at else [])]
            due = declined + grace
            if due <= end and not any(at <= due for at in settled):
                labels.add(Label(ExceptionType.PAYMENT_FAILED, ref, due))
        if order.placed is None:
            continue
        promised = _at(order.placed["promised_by"])
        paid = any(s in ("authorized", "captured") for s in latest.values())
        on_time = any(at <= promised for at in order.delivered)
        if order.cancelled_at is None and paid and promised < end and not on_time:
            labels.add(Label(ExceptionType.SHIPMENT_LATE, ref, promised))
    return labels


class TestDeterminism:
    def test_same_seed_gives_byte_identical_files(self, tmp_path: Path) -> None:
        first = write_sim(simulate(SimConfig(seed=11, start=START)), tmp_path / "a")
        second = write_sim(simulate(SimConfig(seed=11, start=START)), tmp_path / "b")
        assert [p.read_bytes() for p in first] == [p.read_bytes() for p in second]

    def test_output_does_not_depend_on_the_process_hash_seed(self, tmp_path: Path) -> None:
        # Iterating a set of strings would reorder events between processes.
        digests = []
        for hash_seed in ("1", "2"):
            out = tmp_path / hash_seed
            env = {**os.environ, "PYTHONHASHSEED": hash_seed}
            command = [sys.executable, "-m", "orderops.sim", "--out", str(out), "--seed", "9"]
            subprocess.run([*command, "--days", "0.5"], env=env, check=True, capture_output=True)
            digests.append([(out / name).read_bytes() for name in ("events.jsonl", "labels.jsonl")])
        assert digests[0] == digests[1]

    def test_different_seeds_give_different_stores(self) -> None:
        one = simulate(SimConfig(seed=11, start=START))
        other = simulate(SimConfig(seed=12, start=START))
        assert one.events != other.events

    def test_files_read_back_as_written(self, default_run: SimResult, tmp_path: Path) -> None:
        events_path, labels_path = write_sim(default_run, tmp_path)
        assert read_events(events_path) == default_run.events
        assert read_labels(labels_path) == default_run.labels


class TestEvents:
    def test_every_event_is_a_valid_canonical_event(self, default_run: SimResult) -> None:
        for event in default_run.events:
            assert set(event) == ENVELOPE_KEYS
            parsed = parse_event(event, tenant_id="demo")
            assert parsed.envelope.tenant == "demo"

    def test_events_are_time_sorted_and_none_after_end(self, default_run: SimResult) -> None:
        times = [_at(e["time"]) for e in default_run.events]
        assert times == sorted(times)
        assert max(times) <= default_run.config.end
        assert all(t.utcoffset() == timedelta(0) for t in times)

    def test_history_before_the_window_is_included(self, default_run: SimResult) -> None:
        placed = [_at(e["time"]) for e in default_run.events if e["type"] == "order.placed"]
        assert min(placed) >= default_run.config.history_start
        assert min(placed) < START - timedelta(days=5)
        in_window = [t for t in placed if t >= START]
        assert len(in_window) == default_run.config.orders_per_day
        assert len(placed) == default_run.config.orders_per_day * 7

    def test_orders_follow_the_diurnal_pattern(self, default_run: SimResult) -> None:
        hours = [_at(e["time"]).hour for e in default_run.events if e["type"] == "order.placed"]
        small_hours = sum(1 for h in hours if 6 <= h < 10)  # 2-6 am on the US east coast
        evening = sum(1 for h in hours if h >= 22 or h < 2)  # 6-10 pm
        assert evening > 4 * small_hours

    def test_event_ids_are_unique_per_source(self, default_run: SimResult) -> None:
        keys = [(e["source"], e["id"]) for e in default_run.events]
        assert len(keys) == len(set(keys))

    @pytest.mark.parametrize(
        ("event_type", "source"),
        [
            ("order.placed", "sim://shopify"),
            ("order.cancelled", "sim://shopify"),
            ("customer.upserted", "sim://shopify"),
            ("inventory.level", "sim://shopify"),
            ("payment.updated", "sim://stripe"),
            ("shipment.created", "sim://easypost"),
            ("shipment.tracking", "sim://easypost"),
            ("ticket.updated", "sim://zendesk"),
        ],
    )
    def test_each_type_comes_from_its_system(
        self, default_run: SimResult, event_type: str, source: str
    ) -> None:
        sources = {e["source"] for e in default_run.events if e["type"] == event_type}
        assert sources == {source}

    def test_subject_is_the_order_of_the_data(self, default_run: SimResult) -> None:
        for event in default_run.events:
            ref = event["data"].get("order_ref")
            if ref is not None:
                assert event["subject"] == ref

    @pytest.mark.parametrize(
        ("carrier", "pattern"),
        [
            ("UPS", r"1Z[0-9A-Z]{16}"),
            ("USPS", r"94\d{20}"),
            ("FedEx", r"\d{12}"),
            ("DHL", r"\d{10}"),
        ],
    )
    def test_tracking_numbers_follow_carrier_formats(
        self, default_run: SimResult, carrier: str, pattern: str
    ) -> None:
        numbers = [
            e["data"]["tracking_number"]
            for e in default_run.events
            if e["type"] == "shipment.created" and e["data"]["carrier"] == carrier
        ]
        assert numbers
        assert all(re.fullmatch(pattern, number) for number in numbers)

    def test_payments_are_stripe_intents_in_usd_minor_units(self, default_run: SimResult) -> None:
        totals = {
            e["subject"]: e["data"]["total_minor"]
            for e in default_run.events
            if e["type"] == "order.placed"
        }
        payments = [e["data"] for e in default_run.events if e["type"] == "payment.updated"]
        assert all(p["payment_ref"].startswith("pi_") for p in payments)
        assert all(p["currency"] == "USD" for p in payments)
        assert all(p["amount_minor"] == totals[p["order_ref"]] for p in payments)

    def test_tracking_scans_of_a_parcel_are_in_journey_order(self, default_run: SimResult) -> None:
        scans: dict[str, list[str]] = defaultdict(list)
        for event in default_run.events:
            if event["type"] == "shipment.tracking":
                scans[event["data"]["tracking_number"]].append(event["data"]["status"])
        for statuses in scans.values():
            assert statuses[0] == "label_created"
            if "delivered" in statuses:
                assert statuses[-1] == "delivered"
                assert statuses[-2] == "out_for_delivery"

    def test_wrong_tenant_in_the_envelope_is_refused(self, default_run: SimResult) -> None:
        # The simulator leaves the tenant out so the intake can stamp any caller's tenant.
        event = {**default_run.events[0], "tenant": "someone-else"}
        with pytest.raises(InvalidEvent):
            parse_event(event, tenant_id="demo")


class TestLabels:
    @pytest.mark.parametrize("seed", SEEDS)
    def test_labels_equal_the_rules_recomputed_from_events(self, seed: int) -> None:
        result = simulate(SimConfig(seed=seed, start=START))
        assert set(result.labels) == expected_labels(result.events, result.config.end)
        assert len(result.labels) == len(set(result.labels))

    def test_a_default_run_has_both_kinds_of_label(self, default_run: SimResult) -> None:
        kinds = {label.type for label in default_run.labels}
        assert kinds == {ExceptionType.PAYMENT_FAILED, ExceptionType.SHIPMENT_LATE}
        assert all(label.at <= default_run.config.end for label in default_run.labels)

    def test_without_injection_nothing_is_labelled(self) -> None:
        config = SimConfig(seed=3, start=START, payment_failed_rate=0.0, late_rate=0.0)
        assert simulate(config).labels == []

    @pytest.mark.parametrize("seed", SEEDS)
    def test_on_time_deliveries_keep_a_six_hour_margin(self, seed: int) -> None:
        result = simulate(SimConfig(seed=seed, start=START))
        for order in _by_subject(result.events).values():
            assert order.placed is not None
            promised = _at(order.placed["promised_by"])
            for delivered in order.delivered:
                assert delivered > promised or delivered <= promised - timedelta(hours=6)

    def test_every_late_injection_with_a_past_promise_is_labelled(self) -> None:
        result = simulate(SimConfig(seed=5, start=START, late_rate=1.0, payment_failed_rate=0))
        end = result.config.end
        promises = [
            _at(e["data"]["promised_by"]) for e in result.events if e["type"] == "order.placed"
        ]
        late = [label for label in result.labels if label.type is ExceptionType.SHIPMENT_LATE]
        assert len(late) == sum(1 for promised in promises if promised < end)

    def test_late_window_deliveries_appear_after_their_promise(self) -> None:
        result = simulate(SimConfig(seed=6, start=START, days=4, late_rate=0.3))
        orders = _by_subject(result.events)
        late_refs = {x.order_ref for x in result.labels if x.type is ExceptionType.SHIPMENT_LATE}
        delivered_late = [ref for ref in late_refs if orders[ref].delivered]
        assert delivered_late, "some late parcels should still arrive inside a 4-day window"
        for ref in delivered_late:
            placed = orders[ref].placed
            assert placed is not None
            assert min(orders[ref].delivered) > _at(placed["promised_by"])


class TestPaymentStories:
    def test_recovered_orders_use_a_new_payment_and_failed_ones_are_cancelled(self) -> None:
        result = simulate(SimConfig(seed=8, start=START, payment_failed_rate=0.3))
        orders = _by_subject(result.events)
        failed = [o for o in orders.values() if any(s == "failed" for _, s, _ in o.statuses)]
        recovered = cancelled = 0
        for order in failed:
            failed_refs = {ref for ref, s, _ in order.statuses if s == "failed"}
            good_refs = {ref for ref, s, _ in order.statuses if s in ("authorized", "captured")}
            assert not failed_refs & good_refs
            if good_refs:
                recovered += 1
                assert order.cancelled_at is None
            elif order.cancelled_at is not None:
                cancelled += 1
                assert order.delivered == []
                failed_at = min(at for _, s, at in order.statuses if s == "failed")
                gap = order.cancelled_at - failed_at
                assert timedelta(hours=12) <= gap <= timedelta(hours=36)
        assert recovered > 20
        assert cancelled > 20

    def test_failures_carry_stripe_decline_codes(self, default_run: SimResult) -> None:
        failures = [
            e["data"]
            for e in default_run.events
            if e["type"] == "payment.updated" and e["data"]["status"] == "failed"
        ]
        codes = {"card_declined", "insufficient_funds", "expired_card", "incorrect_cvc"}
        assert failures
        assert all(f["failure_code"] in codes and f["failure_message"] for f in failures)


class TestRates:
    @pytest.mark.parametrize(("rate", "recovery"), [(0.04, 0.5), (0.15, 0.2)])
    def test_payment_failure_rate_is_roughly_respected(self, rate: float, recovery: float) -> None:
        orders = failed = recovered = 0
        for seed in SEEDS:
            config = SimConfig(
                seed=seed, start=START, payment_failed_rate=rate, payment_recovery_share=recovery
            )
            by_order = _by_subject(simulate(config).events)
            for order in by_order.values():
                orders += 1
                statuses = [s for _, s, _ in order.statuses]
                if "failed" in statuses:
                    failed += 1
                    recovered += "authorized" in statuses
        assert 0.7 * rate <= failed / orders <= 1.3 * rate
        assert recovery - 0.15 <= recovered / failed <= recovery + 0.15

    @pytest.mark.parametrize("rate", [0.05, 0.2])
    def test_late_rate_is_roughly_respected_among_due_orders(self, rate: float) -> None:
        due = late = 0
        for seed in SEEDS:
            result = simulate(SimConfig(seed=seed, start=START, late_rate=rate))
            end = result.config.end
            for order in _by_subject(result.events).values():
                assert order.placed is not None
                paid = any(s in ("authorized", "captured") for _, s, _ in order.statuses)
                if paid and _at(order.placed["promised_by"]) < end:
                    due += 1
            late += sum(1 for x in result.labels if x.type is ExceptionType.SHIPMENT_LATE)
        assert 0.6 * rate <= late / due <= 1.4 * rate


class TestConfig:
    def test_end_is_start_plus_days(self) -> None:
        assert SimConfig(start=START, days=2.5).end == START + timedelta(days=2, hours=12)

    def test_a_naive_start_is_refused(self) -> None:
        with pytest.raises(ValueError, match="naive"):
            SimConfig(start=datetime(2024, 6, 3))

    @pytest.mark.parametrize(
        "changes",
        [{"days": 0}, {"late_rate": 1.5}, {"payment_failed_rate": -0.1}, {"tenant": ""}],
    )
    def test_nonsense_settings_are_refused(self, changes: dict[str, Any]) -> None:
        with pytest.raises(ValueError):  # noqa: PT011 - each setting has its own message
            SimConfig(start=START, **changes)


def test_the_module_command_writes_both_files(tmp_path: Path) -> None:
    from orderops.sim.__main__ import main

    code = main(
        [
            "--out",
            str(tmp_path),
            "--seed",
            "4",
            "--start",
            START.isoformat(),
            "--days",
            "0.5",
            "--orders-per-day",
            "40",
        ]
    )
    result = simulate(SimConfig(seed=4, start=START, days=0.5, orders_per_day=40))
    assert code == 0
    assert read_events(tmp_path / "events.jsonl") == result.events
    assert read_labels(tmp_path / "labels.jsonl") == result.labels
