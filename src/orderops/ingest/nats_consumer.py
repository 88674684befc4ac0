"""Consuming canonical events from a NATS JetStream durable pull consumer.

Each message holds one canonical envelope as JSON. A fetched batch is stored through the
ordinary intake in one transaction (inbox rows, or dead letters for what is invalid),
and only after that commit is each message acknowledged:

* accepted or duplicate -> ``ack``: the inbox holds it;
* malformed or invalid -> dead-lettered, then ``term``: redelivering a message that can
  never be read would only loop, and the dead letter keeps it for a replay after a fix;
* a crash before the commit acknowledges nothing, so JetStream redelivers after its ack
  wait; a crash after the commit but before the ack redelivers too, and the inbox's
  (tenant, source, id) dedupe answers "duplicate" with no second effect.

The tenant is the one the consumer is started for (``--tenant``), never a subject token:
a consumer is deployed per tenant with its own subject filter, and a publisher must not
be able to pick the tenant its events land in by choosing a subject.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.errors import TimeoutError as NatsTimeout
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.ingest import safe_json
from orderops.ingest.intake import IntakeResult, Outcome, accept_items, dead_letter

NATS_SOURCE = "nats"


@dataclass(frozen=True, kw_only=True)
class ConsumeOptions:
    servers: str = "nats://127.0.0.1:4222"
    stream: str = "ORDEROPS"
    subject: str = "orderops.events.>"
    durable: str = "orderops"
    batch: int = 50
    fetch_timeout: float = 1.0
    ack_wait: float = 30.0
    max_messages: int | None = None
    """Stop after this many messages (tests, one-shot drains); None runs on."""
    idle_timeout: float | None = None
    """Stop after this many seconds without a message; None runs on."""


@dataclass
class ConsumeReport:
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    dead_letter_ids: list[str] = field(default_factory=list)


def run_consumer(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    clock: Clock,
    options: ConsumeOptions,
    stop: asyncio.Event | None = None,
) -> ConsumeReport:
    """Blocking entry point for the CLI."""
    return asyncio.run(
        consume(sessions, tenant_id=tenant_id, clock=clock, options=options, stop=stop)
    )


async def consume(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    clock: Clock,
    options: ConsumeOptions,
    stop: asyncio.Event | None = None,
) -> ConsumeReport:
    """Fetch, store, then acknowledge, until stopped, idle or ``max_messages`` are done."""
    report = ConsumeReport()
    connection = await nats.connect(options.servers, connect_timeout=3, max_reconnect_attempts=3)
    try:
        jetstream = connection.jetstream()
        subscription = await jetstream.pull_subscribe(
            options.subject,
            durable=options.durable,
            stream=options.stream,
            config=ConsumerConfig(ack_policy=AckPolicy.EXPLICIT, ack_wait=options.ack_wait),
        )
        last_message = time.monotonic()
        while not (stop and stop.is_set()) and not _quota_reached(report, options):
            want = options.batch
            if options.max_messages is not None:
                want = min(want, options.max_messages - report.received)
            try:
                messages = await subscription.fetch(want, timeout=options.fetch_timeout)
            except (NatsTimeout, TimeoutError):  # nats-py raises either, by code path
                messages = []
            if not messages:
                idle = time.monotonic() - last_message
                if options.idle_timeout is not None and idle >= options.idle_timeout:
                    break
                continue
            last_message = time.monotonic()
            await _handle(sessions, tenant_id, clock, options, messages, report)
        await connection.flush()
    finally:
        await connection.close()
    return report


def _quota_reached(report: ConsumeReport, options: ConsumeOptions) -> bool:
    return options.max_messages is not None and report.received >= options.max_messages


async def _handle(
    sessions: sessionmaker[Session],
    tenant_id: str,
    clock: Clock,
    options: ConsumeOptions,
    messages: list[Any],
    report: ConsumeReport,
) -> None:
    report.received += len(messages)
    channel = f"nats:{options.stream}"[:64]
    decoded: list[tuple[Any, Any]] = []
    for message in messages:
        try:
            decoded.append((message, safe_json.loads(message.data)))
        except safe_json.UnsafeJson as exc:
            letter = await asyncio.to_thread(
                dead_letter,
                sessions,
                tenant_id=tenant_id,
                channel=channel,
                body=message.data,
                content_type="application/json",
                code=exc.reason_code,
                reason=f"message on {message.subject} is not JSON we can hold: {exc.message}",
                clock=clock,
                source=NATS_SOURCE,
            )
            report.dead_lettered += 1
            report.dead_letter_ids.append(letter)
            await message.term()
    if not decoded:
        return
    results: list[IntakeResult] = await asyncio.to_thread(
        accept_items,
        sessions,
        tenant_id=tenant_id,
        items=[item for _, item in decoded],
        channel=channel,
        clock=clock,
    )
    for (message, _), result in zip(decoded, results, strict=True):
        if result.outcome is Outcome.REJECTED:
            report.dead_lettered += 1
            report.dead_letter_ids += [result.dead_letter_id] if result.dead_letter_id else []
            await message.term()
        else:
            report.accepted += result.outcome is Outcome.ACCEPTED
            report.duplicates += result.outcome is Outcome.DUPLICATE
            await message.ack_sync()
