"""Holds the desk places: what they are, how long they last, and how they end.

A hold stops something from happening at a vendor (today: Shopify fulfilling the order)
while a case is looked at. A hold nobody remembers is worse than none, since the order
silently never ships, so each one the desk places is a record with a reason, the
identity that approved it and an expiry, and is released when its case clears, when it
expires, or by hand, whichever comes first.

Only fulfillment holds are placed by the desk: a payment authorisation is the customer's
checkout, not a hold of ours, and its capture or release is a decision of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from orderops.domain.errors import IllegalTransition

DEFAULT_EXPIRY = timedelta(hours=48)
"""How long a hold lasts when nothing clears or releases it first: long enough for a
fraud or address review over a weekend day, short enough that a forgotten hold does not
cost the customer a week."""


class HoldKind(StrEnum):
    FULFILLMENT = "fulfillment"


class HoldStatus(StrEnum):
    ACTIVE = "active"
    """Placed (or being placed) and not asked to end."""
    RELEASE_DUE = "release_due"
    """Asked to end while its placing was still on its way: released once that settles, so
    a release never overtakes the hold it undoes."""
    RELEASED = "released"


class ReleaseReason(StrEnum):
    CASE_CLEARED = "case_cleared"
    EXPIRED = "expired"
    MANUAL = "manual"


TRANSITIONS: dict[HoldStatus, frozenset[HoldStatus]] = {
    HoldStatus.ACTIVE: frozenset({HoldStatus.RELEASE_DUE, HoldStatus.RELEASED}),
    HoldStatus.RELEASE_DUE: frozenset({HoldStatus.RELEASED}),
    HoldStatus.RELEASED: frozenset(),
}


def check_hold_transition(current: HoldStatus, target: HoldStatus) -> HoldStatus:
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"a hold cannot go from {current} to {target}")
    return target


@dataclass(frozen=True)
class VendorHold:
    """Which vendor operation places a kind of hold and which one undoes it."""

    kind: HoldKind
    system: str
    place: str
    release: str


VENDOR_HOLDS: tuple[VendorHold, ...] = (
    VendorHold(HoldKind.FULFILLMENT, "shopify", "hold_fulfillment", "release_hold"),
)


def vendor_hold_for(system: str, operation: str) -> VendorHold | None:
    """The hold an outbox operation places, or None when it places none."""
    return next((v for v in VENDOR_HOLDS if (v.system, v.place) == (system, operation)), None)


def release_key(hold_id: str) -> str:
    """The release's idempotency key: one per hold, so a second release cannot be queued."""
    return f"hold-release:{hold_id}"


class PlacingState(StrEnum):
    """Where the message that places a hold stands, as far as releasing it is concerned."""

    ON_ITS_WAY = "on_its_way"
    """Queued, in flight or written but unconfirmed: a release now could arrive first."""
    PLACED = "placed"
    """Delivered: the vendor holds the order until told otherwise."""
    NEVER_PLACED = "never_placed"
    """Failed, conflicted or cancelled: there is nothing at the vendor to release."""


def expires_at(placed_at: datetime, expiry: timedelta = DEFAULT_EXPIRY) -> datetime:
    return placed_at + expiry
