"""Deliver queued webhook events: lease, sign, POST, record. The outbox's machinery, reused.

A webhook event is an ``outbox`` row of system ``webhook`` (``outbound/events.py``), so
it is leased by ``writeback/claims.claim_due`` (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
an expired lease makes it claimable again), paced by ``writeback/policy.DeliveryPolicy``
(exponential backoff with jitter, Retry-After honoured, give up after N attempts: the row
becomes ``failed``, the outbox's dead letter), judged by ``writeback/outcomes.decide`` and
written down by ``writeback/results.record_outcomes``; a per-subscription circuit breaker
(``CircuitBreaker``, keyed ``webhook:<subscription>`` and tenant) stops hammering an
endpoint that is down. What is particular to webhooks is here: the signature, the
receiver's answer read as the Standard Webhooks spec asks (``domain/outbound_webhooks``),
the delivery log row per attempt (with latency and the start of the answer), and the
subscription's health: switched off after ``disable_after_failures`` failures in a row
spanning ``disable_after_hours``, or at once when the receiver answers 410 Gone.

``run_outbound_once`` is called by each writeback pass (``workflow/writeback_worker``).
The POST happens outside any transaction: the claim has committed, and a crash after the
POST costs only a second delivery of the same ``webhook-id``, which receivers dedupe.
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import and_, exists, or_, select

from orderops import __version__
from orderops.bootstrap import App
from orderops.domain.clock import Clock
from orderops.domain.outbound_webhooks import Answer, classify, signature_header
from orderops.ingest.connections import SecretBox, SecretUnreadable
from orderops.outbound.events import SYSTEM
from orderops.outbound.settings import OutboundSettings
from orderops.storage.tables import OutboxMessage
from orderops.storage.tables.outbound_webhooks import WebhookAttemptLog, WebhookSubscription
from orderops.storage.uow import UnitOfWork, tenant_ids
from orderops.writeback.claims import claim_due
from orderops.writeback.connectors.base import BreakerKey, BreakerState, CircuitBreaker
from orderops.writeback.delivery import Claimed
from orderops.writeback.outcomes import Outcome, OutcomeKind, decide
from orderops.writeback.policy import DeliveryPolicy
from orderops.writeback.results import Finished, record_outcomes
from orderops.writeback.states import CLAIMABLE, AttemptOutcome, OutboxStatus

log = logging.getLogger(__name__)

BODY_CHARS = 1000
"""How much of a receiver's answer the delivery log keeps."""
_READ_BYTES = 4096
MAX_RETRY_AFTER = 24 * 3600.0


@dataclass
class OutboundRuntime:
    """What delivering needs beyond the app: settings, HTTP client, breaker, randomness."""

    settings: OutboundSettings
    clock: Clock
    """Business time: schedules, the log's times, the subscription's failure streak."""
    wall_clock: Clock
    """Real time: ``webhook-timestamp``, which receivers compare with their own clock."""
    policy: DeliveryPolicy = field(init=False)
    breaker: CircuitBreaker = field(init=False)
    client: httpx.Client = field(init=False)
    rand: Callable[[], float] = random.random
    concurrency: int = 4
    _executor: ThreadPoolExecutor | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        self.policy = self.settings.policy()
        self.breaker = CircuitBreaker(clock=self.wall_clock)
        self.client = httpx.Client(
            timeout=self.settings.timeout_seconds,
            follow_redirects=False,  # a 3xx is a failure: the URL should be updated
            headers={"user-agent": f"OrderOps-Webhooks/{__version__}"},
        )

    def executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._executor is None:
                self._executor = ThreadPoolExecutor(
                    max_workers=self.concurrency, thread_name_prefix="webhooks"
                )
            return self._executor

    def close(self) -> None:
        with self._lock:
            executor, self._executor = self._executor, None
        if executor is not None:
            executor.shutdown(wait=True)
        self.client.close()


_runtimes: dict[int, OutboundRuntime] = {}
_runtimes_lock = threading.Lock()


