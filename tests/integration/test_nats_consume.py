"""The JetStream consumer: store, then ack; dead-letter and term what cannot be read.

Runs against the NATS server at ORDEROPS_TEST_NATS_URL (default nats://127.0.0.1:4222,
JetStream on). Each test makes its own uniquely named stream and deletes it after. If
the server is unreachable the tests skip locally with the reason, and fail in CI.
"""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import nats
import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from builders.events import order_placed, payment
from builders.worker import work
from orderops.bootstrap import App
from orderops.commands.imports import register
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import accept_items
from orderops.ingest.nats_consumer import ConsumeOptions, ConsumeReport, consume
from orderops.storage.tables import DeadLetter, InboxEvent, Order
from orderops.storage.uow import UnitOfWork

NATS_URL = os.environ.get("ORDEROPS_TEST_NATS_URL", "nats://127.0.0.1:4222")
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


async def _probe() -> None:
    connection = await nats.connect(NATS_URL, connect_timeout=2, max_reconnect_attempts=0)
    try:
        await connection.jetstream().account_info()
    finally:
        await connection.close()


@dataclass(frozen=True)
class Stream:
    name: str
    subject: str

    def options(self, **overrides: Any) -> ConsumeOptions:
        values: dict[str, Any] = {
            "servers": NATS_URL,
            "stream": self.name,
            "subject": f"{self.subject}.>",
            "durable": "orderops-test",
            "fetch_timeout": 0.3,
            "idle_timeout": 0.6,
        }
        return ConsumeOptions(**(values | overrides))


@pytest.fixture
def stream() -> Iterator[Stream]:
    try:
        asyncio.run(_probe())
    except Exception as exc:  # noqa: BLE001 - any failure to reach NATS is the same answer
        problem = f"NATS JetStream at {NATS_URL} unreachable: {exc!r}"
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    token = uuid.uuid4().hex[:10]
    made = Stream(name=f"ORDEROPS_TEST_{token}", subject=f"test_{token}.events")

    async def create() -> None:
        connection = await nats.connect(NATS_URL)
        await connection.jetstream().add_stream(name=made.name, subjects=[f"{made.subject}.>"])
        await connection.close()

    async def delete() -> None:
        connection = await nats.connect(NATS_URL)
        await connection.jetstream().delete_stream(made.name)
        await connection.close()

    asyncio.run(create())
    yield made
    asyncio.run(delete())


def publish(stream: Stream, *bodies: bytes) -> None:
    async def send() -> None:
        connection = await nats.connect(NATS_URL)
        jetstream = connection.jetstream()
        for body in bodies:
            await jetstream.publish(f"{stream.subject}.acme", body)
        await connection.close()

    asyncio.run(send())


def consumer_state(stream: Stream, durable: str = "orderops-test") -> tuple[int, int]:
    async def read() -> tuple[int, int]:
        connection = await nats.connect(NATS_URL)
        info = await connection.jetstream().consumer_info(stream.name, durable)
        await connection.close()
        return info.num_ack_pending, info.num_pending

    return asyncio.run(read())


def run(app: App, clock: FixedClock, options: ConsumeOptions) -> ConsumeReport:
    return asyncio.run(consume(app.sessions, tenant_id="acme", clock=clock, options=options))


def count(app: App, model: Any) -> int:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        query = select(func.count()).select_from(model).where(model.tenant_id == "acme")
        return int(uow.session.scalar(query) or 0)


