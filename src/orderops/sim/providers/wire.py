"""What every renderer hands the delivery schedule, and how providers write times and money."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

SHOP_ZONE = ZoneInfo("America/New_York")
"""Shopify renders every time in the shop's own zone, with its offset."""


@dataclass(frozen=True)
class Draft:
    """One HTTP delivery before it is scheduled: when its event happened, and what is sent."""

    occurred_at: datetime
    provider: str
    headers: dict[str, str]
    body: dict[str, Any]
    subject: str
    """The object the delivery is about (``order:1``, ``pi:pi_1``, ``parcel:1Z..``), so a
    later version overtaking an earlier one can be told from unrelated traffic."""
    order_id: int | None = None
    """The order the story behind it belongs to (never sent; used to count conventions)."""
    latency: tuple[float, float] = (1.0, 8.0)
    tags: tuple[str, ...] = field(default=())
    """Conventions this delivery exercises (never sent; counted in the census)."""


def utc(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def shop_time(at: datetime) -> str:
    return at.astimezone(SHOP_ZONE).isoformat(timespec="seconds")


def unix(at: datetime) -> int:
    return int(at.timestamp())


def money(minor: int) -> str:
    return f"{minor // 100}.{minor % 100:02d}"


def money_set(minor: int, currency: str = "USD") -> dict[str, Any]:
    amount = {"amount": money(minor), "currency_code": currency}
    return {"shop_money": dict(amount), "presentment_money": dict(amount)}
