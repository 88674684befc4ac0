"""One worker delivers a claimed batch side by side and records it in groups, keeping what a
one-at-a-time worker guaranteed: effects about one order go out in claim order, and a
message whose record fails stays leased until its next attempt finds its effect.

The vendor here is a stand-in operation with a ledger of writes by key, so a test can hold
a write until another one has started; the real vendors are test_outbox_delivery.py's.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, select

from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.writeback import WritebackAttempt
from orderops.storage.uow import UnitOfWork
from orderops.workflow.writeback_worker import (
    WritebackRuntime,
    run_writeback_once,
    settle_message,
    settle_messages,
)
from orderops.writeback.connections import ConnectorPool, WritebackSettings
from orderops.writeback.outbox import enqueue
from orderops.writeback.policy import DeliveryPolicy
from orderops.writeback.registry import Call, Connectors, Operation, Precheck, Registry, Result
from orderops.writeback.results import each

WAIT = 20.0
"""Seconds a held write waits for its signal: only reached when the behaviour is wrong."""


class Vendor:
    """Writes by idempotency key, an event list in the order things happened, and a hook
    run inside each write before it lands."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.events: list[str] = []
        self.writes: Counter[str] = Counter()
        self.before_write: Callable[[str], None] = lambda _key: None

    def note(self, event: str) -> None:
        with self.lock:
            self.events.append(event)

    def operation(self) -> Operation:
        def precheck(_connectors: Connectors, call: Call) -> Precheck:
            with self.lock:
                written = self.writes[call.idempotency_key] > 0
            return Precheck(earlier_result={"key": call.idempotency_key} if written else None)

        def execute(_connectors: Connectors, call: Call) -> Result:
            self.note(f"start {call.idempotency_key}")
            self.before_write(call.idempotency_key)
            with self.lock:
                self.writes[call.idempotency_key] += 1
            self.note(f"end {call.idempotency_key}")
            return {"key": call.idempotency_key}

        def confirm(_connectors: Connectors, call: Call, _result: Result) -> bool:
            with self.lock:
                return self.writes[call.idempotency_key] > 0

        return Operation(
            system="stripe", name="probe", execute=execute, confirm=confirm, precheck=precheck
        )


@pytest.fixture
def vendor() -> Vendor:
    return Vendor()


def runtime(clock: FixedClock, vendor: Vendor, **overrides: object) -> WritebackRuntime:
    settings = WritebackSettings(_env_file=None, tenant="acme", stripe_url="http://127.0.0.1:9")
    fields: dict[str, object] = {
        "connectors": ConnectorPool(settings, clock=clock),
        "registry": Registry([vendor.operation()]),
        "policy": DeliveryPolicy(batch_size=10, base_delay=timedelta(seconds=1)),
        "concurrency": 4,
        "rand": lambda: 0.5,
        **overrides,
    }
    return WritebackRuntime(**fields)  # type: ignore[arg-type]


def queue(app: App, at: datetime, key: str, *, order_ref: str | None = None) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        message_id = enqueue(
            uow,
            system="stripe",
            operation="probe",
            idempotency_key=key,
            payload={},
            now=at,
            order_ref=order_ref,
        )
        uow.commit()
    return message_id