def outbound_runtime_for(app: App) -> OutboundRuntime:
    """The app's runtime, built on first use and closed with the app."""
    key = id(app)
    with _runtimes_lock:
        runtime = _runtimes.get(key)
        if runtime is None:
            runtime = OutboundRuntime(
                settings=OutboundSettings(), clock=app.clock, wall_clock=app.wall_clock
            )
            _runtimes[key] = runtime
            weakref.finalize(app, _forget, key)
        return runtime


def _forget(key: int) -> None:
    with _runtimes_lock:
        runtime = _runtimes.pop(key, None)
    if runtime is not None:
        runtime.close()


def run_outbound_once(app: App, *, worker_id: str, runtime: OutboundRuntime | None = None) -> int:
    """One pass over every tenant with due webhook events; how many were attempted."""
    runtime = runtime or outbound_runtime_for(app)
    handled = 0
    for tenant_id in tenant_ids(app.sessions):
        try:
            handled += deliver_due(app, runtime, tenant_id=tenant_id, worker_id=worker_id)
        except Exception:  # webhooks must never stop the writeback pass
            log.exception(
                "webhook delivery for tenant %s failed; leases expire, retried", tenant_id
            )
    return handled


@dataclass(frozen=True)
class _Plan:
    """One claimed event with what posting it needs (or why it will not be posted)."""

    claimed: Claimed
    url: str | None
    secrets: tuple[str, str | None] | None
    refusal: str | None = None


@dataclass(frozen=True)
class _Posted:
    outcome: Outcome
    answer: Answer | None
    latency_ms: int | None
    body: str | None


def deliver_due(app: App, runtime: OutboundRuntime, *, tenant_id: str, worker_id: str) -> int:
    """Claim a batch of the tenant's due events, post them, record them; the batch size."""
    now = runtime.clock.now()
    if not _any_due(app, tenant_id, now):
        return 0
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        claimed = claim_due(
            uow,
            worker_id=worker_id,
            now=now,
            lease=runtime.policy.lease,
            limit=runtime.policy.batch_size,
            systems=[SYSTEM],
            summarise=_summary,
        )
        plans = _plans(uow, claimed, app.settings.secret_key, now)
        uow.commit()
    if not plans:
        return 0
    posted = list(runtime.executor().map(lambda plan: _post(runtime, plan), plans))
    _record(app, runtime, list(zip(plans, posted, strict=True)), worker_id=worker_id)
    return len(plans)


def _any_due(app: App, tenant_id: str, now: datetime) -> bool:
    """A read-only look first, so an idle tenant costs no write transaction per pass."""
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        due = or_(
            and_(
                OutboxMessage.status.in_([str(s) for s in CLAIMABLE]),
                OutboxMessage.next_attempt_at <= now,
            ),
            and_(
                OutboxMessage.status == str(OutboxStatus.IN_FLIGHT),
                OutboxMessage.leased_until <= now,
            ),
        )
        return bool(
            uow.session.scalar(
                select(
                    exists().where(
                        OutboxMessage.tenant_id == tenant_id,
                        OutboxMessage.system == SYSTEM,
                        due,
                    )
                )
            )
        )


def _summary(row: OutboxMessage) -> dict[str, Any]:
    payload = row.payload
    return {
        "system": row.system,
        "operation": row.operation,
        "idempotency_key": row.idempotency_key,
        "subscription_id": payload.get("subscription_id"),
        "event_id": payload.get("event_id"),
    }


def _plans(
    uow: UnitOfWork, claimed: Sequence[Claimed], secret_key: str, now: datetime
) -> list[_Plan]:
    """Each claimed event with its subscription's URL and secrets, read in the claim's
    transaction: a rotation or a switch-off applies from the next attempt."""
    ids = {str(c.payload.get("subscription_id")) for c in claimed}
    subscriptions = {
        s.id: s
        for s in uow.session.scalars(
            select(WebhookSubscription).where(
                WebhookSubscription.tenant_id == uow.tenant_id, WebhookSubscription.id.in_(ids)
            )
        )
    }
    box = SecretBox(secret_key)
    plans = []
    for item in claimed:
        subscription = subscriptions.get(str(item.payload.get("subscription_id")))
        if subscription is None:
            plans.append(_Plan(item, None, None, refusal="the subscription was deleted"))
            continue
        if not subscription.enabled:
            reason = subscription.disabled_reason or "disabled"
            plans.append(_Plan(item, None, None, refusal=f"the subscription is off: {reason}"))
            continue
        try:
            current = box.open(subscription.secret_ciphertext)
            previous = None
            until = subscription.previous_secret_until
            if subscription.previous_secret_ciphertext and until is not None and until > now:
                previous = box.open(subscription.previous_secret_ciphertext)
        except SecretUnreadable as error:
            plans.append(_Plan(item, None, None, refusal=error.message))
            continue
        plans.append(_Plan(item, subscription.url, (current, previous)))
    return plans


