"""Webhook signature checks, one function per provider scheme.

A webhook endpoint is public, so the signature is the only proof that a payload came
from the retailer's own Shopify, Stripe, carrier or desk account. Every check compares
in constant time, signs the raw bytes exactly as received (re-serialised JSON would not
match), and refuses with a reason the operator can act on. Schemes that sign a
timestamp also refuse a stale one, so a captured request cannot be replayed later.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from orderops.domain.errors import Unauthorized

DEFAULT_TOLERANCE = timedelta(seconds=300)
"""Stripe's documented default; the same window is used for every timestamped scheme."""


class SignatureError(Unauthorized):
    """The payload's signature is missing, malformed, wrong or too old."""

    code = "invalid-signature"


def lower_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """HTTP header names are case-insensitive; every lookup here uses lower case."""
    return {name.lower(): value for name, value in headers.items()}


def verify_shopify(*, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """X-Shopify-Hmac-Sha256 = base64(HMAC-SHA256(app secret, raw body)).

    Neither a time nor the ``X-Shopify-Topic`` header is signed, so a valid signature
    proves the body only; the adapter and the webhook intake judge the topic against it.
    """
    given = _header(headers, "x-shopify-hmac-sha256")
    _compare_base64(given, _hmac(secret.encode(), body), "X-Shopify-Hmac-Sha256")


def verify_aftership(*, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """aftership-hmac-sha256 = base64(HMAC-SHA256(webhook secret, raw body))."""
    given = _header(headers, "aftership-hmac-sha256")
    _compare_base64(given, _hmac(secret.encode(), body), "aftership-hmac-sha256")


def verify_easypost(*, headers: Mapping[str, str], body: bytes, secret: str) -> None:
    """X-Hmac-Signature = "hmac-sha256-hex=" + hex(HMAC-SHA256(NFKD(secret), raw body)).

    EasyPost normalises the secret to NFKD before signing; a secret with accented or
    full-width characters would otherwise never match.
    """
    given = _header(headers, "x-hmac-signature")
    prefix = "hmac-sha256-hex="
    if not given.startswith(prefix):
        raise SignatureError(f"X-Hmac-Signature must start with {prefix!r}")
    key = unicodedata.normalize("NFKD", secret).encode()
    expected = _hmac(key, body).hex()
    if not hmac.compare_digest(given[len(prefix) :].lower(), expected):
        raise SignatureError("X-Hmac-Signature does not match the body")


def verify_zendesk(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """X-Zendesk-Webhook-Signature = base64(HMAC-SHA256(secret, timestamp + body)).

    The timestamp header is ISO 8601 (Zendesk sends e.g. ``2021-03-04T23:08:18Z``);
    it is signed, so checking its age stops replays.
    """
    given = _header(headers, "x-zendesk-webhook-signature")
    stamp = _header(headers, "x-zendesk-webhook-signature-timestamp")
    try:
        signed_at = datetime.fromisoformat(stamp.strip())
    except ValueError as exc:
        raise SignatureError(f"unreadable signature timestamp {stamp!r}") from exc
    if signed_at.tzinfo is None:
        signed_at = signed_at.replace(tzinfo=UTC)
    _compare_base64(given, _hmac(secret.encode(), stamp.encode() + body), "Zendesk signature")
    _check_fresh(signed_at, now=now, tolerance=tolerance)


def verify_stripe(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Stripe-Signature: ``t=<unix>,v1=<hex>[,v1=<hex>...]`` over ``f"{t}.{body}"``.

    Several v1 entries appear while a signing secret is being rolled; any one matching
    is enough. Other schemes (v0) are ignored, as Stripe's own libraries do.
    """
    _verify_timestamped_hex(
        _header(headers, "stripe-signature"),
        body=body,
        secret=secret,
        now=now,
        tolerance=tolerance,
        label="Stripe-Signature",
    )


def verify_shippo(
    *,
    headers: Mapping[str, str],
    body: bytes,
    secret: str,
    now: datetime,
    tolerance: timedelta = DEFAULT_TOLERANCE,
) -> None:
    """Shippo-Auth-Signature: ``t=<unix>,v1=<hex>`` over ``f"{t}.{body}"`` (HMAC-SHA256)."""
    _verify_timestamped_hex(
        _header(headers, "shippo-auth-signature"),
        body=body,
        secret=secret,
        now=now,
        tolerance=tolerance,
        label="Shippo-Auth-Signature",
    )


def _verify_timestamped_hex(
    value: str,
    *,
    body: bytes,
    secret: str,
    now: datetime,
    tolerance: timedelta,
    label: str,
) -> None:
    stamp: str | None = None
    candidates: list[str] = []
    for part in value.split(","):
        key, sep, item = part.strip().partition("=")
        if not sep:
            continue
        if key == "t":
            stamp = item
        elif key == "v1":
            candidates.append(item.lower())
    if stamp is None or not stamp.isdigit():
        raise SignatureError(f"{label} has no numeric t= timestamp")
    if not candidates:
        raise SignatureError(f"{label} has no v1= signature")
    expected = _hmac(secret.encode(), stamp.encode() + b"." + body).hex()
    if not any(hmac.compare_digest(candidate, expected) for candidate in candidates):
        raise SignatureError(f"{label} does not match the body")
    _check_fresh(datetime.fromtimestamp(int(stamp), UTC), now=now, tolerance=tolerance)


def _check_fresh(signed_at: datetime, *, now: datetime, tolerance: timedelta) -> None:
    age = now - signed_at
    if abs(age) > tolerance:
        raise SignatureError(
            f"signature timestamp {signed_at.isoformat()} is outside the "
            f"{int(tolerance.total_seconds())} s window around {now.isoformat()}"
        )


def _header(headers: Mapping[str, str], name: str) -> str:
    value = lower_headers(headers).get(name)
    if not value:
        raise SignatureError(f"missing {name} header")
    return value


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _compare_base64(given: str, expected: bytes, label: str) -> None:
    try:
        decoded = base64.b64decode(given.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise SignatureError(f"{label} is not valid base64") from exc
    if not hmac.compare_digest(decoded, expected):
        raise SignatureError(f"{label} does not match the body")
