"""The canonical event envelope, shaped like a CloudEvent (id, source, type, time, subject, data).

The tenant is never taken from the payload alone: the intake stamps the tenant of the
authenticated caller and refuses an envelope that names another one.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import DATA_MODELS, EventType, UtcDatetime, _Data

MAX_EVENT_BYTES = 256 * 1024
"""A single event larger than this is refused: no real order event comes close."""


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    specversion: str = "1.0"
    id: str = Field(min_length=1, max_length=200)
    source: str = Field(min_length=1, max_length=200)
    type: EventType
    time: UtcDatetime
    tenant: str | None = Field(default=None, max_length=64)
    subject: str | None = Field(default=None, max_length=200)
    data: dict[str, Any]


class CanonicalEvent(BaseModel):
    """An envelope whose ``data`` has been validated against its type's model."""

    model_config = ConfigDict(frozen=True)

    envelope: Envelope
    payload: _Data

    @property
    def type(self) -> EventType:
        return self.envelope.type


def parse_event(raw: Any, *, tenant_id: str) -> CanonicalEvent:
    """Validate one decoded JSON value as a canonical event for ``tenant_id``.

    Raises ``InvalidEvent`` with a message that names the failing field, because the
    sender has to fix it from that message alone.
    """
    if not isinstance(raw, dict):
        raise InvalidEvent(f"an event must be a JSON object, got {type(raw).__name__}")
    try:
        envelope = Envelope.model_validate(raw)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid envelope: {_describe(exc)}") from exc
    if envelope.tenant is not None and envelope.tenant != tenant_id:
        raise InvalidEvent("envelope names another tenant than the caller's")
    model = DATA_MODELS[envelope.type]
    try:
        payload = model.model_validate(envelope.data)
    except ValidationError as exc:
        raise InvalidEvent(f"invalid data for {envelope.type}: {_describe(exc)}") from exc
    return CanonicalEvent(
        envelope=envelope.model_copy(update={"tenant": tenant_id}), payload=payload
    )


def _describe(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        location = ".".join(str(p) for p in err["loc"]) or "(root)"
        parts.append(f"{location}: {err['msg']}")
    more = exc.error_count() - len(parts)
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
