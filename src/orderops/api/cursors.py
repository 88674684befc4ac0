"""Opaque, signed page cursors for every keyset listing of the API: "the page after this row".

A token is ``base64url(JSON) "." base64url(HMAC-SHA256)``: the JSON holds the listing (or
the sort, for the case list), the last row's sort key and its id; the MAC, under a key
derived from the secret key, covers the JSON and the tenant it was issued to. The MAC is
checked before the JSON is parsed, so a garbled or edited token, one issued to another
tenant, or one issued for another listing is a 400 problem (``invalid-cursor``) that
tells nothing about any row, and nothing unauthenticated reaches a query. The JSON is then
validated against the listing's key types all the same.

``Cursors`` is the signer every listing shares (``api/case_cursor.py`` is the case list's
view of it); ``Listing`` adds what a route needs: one listing's key type, the refusal of a
cursor sent with an offset, and the ``Link: rel="next"`` header.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from fastapi import Request, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from orderops.api.auth import app_of
from orderops.domain.errors import OrderOpsError

MAX_CURSOR_CHARS = 1024
"""Far above any real token (about 200 characters) and far below anything costly."""

PURPOSE = b"orderops-cursor/1"

CURSOR_DESCRIPTION = (
    '`next_cursor` of the previous page (or the `cursor` of its `Link: rel="next"` header), '
    "same filters; not with an offset"
)
LINK_HEADER: dict[str, Any] = {
    "description": 'The next page, as `<path?query>; rel="next"`; absent on the last page',
    "schema": {"type": "string"},
}
"""The ``Link`` response header, as the OpenAPI document shows it (``responses=``)."""


class InvalidCursor(OrderOpsError):
    """A cursor this server did not issue to this tenant for this listing (answered 400)."""

    code = "invalid-cursor"


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    v: Literal[1]
    sort: str = Field(min_length=1, max_length=40)
    key: list[Any] = Field(max_length=8)
    id: str = Field(min_length=1, max_length=64)


class Cursors:
    """Signs and reads cursors for one tenant; ``sort`` names the listing and its order."""

    def __init__(self, secret_key: str, *, tenant_id: str, purpose: bytes = PURPOSE) -> None:
        self._key = hmac.new(secret_key.encode("utf-8"), purpose, hashlib.sha256).digest()
        self._tenant = tenant_id.encode("utf-8")

    def encode(self, sort: str, key: Sequence[Any], row_id: str) -> str:
        values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
        body = {"v": 1, "sort": sort, "key": values, "id": row_id}
        payload = json.dumps(body, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return f"{_b64(payload)}.{_b64(self._mac(payload))}"

    def decode(
        self, token: str, *, sorts: dict[str, TypeAdapter[Any]], sort: str
    ) -> tuple[tuple[Any, ...], str]:
        """The key and id ``token`` names, if it was issued here to this tenant for ``sort``;
        ``sorts`` holds the key type of every sort the token may come from."""
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
        except ValidationError as exc:
            raise InvalidCursor("the cursor does not hold a position") from exc
        if body.sort != sort:
            raise InvalidCursor(
                f"the cursor pages another listing or sort ({body.sort!r}), not {sort!r}"
            )
        try:
            key = sorts[body.sort].validate_python(tuple(body.key))
        except (KeyError, ValidationError) as exc:
            raise InvalidCursor("the cursor does not hold a position") from exc
        return tuple(key), body.id

    def _mac(self, payload: bytes) -> bytes:
        return hmac.new(self._key, self._tenant + b"\n" + payload, hashlib.sha256).digest()


TIME_KEY: TypeAdapter[Any] = TypeAdapter(tuple[AwareDatetime])
"""The key of a listing ordered by one timestamp (then by id)."""


@dataclass(frozen=True)
class Listing:
    """One keyset listing (``incidents``, ``outbox``, ...) ordered by ``key`` then id."""

    name: str
    key: TypeAdapter[Any] = TIME_KEY

    def start_after(
        self, request: Request, tenant_id: str, cursor: str | None, *, offset: int = 0
    ) -> tuple[Any, ...] | None:
        """The position to page from (its key values then its id), None for the first page."""
        if cursor is None:
            return None
        if offset:
            raise InvalidCursor("page by cursor or by offset, not both")
        key, row_id = self._cursors(request, tenant_id).decode(
            cursor, sorts={self.name: self.key}, sort=self.name
        )
        return (*key, row_id)

    def next_cursor(
        self,
        request: Request,
        response: Response,
        tenant_id: str,
        last: tuple[Sequence[Any], str] | None,
    ) -> str | None:
        """The cursor after ``last`` (its key and id), also sent as ``Link: rel="next"``;
        None when there is no next page."""
        if last is None:
            return None
        token = self._cursors(request, tenant_id).encode(self.name, *last)
        link_next(request, response, token)
        return token

    @staticmethod
    def _cursors(request: Request, tenant_id: str) -> Cursors:
        return Cursors(app_of(request).settings.secret_key, tenant_id=tenant_id)


def link_next(request: Request, response: Response, token: str) -> None:
    """``Link: <this request with cursor=token and no offset>; rel="next"``."""
    following = request.url.remove_query_params("offset").include_query_params(cursor=token)
    response.headers["Link"] = f'<{following.path}?{following.query}>; rel="next"'


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    if not text:
        raise ValueError("empty")
    return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
