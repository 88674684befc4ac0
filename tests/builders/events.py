"""Builders for canonical events: sensible defaults, override only what a test is about."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from typing import Any

_ids = itertools.count(1)


def _iso(value: datetime) -> str:
    return value.isoformat()


def envelope(
    type_: str,
    data: dict[str, Any],
    *,
    at: datetime,
    subject: str | None = None,
    source: str = "test://shop",
    event_id: str | None = None,
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id or f"evt-{next(_ids)}",
        "source": source,
        "type": type_,
        "time": _iso(at),
        "subject": subject,
        "data": data,
    }


def order_placed(
    order_ref: str = "o-1",
    *,
    at: datetime,
    promised_by: datetime | None = None,
    total_minor: int = 5000,
    number: str | None = "1001",
    **kw: Any,
) -> dict[str, Any]:
    data = {
        "order_ref": order_ref,
        "number": number,
        "currency": "USD",
        "total_minor": total_minor,
        "placed_at": _iso(at),
        "promised_by": _iso(promised_by or at + timedelta(days=5)),
        "service_level": "standard",
        "customer": {"customer_ref": f"cust-{order_ref}", "email": f"{order_ref}@example.com"},
        "lines": [{"sku": "SKU-1", "quantity": 1, "unit_price_minor": total_minor}],
    }
    return envelope("order.placed", data, at=at, subject=order_ref, **kw)


def payment(
    order_ref: str = "o-1",
    *,
    status: str,
    at: datetime,
    payment_ref: str = "pi_1",
    amount_minor: int = 5000,
    failure_code: str | None = None,
    **kw: Any,
) -> dict[str, Any]:
    data = {
        "payment_ref": payment_ref,
        "order_ref": order_ref,
        "provider": "stripe",
        "status": status,
        "amount_minor": amount_minor,
        "currency": "USD",
        "failure_code": failure_code,
    }
    return envelope("payment.updated", data, at=at, subject=order_ref, source="test://stripe", **kw)


def shipment(
    order_ref: str = "o-1", *, at: datetime, tracking: str = "1Z999", **kw: Any
) -> dict[str, Any]:
    data = {
        "shipment_ref": f"shp-{order_ref}",
        "order_ref": order_ref,
        "carrier": "UPS",
        "tracking_number": tracking,
    }
    return envelope(
        "shipment.created", data, at=at, subject=order_ref, source="test://carrier", **kw
    )


def scan(
    status: str, *, at: datetime, tracking: str = "1Z999", order_ref: str | None = "o-1", **kw: Any
) -> dict[str, Any]:
    data = {
        "tracking_number": tracking,
        "carrier": "UPS",
        "status": status,
        "occurred_at": _iso(at),
        "location": "Memphis, TN",
    }
    return envelope(
        "shipment.tracking", data, at=at, subject=order_ref, source="test://carrier", **kw
    )


def cancelled(order_ref: str = "o-1", *, at: datetime, **kw: Any) -> dict[str, Any]:
    return envelope(
        "order.cancelled",
        {"order_ref": order_ref, "reason": "customer"},
        at=at,
        subject=order_ref,
        **kw,
    )
