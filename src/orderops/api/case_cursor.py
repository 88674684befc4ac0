"""The case list's ``cursor``: an opaque token for "the page after this row".

A token is ``base64url(JSON) "." base64url(HMAC-SHA256)``: the JSON holds the sort, the
last row's sort key and its id; the MAC, under a key derived from the secret key, covers
the JSON and the tenant it was issued to. The MAC is checked before the JSON is parsed,
so a garbled or edited token, or one issued to another tenant, is a 400 problem that
tells nothing about any row, and nothing unauthenticated reaches the query. The JSON is
then validated against the sort's key types all the same.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from orderops.domain.errors import OrderOpsError
from orderops.storage.repositories.case_list import CasePosition
from orderops.storage.repositories.cases import CaseSort

MAX_CURSOR_CHARS = 1024
"""Far above any real token (about 200 characters) and far below anything costly."""

_PURPOSE = b"orderops-case-cursor/1"

_KEYS: dict[CaseSort, TypeAdapter[Any]] = {
    CaseSort.OPENED: TypeAdapter(tuple[AwareDatetime]),
    CaseSort.IMPACT: TypeAdapter(tuple[int | None, AwareDatetime | None, AwareDatetime]),
    CaseSort.SLA: TypeAdapter(tuple[AwareDatetime | None, int | None, AwareDatetime]),
}
"""The key of each sort, as ``CasePosition.key`` documents it."""


class InvalidCursor(OrderOpsError):
    """A cursor this server did not issue to this tenant for this sort (answered 400)."""

    code = "invalid-cursor"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    sort: CaseSort
    key: list[Any] = Field(max_length=8)
    id: str = Field(min_length=1, max_length=32)


class CursorCodec:
    """Issues and reads cursors for one tenant."""

    def __init__(self, secret_key: str, *, tenant_id: str) -> None:
        self._key = hmac.new(secret_key.encode("utf-8"), _PURPOSE, hashlib.sha256).digest()
        self._tenant = tenant_id.encode("utf-8")

    def encode(self, position: CasePosition) -> str:
        key = [v.isoformat() if isinstance(v, datetime) else v for v in position.key]
        body = {"v": 1, "sort": str(position.sort), "key": key, "id": position.case_id}
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(self, token: str, *, sort: CaseSort) -> CasePosition:
        """The position ``token`` names, if it was issued here to this tenant for ``sort``."""
        if len(token) > MAX_CURSOR_CHARS:
            raise InvalidCursor("the cursor is too long to be one this server issued")
        encoded_payload, _, encoded_mac = token.partition(".")
        try:
            payload, mac = _unb64(encoded_payload), _unb64(encoded_mac)
        except (binascii.Error, ValueError) as exc:
            raise InvalidCursor("the cursor is not one this server issued") from exc
        if not hmac.compare_digest(mac, self._mac(payload)):
            raise InvalidCursor("the cursor is not one this server issued to this tenant")
        try:
            body = _Body.model_validate_json(payload)
            key = _KEYS[body.sort].validate_python(tuple(body.key))
        except ValidationError as exc:
            raise InvalidCursor("the cursor does not hold a position") from exc
        if body.sort is not sort:
            raise InvalidCursor(f"the cursor pages sort={body.sort}, not sort={sort}")
        return CasePosition(sort=body.sort, key=tuple(key), case_id=body.id)

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, self._tenant + b"\n" + payload, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
