"""What every provider adapter needs: strict JSON reading, money, times, envelopes.

Adapters are pure: bytes and headers in, canonical envelope dicts out. Each envelope's
``data`` is validated against the canonical model here, before it leaves the adapter,
so a provider payload that cannot be mapped fails at the edge with a reason naming the
provider field, instead of deep inside a projector.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from pydantic import ValidationError

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import DATA_MODELS, EventType
from orderops.ingest import safe_json

JsonObject = dict[str, Any]


class UnsupportedEvent(InvalidEvent):
    """The provider sent a topic or event type this adapter does not know.

    Kept apart from plain ``InvalidEvent`` so the intake can tell "subscribed to
    something we never mapped" (configuration) from "malformed payload" (sender bug).
    """

    code = "unsupported-event"


# ISO 4217 exponents that are not 2; everything else has cents.
_ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "ISK",
        "JPY",
        "KMF",
        "KRW",
        "PYG",
        "RWF",
        "UGX",
        "UYI",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
_THREE_DECIMAL = frozenset(["BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"])


def load_object(body: bytes, *, provider: str) -> JsonObject:
    """Decode the raw body as one JSON object, or refuse with the decoder's reason."""
    try:
        value = safe_json.loads(body)
    except safe_json.UnsafeJson as exc:
        raise InvalidEvent(f"{provider} payload refused: {exc.message}") from exc
    if not isinstance(value, dict):
        raise InvalidEvent(f"{provider} payload must be a JSON object, got {type(value).__name__}")
    return value


def obj(parent: Mapping[str, Any], key: str, *, where: str) -> JsonObject:
    """A required nested object."""
    value = parent.get(key)
    if not isinstance(value, dict):
        raise InvalidEvent(f"{where}.{key} is missing or not an object")
    return value


def opt_obj(parent: Mapping[str, Any], key: str) -> JsonObject | None:
    value = parent.get(key)
    return value if isinstance(value, dict) else None


def text(parent: Mapping[str, Any], key: str, *, where: str) -> str:
    """A required identifier or string; numbers are accepted and kept exact as text."""
    value = opt_text(parent, key)
    if value is None:
        raise InvalidEvent(f"{where}.{key} is missing")
    return value


def opt_text(parent: Mapping[str, Any], key: str) -> str | None:
    value = parent.get(key)
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | str):
        stripped = str(value).strip()
        return stripped or None
    return None


def to_minor(amount: Any, currency: str, *, where: str) -> int:
    """Convert a decimal amount ("19.99" or 19.99) to minor units without binary floats.

    Numbers arriving as JSON floats are read through ``str`` so 19.99 stays 19.99.
    An amount with more precision than the currency allows is refused, not rounded:
    silently moving a cent is how ledgers drift.
    """
    try:
        value = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError) as exc:
        raise InvalidEvent(f"{where} is not a decimal amount: {amount!r}") from exc
    if not value.is_finite():
        raise InvalidEvent(f"{where} is not a finite amount: {amount!r}")
    minor = value.scaleb(currency_exponent(currency))
    if minor != minor.to_integral_value():
        raise InvalidEvent(f"{where} has more decimals than {currency} allows: {amount!r}")
    return int(minor)


def currency_exponent(currency: str) -> int:
    code = currency.upper()
    if code in _ZERO_DECIMAL:
        return 0
    if code in _THREE_DECIMAL:
        return 3
    return 2


def parse_time(value: Any, *, where: str) -> datetime:
    """ISO 8601 text (with offset or Z) or Unix seconds, returned in UTC.

    A time without a zone is refused: it is ambiguous by hours, and these times decide
    which of two updates is the newer one.
    """
    if isinstance(value, bool):
        raise InvalidEvent(f"{where} is not a time: {value!r}")
    if isinstance(value, int):
        return datetime.fromtimestamp(value, UTC)
    if not isinstance(value, str) or not value.strip():
        raise InvalidEvent(f"{where} is missing")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidEvent(f"{where} is not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        raise InvalidEvent(f"{where} has no timezone: {value!r}")
    return parsed.astimezone(UTC)


def opt_time(value: Any, *, where: str) -> datetime | None:
    if value is None or value == "":
        return None
    return parse_time(value, where=where)


MAX_KEYS = 50
"""As many keys as a canonical ``Keys`` list holds; the first ones are the surest."""


def external_keys(pairs: Iterable[tuple[str, str | None]]) -> list[JsonObject]:
    """``ExternalKey`` dicts for the pairs that carry a value, first occurrence kept.

    Values go out exactly as the provider wrote them (resolve normalises them), and in
    the order given, because resolve tries them in that order: surest key first.
    """
    seen: set[tuple[str, str]] = set()
    keys: list[JsonObject] = []
    for kind, value in pairs:
        if value is None or not value.strip() or (kind, value) in seen:
            continue
        seen.add((kind, value))
        keys.append({"kind": kind, "value": value})
    return keys[:MAX_KEYS]


def derived_id(source: str, *parts: str) -> str:
    """A stable id for providers that send none: same facts, same id, so retries dedupe."""
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]
    return f"{source}-{digest}"


def event(
    *,
    source: str,
    event_id: str,
    type_: EventType,
    time: datetime,
    subject: str | None,
    data: Mapping[str, Any],
) -> JsonObject:
    """Build one canonical envelope dict, JSON-ready, with ``data`` already validated."""
    model = DATA_MODELS[type_]
    try:
        payload = model.model_validate(dict(data))
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or '(root)'}: {err['msg']}"
            for err in exc.errors()[:5]
        )
        raise InvalidEvent(f"{source} payload does not map to {type_}: {problems}") from exc
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": source,
        "type": str(type_),
        "time": time.astimezone(UTC).isoformat(),
        "subject": subject,
        "data": payload.model_dump(mode="json", exclude_none=True),
    }