def _post(runtime: OutboundRuntime, plan: _Plan) -> _Posted:
    if plan.refusal is not None or plan.url is None or plan.secrets is None:
        outcome = Outcome(kind=OutcomeKind.FAILED, error=plan.refusal)
        return _Posted(outcome, None, None, None)
    item = plan.claimed
    key = BreakerKey(f"{SYSTEM}:{item.payload['subscription_id']}", item.tenant_id)
    if runtime.breaker.state(key) is BreakerState.OPEN:
        outcome = Outcome(kind=OutcomeKind.DEFERRED, error="the endpoint's circuit is open")
        return _Posted(outcome, None, None, None)
    body = json.dumps(item.payload["body"], separators=(",", ":"), sort_keys=True).encode()
    msg_id = str(item.payload["event_id"])
    timestamp = int(runtime.wall_clock.now().timestamp())
    current, previous = plan.secrets
    headers = {
        "content-type": "application/json",
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature_header(
            current, previous, msg_id=msg_id, timestamp=timestamp, body=body
        ),
    }
    started = time.monotonic()
    try:
        with runtime.client.stream("POST", plan.url, content=body, headers=headers) as response:
            answer_text = _read_some(response)
            status = response.status_code
            retry_after = _retry_after(response.headers.get("retry-after"), runtime.wall_clock)
    except httpx.TimeoutException:
        runtime.breaker.record_failure(key)
        error = f"timed out after {runtime.settings.timeout_seconds:g} s"
        return _Posted(
            Outcome(kind=OutcomeKind.RETRY, error=error), Answer.RETRY, _ms(started), None
        )
    except httpx.HTTPError as error:
        runtime.breaker.record_failure(key)
        text = f"could not connect: {type(error).__name__}: {error}"[:300]
        return _Posted(
            Outcome(kind=OutcomeKind.RETRY, error=text), Answer.RETRY, _ms(started), None
        )
    latency = _ms(started)
    answer = classify(status)
    if answer is Answer.RETRY:
        runtime.breaker.record_failure(key)
    else:
        runtime.breaker.record_success(key)  # the endpoint answered: it is up
    kind = {
        Answer.DELIVERED: OutcomeKind.DELIVERED,
        Answer.RETRY: OutcomeKind.RETRY,
        Answer.FAILED: OutcomeKind.FAILED,
        Answer.GONE: OutcomeKind.FAILED,
    }[answer]
    outcome = Outcome(
        kind=kind,
        result={"status": status} if kind is OutcomeKind.DELIVERED else None,
        error=None if kind is OutcomeKind.DELIVERED else _status_error(status, answer),
        retry_after=retry_after,
        response_status=status,
        response_excerpt=answer_text[:500] if answer_text else None,
    )
    return _Posted(outcome, answer, latency, answer_text)


def _status_error(status: int, answer: Answer) -> str:
    if answer is Answer.GONE:
        return "HTTP 410 Gone: the receiver asked to stop; the subscription is switched off"
    if answer is Answer.RETRY:
        return f"HTTP {status}: will retry"
    return f"HTTP {status}: refused by the receiver, not retried"


def _read_some(response: httpx.Response) -> str:
    """The start of the answer, without reading a huge body into memory."""
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        chunks.append(chunk)
        size += len(chunk)
        if size >= _READ_BYTES:
            break
    return b"".join(chunks)[:_READ_BYTES].decode("utf-8", errors="replace")[:BODY_CHARS]


