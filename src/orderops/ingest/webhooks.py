"""Receiving one provider webhook: verify, store raw, map, accept. Nothing more.

Providers retry whatever they do not see answered with 2xx, and they retry the same
bytes under the same delivery id. So the order of steps is the contract:

1. The signature is checked before anything is written: forged or stale traffic is
   counted and refused (401), never stored, so it cannot fill the database.
2. The verified body is committed as a ``webhook_deliveries`` row before it is mapped:
   from then on the payload is safe, whatever the mapping does.
3. A retry (same delivery id, same bytes) finds that row and is answered from it: 200
   for a delivery already accepted, the same 422/413 and dead letter for one refused,
   and nothing runs twice. A row left ``received`` by a crash is simply mapped again;
   the inbox's own uniqueness keeps the canonical events single.
4. A payload the adapter cannot map is dead-lettered with its exact bytes (422); the
   mapped events go through the same intake as every other channel, and the answer is
   given once they are in the inbox: workers process them after it (workflow/worker.py),
   so a provider's timeout never depends on how much work an event causes.
5. Where the provider signs the body but not the header naming the event (Shopify's
   topic), a captured body can be resent under another topic with a fresh delivery id.
   The adapter refuses a body that does not prove its topic (``TopicMismatch``), and a
   body already accepted under a topic the provider never sends with the same bytes is a
   replay; both are 422, dead-lettered and counted. The body hash on each delivery row
   (indexed per tenant and source) is what finds the earlier delivery.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import InvalidEvent, NotFound, PayloadTooLarge
from orderops.domain.usage import Meter
from orderops.ingest import safe_json
from orderops.ingest.adapters import ADAPTERS, UnsupportedEvent, WebhookAdapter, shopify
from orderops.ingest.connections import Endpoint
from orderops.ingest.intake import DEAD_LETTER_BODY_LIMIT, Outcome, accept_items, dead_letter
from orderops.ingest.signatures import SignatureError, lower_headers
from orderops.ingest.webhook_metrics import RejectReason, WebhookMetrics, signature_reason
from orderops.metering import usage
from orderops.storage.base import new_id
from orderops.storage.repositories._dialect import insert_if_absent
from orderops.storage.tables.sources import WebhookDelivery
from orderops.storage.uow import UnitOfWork

log = logging.getLogger(__name__)

READ_LIMIT = DEAD_LETTER_BODY_LIMIT
"""Bytes read from a request at most: a body up to this size can be verified and kept
whole; past it the signature cannot be checked, so nothing of it is stored."""

DELIVERY_ID_HEADERS: dict[str, tuple[str, ...]] = {
    "shopify": ("x-shopify-webhook-id", "x-shopify-event-id"),
    "zendesk": ("x-zendesk-webhook-invocation-id",),
}
"""Providers that name a delivery in a header; the same value comes back on a retry."""

DELIVERY_ID_FIELDS: dict[str, str] = {"stripe": "id", "easypost": "id", "aftership": "event_id"}
"""Providers that name the event in the body. Shippo names neither: the body hash is its id."""

KEPT_HEADERS: dict[str, tuple[str, ...]] = {
    "shopify": (
        "x-shopify-topic",
        "x-shopify-webhook-id",
        "x-shopify-event-id",
        "x-shopify-shop-domain",
        "x-shopify-api-version",
        "x-shopify-triggered-at",
    ),
    "zendesk": (
        "x-zendesk-webhook-id",
        "x-zendesk-webhook-invocation-id",
        "x-zendesk-account-id",
        "x-zendesk-webhook-signature-timestamp",
    ),
}
"""Headers kept with the body: those an adapter reads (Shopify's topic) and those that
identify a delivery. Signatures, cookies and auth headers are never kept."""

COMMON_HEADERS = ("content-type", "user-agent")

TOO_LARGE_CODE = "payload_too_large"
"""The dead-letter reason code of an oversized body, as the API intake names it too."""

TOPIC_MISMATCH_CODE = "topic_mismatch"
REPLAY_CODE = "cross_topic_replay"


@dataclass(frozen=True)
class UnsignedTopic:
    """How to read a provider's unsigned event header, and which values may share a body."""

    read: Callable[[Mapping[str, str]], str | None]
    companions: Callable[[str, str], bool]


UNSIGNED_TOPICS: dict[str, UnsignedTopic] = {
    "shopify": UnsignedTopic(read=shopify.topic_of, companions=shopify.are_companion_topics),
}
"""Providers whose event type travels beside a body-only signature. Only Shopify: Stripe
and Zendesk sign a timestamp with the body and name the event type inside it, Shippo
signs a timestamp with the body, and EasyPost and AfterShip name the event (and its id)
inside the signed body, so a resent body of theirs is the same event under the same id,
which the delivery row's uniqueness answers as a duplicate."""


class DeliveryStatus(StrEnum):
    RECEIVED = "received"
    """Stored, not yet mapped (or the mapping was interrupted): a retry maps it again."""
    ACCEPTED = "accepted"
    IGNORED = "ignored"
    """A known topic that carries nothing we track (e.g. Shopify orders/paid)."""
    REJECTED = "rejected"


class WebhookOutcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    IGNORED = "ignored"


class WebhookRejected(InvalidEvent):
    """A verified payload that cannot be mapped; it is kept as a dead letter."""

    code = "webhook-rejected"

    def __init__(self, message: str, *, delivery: str, dead_letter_id: str | None) -> None:
        super().__init__(message)
        self.delivery = delivery
        self.dead_letter_id = dead_letter_id


class WebhookTopicMismatch(WebhookRejected):
    """A signed body that does not prove the event its unsigned header claims."""

    code = "webhook-topic-mismatch"


class WebhookReplayed(WebhookRejected):
    """A body already accepted under another topic, resent with a fresh delivery id."""

    code = "webhook-replayed"


REJECTIONS: dict[str, type[WebhookRejected]] = {
    TOPIC_MISMATCH_CODE: WebhookTopicMismatch,
    REPLAY_CODE: WebhookReplayed,
}
"""Dead-letter reason codes with their own refusal, so a retry gets the same answer."""


class WebhookTooLarge(PayloadTooLarge):
    """A body over the request limit; kept as a dead letter when it could be verified."""

    code = "webhook-too-large"

    def __init__(
        self, message: str, *, delivery: str | None = None, dead_letter_id: str | None = None
    ) -> None:
        super().__init__(message)
        self.delivery = delivery
        self.dead_letter_id = dead_letter_id


@dataclass(frozen=True, kw_only=True)
class WebhookLimits:
    max_body_bytes: int


@dataclass(frozen=True, kw_only=True)
class WebhookReceipt:
    delivery: str
    """Our row id for the stored delivery."""
    delivery_id: str
    """The provider's id for it (or the body hash)."""
    outcome: WebhookOutcome
    accepted: int = 0
    duplicates: int = 0


def delivery_key(source: str, headers: Mapping[str, str], body: bytes) -> str:
    """The provider's own id for this delivery; ``sha256:<hex>`` of the body without one."""
    lowered = lower_headers(headers)
    for name in DELIVERY_ID_HEADERS.get(source, ()):
        value = (lowered.get(name) or "").strip()
        if value:
            return value[:200]
    key = DELIVERY_ID_FIELDS.get(source)
    if key is not None:
        field_value = _body_field(body, key)
        if field_value:
            return field_value[:200]
    return "sha256:" + hashlib.sha256(body).hexdigest()


def kept_headers(source: str, headers: Mapping[str, str]) -> dict[str, str]:
    lowered = lower_headers(headers)
    names = (*COMMON_HEADERS, *KEPT_HEADERS.get(source, ()))
    return {name: lowered[name][:500] for name in names if lowered.get(name)}


def receive_webhook(
    sessions: sessionmaker[Session],
    *,
    endpoint: Endpoint,
    headers: Mapping[str, str],
    body: bytes,
    complete: bool,
    clock: Clock,
    limits: WebhookLimits,
    metrics: WebhookMetrics,
) -> WebhookReceipt:
    """Handle one delivery to ``endpoint``; ``complete`` is False when the body was cut at
    ``READ_LIMIT``. Raises ``SignatureError`` (401), ``WebhookTooLarge`` (413) or
    ``WebhookRejected`` (422, or its ``WebhookTopicMismatch`` / ``WebhookReplayed``);
    returns a receipt when the payload is safely stored."""
    source = str(endpoint.source)
    adapter = ADAPTERS[source]
    if not complete:
        metrics.reject(source=source, reason=RejectReason.TOO_LARGE_UNVERIFIED)
        raise WebhookTooLarge(f"body exceeds {READ_LIMIT} bytes and cannot be verified")
    try:
        _verify(adapter, endpoint, headers=headers, body=body, now=clock.now())
    except SignatureError as exc:
        metrics.reject(source=source, reason=signature_reason(exc))
        raise
    tenant = endpoint.tenant_id
    record, status = _store(
        sessions, tenant=tenant, source=source, headers=headers, body=body, clock=clock
    )
    if status is not DeliveryStatus.RECEIVED:
        return _answer_again(sessions, tenant=tenant, record=record)
    content_type = lower_headers(headers).get("content-type")
    if len(body) > limits.max_body_bytes:
        reason = f"body of {len(body)} bytes exceeds the {limits.max_body_bytes} byte limit"
        letter = _reject(
            sessions, tenant, record, body, content_type, TOO_LARGE_CODE, reason, clock
        )
        raise WebhookTooLarge(reason, delivery=record.id, dead_letter_id=letter)
    try:
        items = adapter.to_events(headers=headers, body=body)
    except InvalidEvent as exc:
        code = _reason_code(exc)
        letter = _reject(sessions, tenant, record, body, content_type, code, exc.message, clock)
        if code == TOPIC_MISMATCH_CODE:
            metrics.reject(source=source, reason=RejectReason.TOPIC_MISMATCH)
        refusal = REJECTIONS.get(code, WebhookRejected)
        raise refusal(exc.message, delivery=record.id, dead_letter_id=letter) from exc
    except Exception as exc:  # a stored delivery never stays "received" (issue #18)
        raise _failed(sessions, tenant, record, body, content_type, clock, exc) from exc
    if not items:
        _finish(sessions, tenant, record.id, DeliveryStatus.IGNORED, clock=clock)
        return WebhookReceipt(
            delivery=record.id, delivery_id=record.delivery_id, outcome=WebhookOutcome.IGNORED
        )
    replayed = _replay_of(sessions, tenant=tenant, record=record, headers=headers)
    if replayed is not None:
        letter = _reject(sessions, tenant, record, body, content_type, REPLAY_CODE, replayed, clock)
        metrics.reject(source=source, reason=RejectReason.CROSS_TOPIC_REPLAY)
        raise WebhookReplayed(replayed, delivery=record.id, dead_letter_id=letter)
    return _accept(sessions, tenant=tenant, record=record, items=items, clock=clock)


def _verify(
    adapter: WebhookAdapter,
    endpoint: Endpoint,
    *,
    headers: Mapping[str, str],
    body: bytes,
    now: datetime,
) -> None:
    """Accept a delivery signed with the current secret or, during a rotation's overlap,
    the previous one. A refusal gives the current secret's reason (the one to fix), unless
    the previous secret's signature matched and only its time was stale: then that."""
    current, *previous = endpoint.secrets_at(now)
    try:
        adapter.verify(headers=headers, body=body, secret=current, now=now)
        return
    except SignatureError as exc:
        refusal = exc
    for secret in previous:
        try:
            adapter.verify(headers=headers, body=body, secret=secret, now=now)
        except SignatureError as exc:
            if signature_reason(exc) is RejectReason.STALE_TIMESTAMP:
                refusal = exc
            continue
        log.info(
            "%s delivery for tenant %s verified with the previous signing secret "
            "(accepted until %s); the provider has not switched to the new one yet",
            endpoint.source,
            endpoint.tenant_id,
            endpoint.previous_secret_until,
        )
        return
    raise refusal


def _reason_code(exc: InvalidEvent) -> str:
    if isinstance(exc, shopify.TopicMismatch):
        return TOPIC_MISMATCH_CODE
    return "unsupported_event" if isinstance(exc, UnsupportedEvent) else "invalid_payload"


def _replay_of(
    sessions: sessionmaker[Session],
    *,
    tenant: str,
    record: _Stored,
    headers: Mapping[str, str],
) -> str | None:
    """Why this delivery is a replay of an accepted one under another topic, or None.

    Only accepted deliveries count: a body refused or ignored under one topic gave it no
    meaning, and one still in flight may be its companion arriving at the same moment.
    """
    rule = UNSIGNED_TOPICS.get(record.source)
    topic = rule.read(headers) if rule is not None else None
    if rule is None or topic is None:
        return None
    with UnitOfWork(sessions, tenant_id=tenant, write=False) as uow:
        earlier = uow.session.execute(
            select(WebhookDelivery.delivery_id, WebhookDelivery.headers)
            .where(
                WebhookDelivery.tenant_id == tenant,
                WebhookDelivery.source == record.source,
                WebhookDelivery.body_sha256 == record.body_sha256,
                WebhookDelivery.id != record.id,
                WebhookDelivery.status == DeliveryStatus.ACCEPTED,
            )
            .order_by(WebhookDelivery.received_at)
        ).all()
    for delivery_id, stored_headers in earlier:
        earlier_topic = rule.read(stored_headers)
        if earlier_topic is not None and not rule.companions(earlier_topic, topic):
            return (
                f"this exact body was already accepted as {earlier_topic} "
                f"(delivery {delivery_id}); resent as {topic} under a new delivery id it is "
                "a replay, not an event"
            )
    return None


@dataclass(frozen=True)
class _Stored:
    id: str
    delivery_id: str
    source: str
    body_sha256: str


def _store(
    sessions: sessionmaker[Session],
    *,
    tenant: str,
    source: str,
    headers: Mapping[str, str],
    body: bytes,
    clock: Clock,
) -> tuple[_Stored, DeliveryStatus]:
    """Commit the raw delivery, or find the row an earlier attempt of it committed.

    A new delivery of a tenant at its hard monthly events quota is refused here
    (``QuotaExceeded``, rolled back: nothing stored), so the provider retries it; a retry
    of one already stored is answered as before."""
    delivery_id = delivery_key(source, headers, body)
    digest = hashlib.sha256(body).hexdigest()
    with UnitOfWork(sessions, tenant_id=tenant) as uow:
        inserted = insert_if_absent(
            uow.session,
            WebhookDelivery.__table__,  # type: ignore[arg-type]
            {
                "id": new_id(),
                "tenant_id": tenant,
                "source": source,
                "delivery_id": delivery_id,
                "body_sha256": digest,
                "received_at": clock.now(),
                "headers": kept_headers(source, headers),
                "body": body.decode("utf-8", errors="replace"),
                "body_bytes": len(body),
                "status": DeliveryStatus.RECEIVED,
            },
        )
        if inserted:
            usage.hold_to_quota(uow, Meter.EVENTS, now=clock.now())
        row = uow.session.scalar(
            select(WebhookDelivery).where(
                WebhookDelivery.tenant_id == tenant,
                WebhookDelivery.source == source,
                WebhookDelivery.delivery_id == delivery_id,
                WebhookDelivery.body_sha256 == digest,
            )
        )
        assert row is not None, "the delivery row was just inserted or found by its key"
        stored = _Stored(row.id, row.delivery_id, source, digest)
        status = DeliveryStatus(row.status)
        uow.commit()
    return stored, DeliveryStatus.RECEIVED if inserted else status


def _answer_again(
    sessions: sessionmaker[Session], *, tenant: str, record: _Stored
) -> WebhookReceipt:
    """A retry of a delivery already handled gets the first answer, with no new effect."""
    with UnitOfWork(sessions, tenant_id=tenant, write=False) as uow:
        row = _delivery(uow.session, tenant, record.id)
        status, error, letter = DeliveryStatus(row.status), row.error, row.dead_letter_id
        dead = uow.dead_letters.get(letter) if letter else None
        reason_code = dead.reason_code if dead is not None else None
    if status is DeliveryStatus.REJECTED:
        message = f"{error} (a retry of a refused delivery; dead letter {letter})"
        if reason_code == TOO_LARGE_CODE:
            raise WebhookTooLarge(message, delivery=record.id, dead_letter_id=letter)
        refusal = REJECTIONS.get(reason_code or "", WebhookRejected)
        raise refusal(message, delivery=record.id, dead_letter_id=letter)
    return WebhookReceipt(
        delivery=record.id, delivery_id=record.delivery_id, outcome=WebhookOutcome.DUPLICATE
    )


def _accept(
    sessions: sessionmaker[Session],
    *,
    tenant: str,
    record: _Stored,
    items: list[dict[str, Any]],
    clock: Clock,
) -> WebhookReceipt:
    try:
        results = accept_items(
            sessions,
            tenant_id=tenant,
            items=items,
            channel=f"webhook:{record.source}",
            clock=clock,
            quota_checked=True,  # when its delivery was stored
        )
    except Exception as exc:  # a stored delivery never stays "received" (issue #18)
        body = json.dumps(items, default=str).encode()
        raise _failed(sessions, tenant, record, body, "application/json", clock, exc) from exc
    refused = [r for r in results if r.outcome is Outcome.REJECTED]
    if refused:
        first = refused[0]
        reason = f"{len(refused)} of {len(results)} mapped events refused: {first.reason}"
        _finish(
            sessions,
            tenant,
            record.id,
            DeliveryStatus.REJECTED,
            clock=clock,
            error=reason,
            dead_letter_id=first.dead_letter_id,
        )
        raise WebhookRejected(reason, delivery=record.id, dead_letter_id=first.dead_letter_id)
    _finish(sessions, tenant, record.id, DeliveryStatus.ACCEPTED, clock=clock)
    accepted = [r.inbox_id for r in results if r.outcome is Outcome.ACCEPTED and r.inbox_id]
    return WebhookReceipt(
        delivery=record.id,
        delivery_id=record.delivery_id,
        outcome=WebhookOutcome.ACCEPTED,
        accepted=len(accepted),
        duplicates=sum(r.outcome is Outcome.DUPLICATE for r in results),
    )


def _reject(
    sessions: sessionmaker[Session],
    tenant: str,
    record: _Stored,
    body: bytes,
    content_type: str | None,
    code: str,
    reason: str,
    clock: Clock,
) -> str:
    """Dead-letter the exact body, then mark the delivery refused with the letter's id."""
    letter = dead_letter(
        sessions,
        tenant_id=tenant,
        channel=f"webhook:{record.source}",
        body=body,
        content_type=content_type,
        code=code,
        reason=reason,
        clock=clock,
        source=record.source,
    )
    _finish(
        sessions,
        tenant,
        record.id,
        DeliveryStatus.REJECTED,
        clock=clock,
        error=reason,
        dead_letter_id=letter,
    )
    return letter


def _failed(
    sessions: sessionmaker[Session],
    tenant: str,
    record: _Stored,
    body: bytes,
    content_type: str | None,
    clock: Clock,
    exc: Exception,
) -> WebhookRejected:
    """Dead-letter a delivery that broke after it was stored, so no retry loops on it.

    Past mapping, the letter holds the mapped canonical events (what ``deadletters replay``
    takes); the raw body stays on the delivery row either way."""
    log.exception("webhook delivery %s failed after it was stored", record.id)
    reason = f"processing failed ({type(exc).__name__}); replay it once the cause is fixed"
    letter = _reject(
        sessions, tenant, record, body, content_type, "processing_error", reason, clock
    )
    return WebhookRejected(reason, delivery=record.id, dead_letter_id=letter)


def _finish(
    sessions: sessionmaker[Session],
    tenant: str,
    record_id: str,
    status: DeliveryStatus,
    *,
    clock: Clock,
    error: str | None = None,
    dead_letter_id: str | None = None,
) -> None:
    with UnitOfWork(sessions, tenant_id=tenant) as uow:
        row = _delivery(uow.session, tenant, record_id)
        row.status = status
        row.error = error
        row.dead_letter_id = dead_letter_id
        row.completed_at = clock.now()
        uow.commit()


def _delivery(session: Session, tenant: str, record_id: str) -> WebhookDelivery:
    row = session.scalar(
        select(WebhookDelivery).where(
            WebhookDelivery.tenant_id == tenant, WebhookDelivery.id == record_id
        )
    )
    if row is None:
        raise NotFound(f"webhook delivery {record_id} is not stored for tenant {tenant}")
    return row


def _body_field(body: bytes, key: str) -> str | None:
    try:
        decoded = safe_json.loads(body)
    except safe_json.UnsafeJson:
        return None
    value = decoded.get(key) if isinstance(decoded, dict) else None
    if isinstance(value, bool) or not isinstance(value, str | int):
        return None
    return str(value).strip() or None
