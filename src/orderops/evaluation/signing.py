"""Each provider's published webhook signature scheme, written from the providers' docs.

These are deliberately not ``orderops.ingest.signatures``: the evaluation signs as the
provider would, so a desk that verified against a misreading of a scheme would refuse
these deliveries and the report would count them, instead of agreeing with itself.

- Shopify: ``X-Shopify-Hmac-Sha256`` = base64(HMAC-SHA256(secret, body)).
- Stripe: ``Stripe-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
- EasyPost: ``X-Hmac-Signature: hmac-sha256-hex=<hex HMAC-SHA256(NFKD(secret), body)>``.
- Shippo: ``Shippo-Auth-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>``.
- AfterShip: ``aftership-hmac-sha256`` = base64(HMAC-SHA256(secret, body)).
- Zendesk: ``X-Zendesk-Webhook-Signature`` = base64(HMAC-SHA256(secret, timestamp + body))
  with ``X-Zendesk-Webhook-Signature-Timestamp`` (ISO 8601, UTC, seconds).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Callable
from datetime import UTC, datetime

Signer = Callable[[bytes, str, datetime], dict[str, str]]


class UnknownProvider(ValueError):
    """A delivery names a provider with no known signature scheme."""


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _unix(at: datetime) -> str:
    return str(int(at.timestamp()))


def sign_shopify(body: bytes, secret: str, at: datetime) -> dict[str, str]:
    return {"X-Shopify-Hmac-Sha256": _b64(_mac(secret.encode(), body))}


def sign_stripe(body: bytes, secret: str, at: datetime) -> dict[str, str]:
    stamp = _unix(at)
    digest = _mac(secret.encode(), stamp.encode() + b"." + body).hex()
    return {"Stripe-Signature": f"t={stamp},v1={digest}"}


def sign_easypost(body: bytes, secret: str, at: datetime) -> dict[str, str]:
    key = unicodedata.normalize("NFKD", secret).encode()
    return {"X-Hmac-Signature": "hmac-sha256-hex=" + _mac(key, body).hex()}


def sign_shippo(body: bytes, secret: str, at: datetime) -> dict[str, str]:
    stamp = _unix(at)
    digest = _mac(secret.encode(), stamp.encode() + b"." + body).hex()
    return {"Shippo-Auth-Signature": f"t={stamp},v1={digest}"}


def sign_aftership(body: bytes, secret: str, at: datetime) -> dict[str, str]:
    return {"aftership-hmac-sha256": _b64(_mac(secret.encode(), body))}


def sign_zendesk(body: bytes, secret: str, at: datetime) -> dict[str, str]:
    stamp = at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "X-Zendesk-Webhook-Signature": _b64(_mac(secret.encode(), stamp.encode() + body)),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


SIGNERS: dict[str, Signer] = {
    "shopify": sign_shopify,
    "stripe": sign_stripe,
    "easypost": sign_easypost,
    "shippo": sign_shippo,
    "aftership": sign_aftership,
    "zendesk": sign_zendesk,
}

SIGNATURE_HEADERS: frozenset[str] = frozenset(
    {
        "x-shopify-hmac-sha256",
        "stripe-signature",
        "x-hmac-signature",
        "shippo-auth-signature",
        "aftership-hmac-sha256",
        "x-zendesk-webhook-signature",
        "x-zendesk-webhook-signature-timestamp",
    }
)
"""Headers a provider computes at sending time; a recorded delivery must not carry them."""


def sign(provider: str, body: bytes, secret: str, at: datetime) -> dict[str, str]:
    """The signature headers ``provider`` would send with ``body`` at ``at``."""
    signer = SIGNERS.get(provider)
    if signer is None:
        raise UnknownProvider(f"no signature scheme for provider {provider!r}")
    return signer(body, secret, at)
