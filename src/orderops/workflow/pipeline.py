"""Processing stored inbox events: resolve, project, detect, open or resolve cases.

Each event is first resolved (``resolve/linker.py``): its references become canonical
(the order a charge, a checkout token or a ticket's "#1538" names), or, when what it
names has not arrived yet, its row is deferred with the aliases it waits for and goes
again, in this same drain, when an event registers one of them (``resolve/waits.py``).

Events are processed in chunks, one transaction per chunk and a savepoint per event, and
each event's orders are judged right after it, on the state it leaves: an exception that
opens and clears within one chunk (an address fixed hours later, in a backfill) is still
seen, and the same events give the same cases however they were chunked. A failing event
rolls back alone and stays in the inbox (pending, then failed after
``MAX_ATTEMPTS``) with its error, so nothing is lost and the worker retries it, while
the chunk's good events commit together (one commit instead of one per event). A failed
row becomes a dead letter in the same transaction, counted on /metrics, for
``orderops deadletters replay`` (workflow/processing_failures.py).

Per-event work is made cheap rather than skipped. What a chunk's events will read is
loaded at its start in a few set-based queries (``resolve/prefetch.py``) and kept with
the chunk's session (``storage/repositories/loaded.py``): resolve, project and judge find
their orders, records, cases, aliases and the policy there instead of asking for each,
an event's writes are what the next event reads, and a failing event's savepoint
rollback makes the chunk forget what it kept. The chunk's audit records are chained in
one append before it commits (``storage/repositories/chunk_audit.py``) and its applied
rows are stamped processed in one statement.

A transient database error (deadlock, serialization failure, lock timeout, SQLite busy,
a dropped connection: storage/transient.py) says nothing about the event, so it spends
no attempt: the whole chunk is rolled back and run again after a short backoff, and if
the database stays busy the chunk's rows are left pending, as they were, for the next
pass.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker
from tenacity import (
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from orderops.cases.cases import CaseEvent
from orderops.cases.sla import wake_on_event
from orderops.domain.cases import CaseStatus, is_open
from orderops.domain.clock import Clock
from orderops.ingest.envelope import CanonicalEvent, parse_event
from orderops.resolve.linker import resolve, settle
from orderops.resolve.prefetch import prefetch
from orderops.resolve.projector import project
from orderops.resolve.waits import DEFERRED, defer, release
from orderops.storage.repositories.chunk_audit import chunk_audit
from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.repositories.loaded import LoadedRows, remember_rows
from orderops.storage.tables import CaseTimelineEntry, InboxEvent, Order
from orderops.storage.transient import transient_kind
from orderops.storage.uow import UnitOfWork
from orderops.telemetry import steps
from orderops.telemetry.metrics import METRICS
from orderops.workflow.detection import evaluate_order
from orderops.workflow.notifications import notify_opened
from orderops.workflow.processing_failures import FailureClass, dead_letter_row, failure_class
from orderops.workflow.processing_metrics import PROCESSING_METRICS
from orderops.workflow.shadow_judge import judge_in_shadow, running_shadow

__all__ = ["DEFERRED", "MAX_ATTEMPTS", "process_event", "process_many", "process_pending"]

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 3
CHUNK = 100
CHUNK_SECONDS = 0.5
"""A chunk commits once it has run this long, leaving the rest of its rows for the next:
its transaction is the writer on SQLite, and a reviewer's click waits for it to end (in
the demo, chunks of 100 events held the writer for seconds at a time)."""
TRANSIENT_TRIES = 5
"""Runs of a chunk before a busy database is left for the next pass."""
TRANSIENT_BACKOFF_SECONDS = 0.05
"""First wait after a transient error; it doubles (with jitter) up to a second."""


def process_event(
    sessions: sessionmaker[Session], *, tenant_id: str, inbox_id: str, clock: Clock
) -> list[CaseEvent]:
    return process_many(sessions, tenant_id=tenant_id, inbox_ids=[inbox_id], clock=clock)


def process_many(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    inbox_ids: Iterable[str],
    clock: Clock,
    chunk: int = CHUNK,
) -> list[CaseEvent]:
    """Process the given inbox rows, after every pending row that happened before them.

    The inbox is applied as a log in replay order (event time, then a stable key), not
    in the order a caller happens to hold: whichever request or worker gets there first,
    and however deliveries were batched, an order's events reach the projector and the
    detectors in the sequence they happened, so the same events give the same cases.
    Rows already processed (by a racing processor) are skipped.
    """
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        horizon = uow.inbox.pending_horizon(inbox_ids)
    if horizon is None:
        return []
    return _drain(sessions, tenant_id=tenant_id, clock=clock, up_to=horizon, chunk=chunk).changes


def process_pending(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    clock: Clock,
    batch: int = CHUNK,
    wait_for_lock: bool = True,
) -> list[CaseEvent]:
    """Drain the tenant's pending inbox in replay order.

    With ``wait_for_lock=False`` (workers) a tenant another processor holds is left to
    it: this call returns at once with what it did, and the holder drains the rest.
    """
    return _drain(
        sessions, tenant_id=tenant_id, clock=clock, up_to=None, chunk=batch, wait=wait_for_lock
    ).changes


@dataclass(frozen=True)
class Turn:
    """One tenant's turn at its inbox."""

    changes: list[CaseEvent]
    more: bool
    """The turn used all its chunks: rows may still be pending for the tenant's next turn."""