def _retry_after(value: str | None, clock: Clock) -> float | None:
    """Seconds from a Retry-After header (delta-seconds or an HTTP date), capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return min(float(value), MAX_RETRY_AFTER)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return min(max(0.0, (when - clock.now()).total_seconds()), MAX_RETRY_AFTER)


def _ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _record(
    app: App, runtime: OutboundRuntime, done: list[tuple[_Plan, _Posted]], *, worker_id: str
) -> None:
    """The batch's outcomes, log rows and subscription health in one transaction."""
    now = runtime.clock.now()
    finished = [
        Finished(
            plan.claimed,
            posted.outcome,
            decide(
                posted.outcome,
                attempts=plan.claimed.tries,
                policy=runtime.policy,
                now=now,
                rand=runtime.rand(),
            ),
        )
        for plan, posted in done
    ]
    tenant_id = done[0][0].claimed.tenant_id
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        kept = record_outcomes(
            uow,
            finished,
            worker_id=worker_id,
            now=now,
            on_conflict=lambda *_: None,  # webhooks have no precheck: never a conflict
            on_settled=lambda *_: None,
        )
        ids = {str(plan.claimed.payload.get("subscription_id")) for plan, _ in done}
        subscriptions = {
            s.id: s
            for s in uow.session.scalars(
                select(WebhookSubscription)
                .where(WebhookSubscription.tenant_id == tenant_id, WebhookSubscription.id.in_(ids))
                .with_for_update()
            )
        }
        for (plan, posted), item, ours in zip(done, finished, kept, strict=True):
            subscription = subscriptions.get(str(plan.claimed.payload.get("subscription_id")))
            if subscription is None:
                continue  # deleted meanwhile, log and all
            uow.session.add(_log_row(plan, posted, item, lost=not ours, now=now))
            if ours and posted.answer is not None:
                _note_health(uow, runtime.settings, subscription, posted.answer, now=now)
        uow.commit()


def _log_row(
    plan: _Plan, posted: _Posted, item: Finished, *, lost: bool, now: datetime
) -> WebhookAttemptLog:
    claimed = plan.claimed
    outcome = AttemptOutcome.LEASE_LOST if lost else item.decision.attempt
    return WebhookAttemptLog(
        id=claimed.attempt_id,
        tenant_id=claimed.tenant_id,
        subscription_id=str(claimed.payload["subscription_id"]),
        message_id=claimed.id,
        event_id=str(claimed.payload["event_id"]),
        event_type=str(claimed.payload.get("event_type", claimed.operation))[:40],
        number=claimed.attempts,
        attempted_at=now,
        outcome=str(outcome),
        status_code=posted.outcome.response_status,
        latency_ms=posted.latency_ms,
        error=posted.outcome.error,
        response_body=posted.body,
    )


def _note_health(
    uow: UnitOfWork,
    settings: OutboundSettings,
    subscription: WebhookSubscription,
    answer: Answer,
    *,
    now: datetime,
) -> None:
    """Keep the failure streak; switch the subscription off when it has gone on too long
    (or at once on 410 Gone), with the reason on the row and in the audit chain."""
    if answer is Answer.DELIVERED:
        subscription.failing_since, subscription.consecutive_failures = None, 0
        return
    subscription.consecutive_failures += 1
    subscription.failing_since = subscription.failing_since or now
    reason: str | None = None
    if answer is Answer.GONE:
        reason = "the receiver answered 410 Gone"
    elif (
        subscription.consecutive_failures >= settings.disable_after_failures
        and now - subscription.failing_since >= settings.disable_after
    ):
        reason = (
            f"{subscription.consecutive_failures} failed attempts in a row since "
            f"{subscription.failing_since.isoformat()}"
        )
    if reason is None or not subscription.enabled:
        return
    subscription.enabled = False
    subscription.disabled_at, subscription.disabled_reason = now, reason
    subscription.updated_at = now
    uow.audit.append(
        at=now,
        actor="webhooks",
        action="webhook_subscription.disabled",
        entity_type="webhook_subscription",
        entity_id=subscription.id,
        data={"reason": reason},
    )
    log.warning("webhook subscription %s switched off: %s", subscription.id, reason)
