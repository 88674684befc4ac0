"""Reading untrusted JSON: refuse, with a reason, what would break us after parsing.

``json.loads`` accepts documents that fail later and far from the door: nesting deep
enough to exhaust Python's recursion (a ``RecursionError`` in the parser or in whatever
walks the value next), integers past Python's digit limit (a ``ValueError``), NaN and
infinities (no JSON column can store them), NUL characters (PostgreSQL text cannot hold
``\\u0000``) and lone surrogates (not encodable as UTF-8). Every request body and webhook
is read here, so each of those is one clear refusal with a stable reason code, which the
intake puts on the dead letter.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from orderops.domain.errors import MalformedPayload

MAX_DEPTH = 64
"""Arrays and objects nested deeper than this are refused before the parser recurses.
Real payloads (Shopify orders, Stripe events) stay under 10."""

MAX_INTEGER_DIGITS = 64
"""Longer integer literals are refused: no amount or id needs more, and Python refuses
conversion past 4,300 digits anyway."""

_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")
"""Openers to +1 and closers to -1, read as signed bytes."""
_SURROGATE = re.compile("[\ud800-\udfff]")
_ESCAPE_OR_SURROGATE = re.compile(rb"\\u|\xed[\xa0-\xbf]")
"""A ``\\u`` escape, or a surrogate's UTF-8 bytes (json decodes bytes with surrogatepass);
raw control characters are not JSON, so strings without either hold no NUL or surrogate."""


class UnsafeJson(MalformedPayload):
    """A body that is not JSON we can safely hold; ``reason_code`` names why."""

    code = "unsafe-json"

    def __init__(self, message: str, *, reason_code: str) -> None:
        super().__init__(message)
        self.reason_code = reason_code


def loads(body: bytes | str) -> Any:
    """Decode ``body`` as JSON, or raise ``UnsafeJson`` with the reason and its code."""
    raw = body.encode("utf-8", errors="surrogatepass") if isinstance(body, str) else body
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH:  # fewer brackets cannot nest deeper
        depth = nesting_depth(raw)
        if depth > MAX_DEPTH:
            raise UnsafeJson(
                f"JSON nested {depth} levels deep; at most {MAX_DEPTH} are accepted",
                reason_code="json_too_deep",
            )
    try:
        value = json.loads(raw, parse_int=_integer, parse_float=_float, parse_constant=_constant)
    except UnsafeJson:
        raise
    except (UnicodeDecodeError, ValueError) as exc:  # JSONDecodeError is a ValueError
        raise UnsafeJson(f"body is not valid JSON: {exc}", reason_code="malformed_json") from exc
    except RecursionError as exc:  # only if the depth count above was wrong; never a 500
        raise UnsafeJson("JSON nested too deep", reason_code="json_too_deep") from exc
    if _ESCAPE_OR_SURROGATE.search(raw):  # the only ways a NUL or a lone surrogate gets in
        _check_strings(value)
    return value


def nesting_depth(raw: bytes) -> int:
    """The deepest bracket nesting outside strings, counted at C speed (no recursion).

    numpy is imported here, not with the module: the CLI and anything else that merely
    imports the intake should not pay for it before the first body arrives."""
    import numpy as np

    brackets = _STRING.sub(b'""', raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    steps = np.frombuffer(brackets.translate(_STEPS), dtype=np.int8)
    return int(np.cumsum(steps, dtype=np.int64).max())


def _integer(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INTEGER_DIGITS:
        raise UnsafeJson(
            f"an integer of {digits} digits; at most {MAX_INTEGER_DIGITS} are accepted",
            reason_code="json_number_too_long",
        )
    return int(text)


def _float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeJson(
            f"the number {text[:40]} is out of range", reason_code="json_non_finite_number"
        )
    return value


def _constant(name: str) -> float:
    raise UnsafeJson(f"{name} is not a JSON number", reason_code="json_non_finite_number")


def _check_strings(value: Any) -> None:
    """Refuse NUL characters and lone surrogates in any key or string value.

    Iterative, so it cannot recurse; the depth check already bounds the work per item."""
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            _check_text(item)
        elif isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                pending.append(child)
        elif isinstance(item, list):
            pending.extend(item)


def _check_text(text: str) -> None:
    if "\x00" in text:
        raise UnsafeJson(
            "a string holds a NUL character (\\u0000), which cannot be stored",
            reason_code="json_nul_character",
        )
    if _SURROGATE.search(text):
        raise UnsafeJson(
            "a string holds a lone UTF-16 surrogate, which is not valid Unicode",
            reason_code="json_invalid_unicode",
        )