def process_turn(
    sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock, chunks: int
) -> Turn:
    """At most ``chunks`` chunks of the tenant's pending inbox, in replay order, leaving a
    tenant another processor holds to it (as ``process_pending(wait_for_lock=False)``).

    Workers give each tenant a turn in rounds (``workflow/worker.py``), so a tenant with a
    large backlog, or one that keeps sending, delays the others by a turn and not by all
    of its events."""
    return _drain(
        sessions,
        tenant_id=tenant_id,
        clock=clock,
        up_to=None,
        chunk=CHUNK,
        wait=False,
        max_chunks=chunks,
    )


def _drain(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    clock: Clock,
    up_to: datetime | None,
    chunk: int,
    wait: bool = True,
    max_chunks: int | None = None,
) -> Turn:
    """Process pending rows oldest first, up to ``up_to``, until none is left (or until
    ``max_chunks`` chunks are done).

    A row that fails stays pending for the next pass (its attempts counted by the
    chunk); this drain passes over it rather than retrying it in a loop, and keeps going
    with the rows behind it. A row that waited for an alias and was released by this
    drain (its order arrived) is taken in this drain too, in replay order with the rest:
    the horizon grows to cover it, so a record that arrived before its order is linked as
    soon as the order is processed, whoever processed it.
    """
    changes: list[CaseEvent] = []
    passed_over: set[str] = set()
    chunks = 0
    while True:
        if max_chunks is not None and chunks >= max_chunks:
            return Turn(changes, more=True)
        with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
            ids = list(uow.inbox.pending_ids(limit=chunk, up_to=up_to, passed_over=passed_over))
        if not ids:
            return Turn(changes, more=False)
        done = _process_chunk(sessions, tenant_id=tenant_id, inbox_ids=ids, clock=clock, wait=wait)
        chunks += 1
        changes += done.changes
        # Cases the chunk opened tell their customers now, not at the next sweep: after
        # the commit, in a transaction of its own (workflow/notifications.py).
        notify_opened(sessions, tenant_id=tenant_id, changes=done.changes, clock=clock)
        if done.busy:
            return Turn(changes, more=False)
        with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
            passed_over |= uow.inbox.still_pending(ids) - done.released - done.unreached
            if up_to is not None and done.released:
                later = uow.inbox.pending_horizon(done.released)
                up_to = max(up_to, later) if later is not None else up_to


@dataclass(frozen=True)
class _Chunk:
    changes: list[CaseEvent] = field(default_factory=list)
    released: frozenset[str] = frozenset()
    """Waiting rows this chunk sent back to pending (their order arrived)."""
    unreached: frozenset[str] = frozenset()
    """Rows of the chunk left for the next one: a row released earlier events (those go
    first, in replay order), or the chunk ran out of time (``CHUNK_SECONDS``)."""
    busy: bool = False
    """Another processor holds the tenant: nothing was done."""


