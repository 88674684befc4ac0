"""What the API shows of a desk hold (``domain/holds.py``): on its case and in the list."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict


class HoldRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    order_ref: str
    case_id: str
    action_id: str
    kind: str
    reason: str
    owner: str
    """The identity whose approval placed it."""
    status: str
    """active, release_due (asked to end, waiting for its placing to settle) or released."""
    placed_at: datetime
    expires_at: datetime
    release_requested_at: datetime | None
    released_at: datetime | None
    release_reason: str | None
    released_by: str | None
    place_outbox_id: str
    release_outbox_id: str | None


class HoldList(BaseModel):
    items: list[HoldRead]