def encode(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode()


def test_good_duplicate_and_malformed_messages_are_stored_once_and_all_acked(
    app: App, clock: FixedClock, stream: Stream
) -> None:
    placed = clock.now() - timedelta(hours=2)
    order = order_placed("o-n1", at=placed)
    paid = payment("o-n1", status="captured", at=placed, payment_ref="pi_n1")
    invalid = {"id": "evt-bad", "source": "shop", "type": "order.placed", "time": "soon"}
    publish(stream, encode(order), encode(paid), encode(order), b"{not json", encode(invalid))

    report = run(app, clock, stream.options())

    assert (report.received, report.accepted, report.duplicates) == (5, 2, 1)
    assert report.dead_lettered == 2
    assert count(app, InboxEvent) == 2
    work(app)  # accepting stores; the worker makes the orders
    assert count(app, Order) == 1
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        codes = sorted(uow.session.scalars(select(DeadLetter.reason_code)))
        channels = set(uow.session.scalars(select(DeadLetter.channel)))
    assert codes == ["invalid-event", "malformed_json"]
    assert channels == {f"nats:{stream.name}"}
    assert consumer_state(stream) == (0, 0)


def test_hostile_json_on_the_stream_is_dead_lettered_with_its_reason_and_acked(
    app: App, clock: FixedClock, stream: Stream
) -> None:
    deep = b"[" * 5000 + b"]" * 5000
    long_number = b'{"id": ' + b"9" * 5000 + b"}"
    nul = b'{"id": "a\\u0000b"}'
    publish(stream, deep, long_number, nul)

    report = run(app, clock, stream.options())

    assert (report.received, report.accepted, report.dead_lettered) == (3, 0, 3)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        codes = sorted(uow.session.scalars(select(DeadLetter.reason_code)))
    assert codes == ["json_nul_character", "json_number_too_long", "json_too_deep"]
    assert consumer_state(stream) == (0, 0)


def test_max_messages_stops_early_and_the_durable_resumes_where_it_stopped(
    app: App, clock: FixedClock, stream: Stream
) -> None:
    events = [order_placed(f"o-m{i}", at=clock.now() - timedelta(hours=1)) for i in range(5)]
    publish(stream, *(encode(e) for e in events))

    first = run(app, clock, stream.options(max_messages=2, batch=10))
    assert first.received == 2
    assert consumer_state(stream) == (0, 3)

    rest = run(app, clock, stream.options())
    assert rest.received == 3
    work(app)  # accepting stores; the worker makes the orders
    assert count(app, Order) == 5
    assert consumer_state(stream) == (0, 0)


def test_a_message_committed_before_a_crash_is_redelivered_harmlessly(
    app: App, clock: FixedClock, stream: Stream
) -> None:
    event = order_placed("o-crash", at=clock.now() - timedelta(hours=1))
    # The crashed consumer had committed the event but never acked the message.
    accept_items(app.sessions, tenant_id="acme", items=[event], channel="nats", clock=clock)
    publish(stream, encode(event))

    report = run(app, clock, stream.options())

    assert (report.accepted, report.duplicates) == (0, 1)
    assert count(app, InboxEvent) == 1
    assert consumer_state(stream) == (0, 0)


def test_a_message_fetched_but_never_acked_is_delivered_again(
    app: App, clock: FixedClock, stream: Stream
) -> None:
    event = order_placed("o-lost", at=clock.now() - timedelta(hours=1))
    publish(stream, encode(event))
    options = stream.options(ack_wait=1.0)

    async def crash_before_commit() -> int:
        connection = await nats.connect(NATS_URL)
        subscription = await connection.jetstream().pull_subscribe(
            options.subject, durable=options.durable, stream=options.stream
        )
        messages = await subscription.fetch(1, timeout=2)
        await connection.close()
        return len(messages)

    # The durable is made by the consumer first, with a short ack wait.
    assert run(app, clock, stream.options(ack_wait=1.0, max_messages=0)).received == 0
    assert asyncio.run(crash_before_commit()) == 1
    assert count(app, InboxEvent) == 0

    report = run(app, clock, stream.options(ack_wait=1.0, idle_timeout=3.0))

    assert report.accepted == 1
    work(app)  # accepting stores; the worker makes the orders
    assert count(app, Order) == 1
    assert consumer_state(stream) == (0, 0)


def test_the_consume_command_drains_the_stream_for_its_tenant(
    app: App, clock: FixedClock, stream: Stream
) -> None:
    publish(stream, encode(order_placed("o-cli", at=clock.now() - timedelta(hours=1))))
    cli = typer.Typer()
    register(cli, make_app=lambda: app)
    args = ["consume", "--tenant", "acme", "--stream", stream.name]
    args += ["--subject", f"{stream.subject}.>", "--durable", "orderops-test"]
    args += ["--servers", NATS_URL, "--idle-timeout", "1"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "received 1, accepted 1" in result.output
    work(app)  # accepting stores; the worker makes the orders
    assert count(app, Order) == 1
    assert consumer_state(stream) == (0, 0)