def _process_chunk(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    inbox_ids: Sequence[str],
    clock: Clock,
    wait: bool = True,
) -> _Chunk:
    """Run the chunk, again from the start after each transient database error."""
    retrying = Retrying(
        retry=retry_if_exception(lambda exc: transient_kind(exc) is not None),
        stop=stop_after_attempt(TRANSIENT_TRIES),
        wait=wait_exponential_jitter(
            multiplier=TRANSIENT_BACKOFF_SECONDS, max=1.0, jitter=TRANSIENT_BACKOFF_SECONDS
        ),
        before_sleep=_note_transient,
        reraise=True,
    )
    try:
        return retrying(
            _process_chunk_once,
            sessions,
            tenant_id=tenant_id,
            inbox_ids=inbox_ids,
            clock=clock,
            wait=wait,
        )
    except Exception as exc:
        kind = transient_kind(exc)
        if kind is None:
            raise
        PROCESSING_METRICS.transient_error(kind)
        log.warning(
            "database still busy (%s) after %d runs; %d inbox events stay pending: %r",
            kind,
            TRANSIENT_TRIES,
            len(inbox_ids),
            exc,
        )
        return _Chunk()


def _note_transient(state: RetryCallState) -> None:
    exc = state.outcome.exception() if state.outcome else None
    kind = transient_kind(exc) if exc else None
    if kind is not None:
        PROCESSING_METRICS.transient_error(kind)
    log.info("transient database error (%s), running the chunk again: %r", kind, exc)


def _process_chunk_once(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    inbox_ids: Sequence[str],
    clock: Clock,
    wait: bool = True,
) -> _Chunk:
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        if not uow.inbox.lock_processing(wait=wait):
            return _Chunk(busy=True)
        rows = uow.inbox.claim_many(inbox_ids)
        with (
            remember_rows(uow.session, tenant_id) as loaded,
            chunk_audit(uow.session, tenant_id) as audit,
        ):
            uow.audit = audit  # the chunk's records are chained once, before the commit
            events = _parsed(uow, rows)
            _load_ahead(uow, loaded, list(events.values()))
            done, dead_lettered = _apply_rows(uow, rows, events, now=clock.now())
            audit.write()
        uow.commit()
    for failure in dead_lettered:
        PROCESSING_METRICS.dead_letter(failure)
    return done


def _apply_rows(
    uow: UnitOfWork,
    rows: Sequence[InboxEvent],
    events: dict[str, CanonicalEvent],
    *,
    now: datetime,
) -> tuple[_Chunk, list[FailureClass]]:
    """Apply the chunk's rows in order, each in a savepoint of its own."""
    changes: list[CaseEvent] = []
    released: list[str] = []
    unreached: list[str] = []
    dead_lettered: list[FailureClass] = []
    processed: list[InboxEvent] = []
    started = time.monotonic()
    for i, row in enumerate(rows):
        try:
            with (
                uow.session.begin_nested(),
                steps.processing(tenant_id=row.tenant_id, inbox_id=row.id, envelope=row.envelope),
            ):
                applied = _apply(uow, row, now=now, event=events.get(row.id))
        except Exception as exc:
            if transient_kind(exc) is not None:
                raise  # the whole chunk goes again; no attempt is spent
            log.exception("processing inbox event %s failed", row.id)
            row.attempts += 1
            row.error = repr(exc)[:4000]
            if row.attempts < MAX_ATTEMPTS:
                row.status = InboxStatus.PENDING
                continue
            row.status = InboxStatus.FAILED
            failure = failure_class(exc)
            dead_letter_row(uow, row, failure=failure, now=now)
            dead_lettered.append(failure)
            continue
        if not applied.deferred:
            processed.append(row)
        changes += applied.changes
        released += applied.released
        rest = rows[i + 1 :]
        if applied.released and rest and _released_first(uow, applied.released, rest):
            unreached = [r.id for r in rest]
            break
        if rest and time.monotonic() - started >= CHUNK_SECONDS:
            unreached = [r.id for r in rest]
            break
    uow.inbox.mark_processed(processed, now=now)
    METRICS.processed((now - row.received_at).total_seconds() for row in processed)
    return _Chunk(changes, frozenset(released), frozenset(unreached)), dead_lettered


def _parsed(uow: UnitOfWork, rows: Sequence[InboxEvent]) -> dict[str, CanonicalEvent]:
    """Each row's event, parsed once for the chunk's reads and its own run; a row that
    does not parse is left out here and fails on its own when applied."""
    events: dict[str, CanonicalEvent] = {}
    for row in rows:
        try:
            events[row.id] = parse_event(row.envelope, tenant_id=uow.tenant_id)
        except Exception:  # noqa: BLE001 - reported when the row is applied, in its savepoint
            continue
    return events


