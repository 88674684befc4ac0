"""Builders for impact, recurrence and incident tests: rows written straight to the tables,
so these tests depend on neither the projector nor the detectors."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from itertools import count

import orderops.storage.tables.incidents  # noqa: F401  (the incident tables)
from orderops.bootstrap import App
from orderops.domain.cases import CaseStatus
from orderops.storage.tables import Case, Customer, Order, OrderLineRow, Shipment
from orderops.storage.uow import UnitOfWork

_serial = count(1)


@dataclass(frozen=True, kw_only=True)
class Lane:
    carrier: str = "ups"
    origin: str = "WH-1"
    country: str = "DE"


DEFAULT_LANE = Lane()


def customer(app: App, *, at: datetime, tenant_id: str = "acme", tier: str = "standard") -> str:
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        row = Customer(
            tenant_id=tenant_id,
            email=f"c{next(_serial)}@example.com",
            tier=tier,
            created_at=at,
            updated_at=at,
        )
        uow.session.add(row)
        uow.commit()
        return row.id


def late_case(
    app: App,
    *,
    now: datetime,
    tenant_id: str = "acme",
    lane: Lane | None = DEFAULT_LANE,
    customer_id: str | None = None,
    total_minor: int = 5_000,
    days_late: float = 1.0,
    exception_type: str = "shipment_late",
    skus: tuple[str, ...] = ("SKU-1",),
    status: CaseStatus = CaseStatus.NEW,
) -> str:
    """An order promised ``days_late`` days before ``now``, shipped on ``lane`` (None: not
    shipped), and its open case opened at ``now``; returns the case id."""
    ref = f"o-{next(_serial)}"
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        per_line = total_minor // len(skus)
        order = Order(
            tenant_id=tenant_id,
            order_ref=ref,
            source="test",
            customer_id=customer_id,
            status="open",
            financial_status="paid",
            fulfillment_status="fulfilled" if lane else "unfulfilled",
            currency="EUR",
            total_minor=per_line * len(skus),
            placed_at=now - timedelta(days=days_late + 3),
            promised_by=now - timedelta(days=days_late),
            location="WH-1",
            ship_to={"country": lane.country if lane else "DE"},
            source_updated_at=now,
            created_at=now,
            updated_at=now,
            lines=[
                OrderLineRow(
                    tenant_id=tenant_id,
                    position=i,
                    sku=sku,
                    quantity=1,
                    unit_price_minor=per_line,
                )
                for i, sku in enumerate(skus)
            ],
        )
        uow.session.add(order)
        uow.session.flush()
        if lane is not None:
            uow.session.add(
                Shipment(
                    tenant_id=tenant_id,
                    order_ref=ref,
                    carrier=lane.carrier,
                    tracking_number=f"1Z{ref}",
                    origin_location=lane.origin,
                    status="in_transit",
                    status_at=now - timedelta(days=days_late + 1),
                    created_at=now,
                )
            )
        case = Case(
            tenant_id=tenant_id,
            order_id=order.id,
            order_ref=ref,
            exception_type=exception_type,
            status=status,
            summary=f"{ref} is late",
            detected_at=now,
            opened_at=now,
            updated_at=now,
            facts={},
        )
        uow.session.add(case)
        uow.commit()
        return case.id
