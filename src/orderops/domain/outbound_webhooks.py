"""Outbound webhooks, the pure part: event types, endpoint URLs, signatures, answers.

The retailer's own systems subscribe to what happens on the desk (a case opened or
resolved, an action approved or delivered). Deliveries follow the Standard Webhooks
specification (standardwebhooks.com, spec/standard-webhooks.md): the body is signed with
HMAC-SHA256 over ``{webhook-id}.{webhook-timestamp}.{body}`` under a ``whsec_`` secret
(base64 of random bytes), sent as ``v1,<base64 signature>`` in ``webhook-signature``;
during a secret rotation's overlap both signatures are sent, space-delimited, so a
receiver that still holds the old secret keeps verifying. Nothing here does I/O: the
delivery code passes in the bytes, the secrets and the clock's time.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
import secrets
from enum import StrEnum
from urllib.parse import urlsplit

from orderops.domain.errors import InvalidEvent

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
"""The spec asks for at least 24 random bytes (and at most 64)."""
MAX_URL_LENGTH = 2000
MAX_EVENT_TYPES = 16
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain"})


class EventType(StrEnum):
    CASE_OPENED = "case.opened"
    CASE_REOPENED = "case.reopened"
    CASE_RESOLVED = "case.resolved"
    ACTION_APPROVED = "action.approved"
    ACTION_DELIVERED = "action.delivered"


TIMELINE_EVENTS: dict[str, EventType] = {
    "opened": EventType.CASE_OPENED,
    "reopened": EventType.CASE_REOPENED,
    "resolved": EventType.CASE_RESOLVED,
    "action_approved": EventType.ACTION_APPROVED,
    "action_executed": EventType.ACTION_DELIVERED,
}
"""Case timeline kinds (``cases/cases.record``) that are also outbound events: every
transition writes its timeline entry through that one function, so hooking it there
misses none of the places a case opens, resolves or has an action approved or executed."""


class InvalidSubscription(InvalidEvent):
    """A subscription the desk will not deliver to: a bad URL or unknown event types."""

    code = "invalid-webhook-subscription"


def check_url(url: str, *, allow_loopback: bool) -> str:
    """The endpoint URL, or InvalidSubscription saying why not.

    HTTPS only: the payloads name orders and cases, and a signature protects integrity,
    not secrecy. Loopback and private addresses written as such are refused (the desk
    would be posting into its own network: server-side request forgery) unless
    ``allow_loopback`` (tests and local development), and then plain HTTP is accepted
    for loopback hosts only. A name that resolves to a private address is not caught
    here (docs/OUTBOUND_WEBHOOKS.md: put the worker behind an egress proxy)."""
    if len(url) > MAX_URL_LENGTH:
        raise InvalidSubscription(f"url is longer than {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        host = parts.hostname
        _ = parts.port  # raises ValueError on a port that is not a number in range
    except ValueError as error:
        raise InvalidSubscription(f"url is not a valid URL: {error}") from error
    if parts.scheme not in ("https", "http") or not host:
        raise InvalidSubscription("url must be an absolute https:// URL with a host")
    if parts.username is not None or parts.password is not None:
        raise InvalidSubscription("url must not carry credentials; the signature authenticates")
    if parts.fragment:
        raise InvalidSubscription("url must not have a #fragment")
    internal = _internal_host(host)
    if internal and not allow_loopback:
        raise InvalidSubscription("url must not point at a loopback or private address")
    if parts.scheme == "http" and not (allow_loopback and internal):
        raise InvalidSubscription("url must use https")
    return url


def _internal_host(host: str) -> bool:
    if host.lower().rstrip(".") in LOOPBACK_NAMES:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return not address.is_global


def check_event_types(types: list[str]) -> list[EventType]:
    """Known types, deduplicated in a stable order; at least one."""
    if not types:
        raise InvalidSubscription("event_types must name at least one event type")
    if len(types) > MAX_EVENT_TYPES:
        raise InvalidSubscription(f"event_types may name at most {MAX_EVENT_TYPES} types")
    known = {str(t) for t in EventType}
    unknown = sorted({t for t in types if t not in known})
    if unknown:
        raise InvalidSubscription(
            f"unknown event types {unknown}; known: {sorted(known)}"  # names only, no values
        )
    return sorted({EventType(t) for t in types}, key=list(EventType).index)


def new_secret() -> str:
    """A fresh signing secret in the spec's serialisation: ``whsec_`` + base64(random)."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """One ``v1,<base64>`` signature of ``{msg_id}.{timestamp}.{body}``."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = f"{msg_id}.{timestamp}.".encode() + body
    digest = hmac.new(key, signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode("ascii")


def signature_header(
    current: str, previous: str | None, *, msg_id: str, timestamp: int, body: bytes
) -> str:
    """``webhook-signature``: the current secret's signature, then the previous one's
    while its overlap lasts (the caller passes ``previous`` only then)."""
    keys = [current] if previous is None else [current, previous]
    return " ".join(sign(k, msg_id=msg_id, timestamp=timestamp, body=body) for k in keys)


class Answer(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    FAILED = "failed"
    GONE = "gone"
    """410: the receiver asks never to be sent anything again: the subscription stops."""


def classify(status: int) -> Answer:
    """What a receiver's HTTP status means for this delivery (the spec's etiquette).

    2xx delivered; 408, 429 and every 5xx are worth trying again later; 410 disables the
    subscription; any other status (3xx: redirects are not followed, 4xx: the receiver
    refuses this body) fails the delivery without retrying."""
    if 200 <= status < 300:
        return Answer.DELIVERED
    if status in (408, 429) or status >= 500:
        return Answer.RETRY
    if status == 410:
        return Answer.GONE
    return Answer.FAILED