def statuses(app: App) -> dict[str, str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.execute(select(OutboxMessage.idempotency_key, OutboxMessage.status))
        return {key: status for key, status in rows}


def test_a_worker_keeps_a_batch_of_deliveries_in_flight_together(
    app: App, clock: FixedClock, vendor: Vendor
) -> None:
    for key in ("a", "b", "c"):
        queue(app, clock.now(), key)
    all_in_flight = threading.Barrier(3, timeout=WAIT)  # breaks unless three writes overlap
    vendor.before_write = lambda _key: all_in_flight.wait()
    worker = runtime(clock, vendor, concurrency=3)

    handled = run_writeback_once(app, worker_id="w-1", runtime=worker)
    worker.close()

    assert handled == 3
    assert statuses(app) == {"a": "delivered", "b": "delivered", "c": "delivered"}
    assert vendor.writes == Counter({"a": 1, "b": 1, "c": 1})


def test_effects_about_one_order_go_out_one_after_the_other_in_claim_order(
    app: App, clock: FixedClock, vendor: Vendor
) -> None:
    start = clock.now()
    queue(app, start, "first", order_ref="o-1")
    queue(app, start + timedelta(seconds=1), "second", order_ref="o-1")
    queue(app, start + timedelta(seconds=2), "elsewhere", order_ref="o-2")
    clock.advance(timedelta(seconds=3))
    other_order_started = threading.Event()

    def hold(key: str) -> None:
        if key == "elsewhere":
            other_order_started.set()
        if key == "first":  # held until another order's write is under way beside it
            assert other_order_started.wait(WAIT)

    vendor.before_write = hold
    worker = runtime(clock, vendor)

    assert run_writeback_once(app, worker_id="w-1", runtime=worker) == 3
    worker.close()

    events = vendor.events
    assert events.index("start elsewhere") < events.index("end first")
    assert events.index("end first") < events.index("start second")
    assert vendor.writes == Counter({"first": 1, "second": 1, "elsewhere": 1})


def test_a_message_whose_record_fails_stays_leased_and_its_next_attempt_finds_the_effect(
    app: App, clock: FixedClock, vendor: Vendor
) -> None:
    stuck = queue(app, clock.now(), "stuck")
    queue(app, clock.now(), "fine")
    failing = {stuck}

    def on_settled(uow: UnitOfWork, message: OutboxMessage, now: datetime) -> None:
        if message.id in failing:
            raise RuntimeError("the settled hook broke")
        settle_message(uow, message, now)

    worker = runtime(clock, vendor, on_settled=each(on_settled))

    with pytest.raises(RuntimeError, match="the settled hook broke"):
        run_writeback_once(app, worker_id="w-1", runtime=worker)
    assert statuses(app) == {"stuck": "in_flight", "fine": "delivered"}

    failing.clear()
    assert run_writeback_once(app, worker_id="w-1", runtime=worker) == 0  # lease still held
    clock.advance(worker.policy.lease)
    assert run_writeback_once(app, worker_id="w-1", runtime=worker) == 1
    worker.close()

    assert statuses(app) == {"stuck": "delivered", "fine": "delivered"}
    assert vendor.writes == Counter({"stuck": 1, "fine": 1})
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        message = uow.session.get(OutboxMessage, stuck)
        assert message is not None
        assert (message.result or {}).get("found_earlier") is True
        outcomes = list(
            uow.session.scalars(
                select(WritebackAttempt.outcome)
                .where(WritebackAttempt.message_id == stuck)
                .order_by(WritebackAttempt.number)
            )
        )
    assert outcomes == ["abandoned", "delivered"]


def test_a_batch_whose_deliveries_end_together_is_recorded_in_one_transaction(
    app: App, clock: FixedClock, vendor: Vendor
) -> None:
    for key in ("a", "b", "c", "d"):
        queue(app, clock.now(), key)
    staggered = {"a": 0.0, "b": 0.01, "c": 0.02, "d": 0.03}  # well within group_wait
    vendor.before_write = lambda key: time.sleep(staggered[key])
    closing: list[str] = []  # each recording closes its attempts with one bulk UPDATE

    def seen(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        if statement.startswith("UPDATE writeback_attempts"):
            closing.append(statement)

    event.listen(app.engine, "before_cursor_execute", seen)
    worker = runtime(clock, vendor)
    try:
        assert run_writeback_once(app, worker_id="w-1", runtime=worker) == 4
    finally:
        event.remove(app.engine, "before_cursor_execute", seen)
        worker.close()

    assert len(closing) == 1
    assert statuses(app) == {"a": "delivered", "b": "delivered", "c": "delivered", "d": "delivered"}


def test_a_slow_delivery_holds_the_others_records_back_no_longer_than_the_group_wait(
    app: App, clock: FixedClock, vendor: Vendor
) -> None:
    for key in ("fast-1", "fast-2", "slow"):
        queue(app, clock.now(), key)
    slow_may_finish = threading.Event()
    recorded_before_slow: list[dict[str, str]] = []

    def hold(key: str) -> None:
        if key == "slow":  # finishes only once the fast ones are recorded (or WAIT passes)
            slow_may_finish.wait(WAIT)
            deadline = time.monotonic() + WAIT
            seen = statuses(app)  # the hook runs just before its group commits
            while seen["fast-2"] != "delivered" and time.monotonic() < deadline:
                time.sleep(0.01)
                seen = statuses(app)
            recorded_before_slow.append(seen)

    fast_recorded: set[str] = set()

    def settled(uow: UnitOfWork, messages: Sequence[OutboxMessage], now: datetime) -> None:
        settle_messages(uow, messages, now)
        # On a busy machine the two fast ones may land in two groups: wait for both.
        fast_recorded.update(m.idempotency_key for m in messages if m.idempotency_key != "slow")
        if fast_recorded == {"fast-1", "fast-2"}:
            slow_may_finish.set()

    vendor.before_write = hold
    worker = runtime(clock, vendor, group_wait=0.05, on_settled=settled)

    assert run_writeback_once(app, worker_id="w-1", runtime=worker) == 3
    worker.close()

    assert recorded_before_slow == [
        {"fast-1": "delivered", "fast-2": "delivered", "slow": "in_flight"}
    ]
    assert statuses(app) == {"fast-1": "delivered", "fast-2": "delivered", "slow": "delivered"}
