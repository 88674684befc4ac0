"""What the API shows of a desk hold (``domain/holds.py``): on its case and in the list."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class HoldRead(BaseModel):
    model_config = ConfigDict(
        from_attributes=True,
        json_schema_extra={
            "examples": [
                {
                    "id": "5d0c1f8e9a7b4c3d2e1f0a9b8c7d6e5f",
                    "order_ref": "shopify:5012345678901",
                    "case_id": "8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d",
                    "action_id": "1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d",
                    "kind": "fulfillment_hold",
                    "reason": "suspected fraud: hold until the payment is reviewed",
                    "owner": "user:3f2e1d0c",
                    "status": "active",
                    "placed_at": "2026-11-20T09:12:00Z",
                    "expires_at": "2026-11-22T09:12:00Z",
                    "release_requested_at": None,
                    "released_at": None,
                    "release_reason": None,
                    "released_by": None,
                    "place_outbox_id": "9f8e7d6c5b4a39281706f5e4d3c2b1a0",
                    "release_outbox_id": None,
                }
            ]
        },
    )

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
    """A page of holds, newest first; follow ``next_cursor`` (also ``Link: rel="next"``)."""

    items: list[HoldRead]
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null on the last page."
    )
