"""Request parsing and authentication helpers the vendor sandboxes share."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

_BRACKETED = re.compile(r"^(?P<name>[^\[]+)\[(?P<key>[^\]]*)\]$")


def parse_form(raw: bytes) -> dict[str, str]:
    """Flat form fields, as Stripe receives them (``metadata[k]`` keys kept as written)."""
    return dict(parse_qsl(raw.decode(), keep_blank_values=True))


def form_group(fields: dict[str, str], name: str) -> dict[str, str]:
    """Collect ``name[key]=value`` fields into ``{key: value}``."""
    group: dict[str, str] = {}
    for field_name, value in fields.items():
        match = _BRACKETED.match(field_name)
        if match and match["name"] == name:
            group[match["key"]] = value
    return group


async def json_body(request: Request) -> dict[str, Any] | None:
    """The JSON object body, or None when it is missing or not an object."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    header = request.headers.get("authorization", "")
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return None
    user, _, password = decoded.partition(":")
    return user, password


def fingerprint(method: str, path: str, params: Any) -> str:
    """A stable identity for "the same request" when judging idempotency-key reuse."""
    return json.dumps([method.upper(), path, params], sort_keys=True, default=str)


class ApiError(Exception):
    """Raised inside a sandbox handler; rendered in the vendor's error shape by the control."""

    def __init__(
        self, status: int, code: str, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}
