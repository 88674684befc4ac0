"""The customer's choice link: a signed, expiring token naming one offer of one tenant.

A token is ``base64url(JSON) "." base64url(HMAC-SHA256)``. The JSON holds the tenant, the
case, the offer id (128 random bits, so not guessable even without the MAC) and the expiry;
the MAC is taken under a key of that tenant alone, derived from the app's secret key
(``ChoiceLinkKeys``), so a token edited to name another tenant, case or offer, or signed
with another tenant's key, does not verify. Nothing in the JSON is believed before the MAC
checks out, except the tenant name used to pick the key, which the MAC then covers.

Single use and withdrawal are not the token's business: the offer row decides those
(``workflow/choices.py``). Pure: time comes in as arguments.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orderops.domain.errors import OrderOpsError

MAX_TOKEN_CHARS = 600
"""Far above a real token (about 230 characters), far below anything costly to read."""
_PURPOSE = b"orderops-choice-link/1"


class ChoiceLinkRefused(OrderOpsError):
    """A link the desk will not act on; ``reason`` is one of forged, expired, used,
    withdrawn, wrong_case, not_found (what the page and the audit record say)."""

    code = "choice-link-refused"

    def __init__(self, message: str, *, reason: str, language: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.language = language
        """The customer's language when the offer was found (the page answers in it)."""


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    t: str = Field(min_length=1, max_length=64)
    c: str = Field(min_length=1, max_length=32)
    o: str = Field(pattern=r"^[0-9a-f]{32}$")
    e: int = Field(ge=0, lt=2**40)


@dataclass(frozen=True, kw_only=True)
class ChoiceLink:
    tenant_id: str
    case_id: str
    offer_id: str
    expires_at: datetime


class ChoiceLinkKeys:
    """Signs and verifies links; one key per tenant, none stored."""

    def __init__(self, secret_key: str) -> None:
        self._base = hmac.new(secret_key.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()

    def _key(self, tenant_id: str) -> bytes:
        return hmac.new(self._base, tenant_id.encode("utf-8"), hashlib.sha256).digest()

    def sign(self, link: ChoiceLink) -> str:
        body = {
            "v": 1,
            "t": link.tenant_id,
            "c": link.case_id,
            "o": link.offer_id,
            "e": int(link.expires_at.timestamp()),
        }
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
        mac = hmac.new(self._key(link.tenant_id), payload, hashlib.sha256).digest()
        return f"{_b64(payload)}.{_b64(mac)}"

    def verify(self, token: str) -> ChoiceLink:
        """The link ``token`` carries, if this desk signed it for its tenant; else
        ``ChoiceLinkRefused`` (forged). Expiry is the caller's check, made after the offer is
        found so that the refusal can be recorded on its case."""
        forged = ChoiceLinkRefused("this link is not one the shop sent", reason="forged")
        if len(token) > MAX_TOKEN_CHARS or token.count(".") != 1:
            raise forged
        encoded_payload, encoded_mac = token.split(".")
        try:
            payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
            tenant = json.loads(payload).get("t")
        except (binascii.Error, ValueError, AttributeError) as exc:
            raise forged from exc
        if not isinstance(tenant, str) or not tenant or len(tenant) > 64:
            raise forged
        expected = hmac.new(self._key(tenant), payload, hashlib.sha256).digest()
        if not hmac.compare_digest(mac, expected):
            raise forged
        try:
            body = _Body.model_validate_json(payload)
        except ValidationError as exc:
            raise forged from exc
        return ChoiceLink(
            tenant_id=body.t,
            case_id=body.c,
            offer_id=body.o,
            expires_at=datetime.fromtimestamp(body.e, UTC),
        )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