def _load_ahead(uow: UnitOfWork, loaded: LoadedRows, events: Sequence[CanonicalEvent]) -> None:
    """Load what the events will read (``resolve/prefetch.py``), in a savepoint: it only
    saves queries, so if it fails for any reason but a transient one the events read
    as they would without it."""
    try:
        with uow.session.begin_nested():
            prefetch(uow, loaded, events)
    except Exception as exc:
        if transient_kind(exc) is not None:
            raise
        log.exception("loading a chunk's rows ahead failed; its events read them one by one")


def _released_first(uow: UnitOfWork, released: Sequence[str], rest: Sequence[InboxEvent]) -> bool:
    """Whether a released row happened before some row still ahead in this chunk: then the
    chunk stops, so the next one takes them in replay order (the chunk's rows stay
    pending; nothing was done to them)."""
    earliest = uow.session.scalar(
        select(func.min(InboxEvent.event_time)).where(
            InboxEvent.tenant_id == uow.tenant_id, InboxEvent.id.in_(list(released))
        )
    )
    return earliest is not None and any(r.event_time >= earliest for r in rest)


def _judge(
    uow: UnitOfWork, orders: Sequence[Order], *, inbox_id: str, now: datetime
) -> list[CaseEvent]:
    """Run the detectors on each order the event touched, on the state it left, and the
    tenant's shadow candidate beside them when one is running (workflow/shadow_judge.py:
    one lookup per chunk, nothing more without a candidate)."""
    changes: list[CaseEvent] = []
    shadow = running_shadow(uow)
    for order in orders:
        changes += evaluate_order(uow, order, now=now, from_sweep=False, inbox_id=inbox_id)
        if shadow is not None:
            judge_in_shadow(uow, shadow, order, now=now, inbox_id=inbox_id)
    return changes


@dataclass(frozen=True)
class _Applied:
    changes: list[CaseEvent] = field(default_factory=list)
    released: list[str] = field(default_factory=list)
    """Inbox ids of the waiting rows this event released."""
    deferred: bool = False
    """The row waits for a key; otherwise it was applied, and the chunk stamps its applied
    rows processed together (``InboxRepository.mark_processed``)."""


def _apply(
    uow: UnitOfWork, row: InboxEvent, *, now: datetime, event: CanonicalEvent | None = None
) -> _Applied:
    """Resolve, project, link, release what waited on the keys now known, note the event
    on its orders' open cases, then judge those orders."""
    if event is None:
        event = parse_event(row.envelope, tenant_id=uow.tenant_id)
    resolution = resolve(uow, event)
    if resolution.waits is not None:
        settle(uow, resolution, inbox_id=row.id, now=now)  # a question for a person, if any
        defer(uow, row, resolution.waits, now=now)
        row.error = None
        return _Applied(deferred=True)
    projection = project(uow, resolution.event, inbox_id=row.id, now=now, target=resolution.target)
    link = settle(uow, resolution, inbox_id=row.id, now=now)
    released = release(uow, projection.new_keys)
    data: dict[str, Any] = {
        "type": event.type,
        "event_id": event.envelope.id,
        "event_time": event.envelope.time.isoformat(),
    }
    if (found := resolution.decision.link) is not None:
        data["link"] = {
            "method": found.method,
            "key_kind": found.key_kind,
            "key": found.key,
            "evidence": found.evidence,
            "link_id": link.id if link is not None else None,
        }
    orders = [
        order
        for order_ref in sorted(projection.order_refs)
        if (order := uow.commerce.order_by_ref(order_ref)) is not None
    ]
    for order in orders:
        for case in uow.cases.by_type_for_order(order.id).values():
            if not is_open(CaseStatus(case.status)):
                continue
            uow.cases.add_timeline(
                CaseTimelineEntry(
                    case_id=case.id,
                    at=now,
                    kind="event",
                    summary=projection.summary,
                    actor=event.envelope.source,
                    data=dict(data),
                    inbox_id=row.id,
                )
            )
            wake_on_event(uow, case, now=now, inbox_id=row.id)
    return _Applied(_judge(uow, orders, inbox_id=row.id, now=now), released)
