"""Case facts from a canonical event stream (the simulator's), without a database.

The evaluation replays the simulator's events through this fold and recommends from the
result, so measuring the recommender needs neither the pipeline nor any detector.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from orderops.domain.cases import ExceptionType
from orderops.domain.events import EventType
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.recommend.dispute_refs import dispute_ref_from
from orderops.recommend.facts import (
    CaseFacts,
    LineFact,
    PaymentFact,
    ScanFact,
    ShipmentFact,
    TicketFact,
    address_failed,
)


class _Order:
    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.cancelled = False
        self.payments: dict[str, PaymentFact] = {}
        self.shipments: dict[str, dict[str, Any]] = {}
        self.scans: dict[str, list[ScanFact]] = {}
        self.tickets: list[TicketFact] = []
        self.fraud: list[tuple[str, float | None, str | None]] = []


def fold_stock(
    events: Iterable[Mapping[str, Any]], *, until: datetime
) -> dict[tuple[str, str], int]:
    """Units available per (SKU, location) at ``until``: the last level each reported."""
    stock: dict[tuple[str, str], int] = {}
    for event in events:
        if event["type"] == EventType.INVENTORY_LEVEL and (
            datetime.fromisoformat(event["time"]) <= until
        ):
            data = event["data"]
            stock[(data["sku"], data["location"])] = int(data["available"])
    return stock


def known_lines(events: Iterable[Mapping[str, Any]]) -> dict[str, tuple[str | None, int]]:
    """(title, unit price) per SKU seen on an order: the catalogue a store's orders imply."""
    seen: dict[str, tuple[str | None, int]] = {}
    for event in events:
        if event["type"] == EventType.ORDER_PLACED:
            for line in event["data"].get("lines") or []:
                seen.setdefault(line["sku"], (line.get("title"), int(line["unit_price_minor"])))
    return seen


def fold_orders(events: Iterable[Mapping[str, Any]], *, until: datetime) -> dict[str, _Order]:
    orders: dict[str, _Order] = {}
    tracking_order: dict[str, str] = {}
    for event in events:
        if datetime.fromisoformat(event["time"]) > until:
            continue
        kind, data = EventType(event["type"]), event["data"]
        if kind in (EventType.ORDER_PLACED, EventType.ORDER_UPDATED):
            orders.setdefault(data["order_ref"], _Order()).data = dict(data)
        elif kind is EventType.ORDER_CANCELLED:
            orders.setdefault(data["order_ref"], _Order()).cancelled = True
        elif kind is EventType.PAYMENT_UPDATED and data.get("order_ref"):
            orders.setdefault(data["order_ref"], _Order()).payments[data["payment_ref"]] = (
                PaymentFact(
                    payment_ref=data["payment_ref"],
                    status=PaymentStatus(data["status"]),
                    amount_minor=int(data["amount_minor"]),
                    refunded_minor=int(data.get("amount_refunded_minor") or 0),
                )
            )
        elif kind is EventType.SHIPMENT_CREATED:
            tracking_order[data["tracking_number"]] = data["order_ref"]
            order = orders.setdefault(data["order_ref"], _Order())
            order.shipments[data["tracking_number"]] = {**data, "shipped_at": event["time"]}
        elif kind is EventType.SHIPMENT_TRACKING:
            ref = tracking_order.get(data["tracking_number"])
            if ref is not None:
                orders[ref].scans.setdefault(data["tracking_number"], []).append(
                    ScanFact(
                        status=TrackingStatus(data["status"]),
                        at=datetime.fromisoformat(data["occurred_at"]),
                        location=data.get("location"),
                        message=data.get("message"),
                    )
                )
        elif kind is EventType.TICKET_UPDATED and data.get("order_ref"):
            orders.setdefault(data["order_ref"], _Order()).tickets.append(
                TicketFact(
                    ticket_ref=data["ticket_ref"],
                    source=data.get("source", "zendesk"),
                    subject=data.get("subject"),
                    body=data.get("body"),
                    opened_at=datetime.fromisoformat(event["time"]),
                )
            )
        elif kind is EventType.FRAUD_SIGNAL:
            orders.setdefault(data["order_ref"], _Order()).fraud.append(
                (data["kind"], data.get("score"), data.get("detail"))
            )
    return orders


def _shipment(tracking: str, data: dict[str, Any], scans: list[ScanFact]) -> ShipmentFact:
    ordered = sorted(scans, key=lambda s: s.at)
    delivered = [s.at for s in ordered if s.status is TrackingStatus.DELIVERED]
    eta = data.get("estimated_delivery")
    return ShipmentFact(
        tracking_number=tracking,
        carrier=data["carrier"],
        service=data.get("service"),
        status=ordered[-1].status if ordered else TrackingStatus.LABEL_CREATED,
        shipped_at=datetime.fromisoformat(data["shipped_at"]),
        delivered_at=delivered[0] if delivered else None,
        estimated_delivery=datetime.fromisoformat(eta) if eta else None,
        scans=tuple(ordered),
    )


def facts_for(
    order: _Order,
    *,
    exception_type: ExceptionType,
    now: datetime,
    case_id: str | None = None,
    stock: Mapping[tuple[str, str], int] | None = None,
) -> CaseFacts:
    data = order.data
    customer = data.get("customer") or {}
    shipments = tuple(_shipment(t, d, order.scans.get(t, [])) for t, d in order.shipments.items())
    scores = [s for _, s, _ in order.fraud if s is not None]
    dispute = dispute_ref_from(d for k, _, d in order.fraud if k == "dispute")
    failed = address_failed(shipments) or exception_type is ExceptionType.ADDRESS_PROBLEM
    return CaseFacts(
        exception_type=exception_type,
        case_id=case_id,
        order_ref=data["order_ref"],
        order_number=data.get("number"),
        currency=data["currency"],
        total_minor=int(data["total_minor"]),
        placed_at=datetime.fromisoformat(data["placed_at"]),
        promised_by=datetime.fromisoformat(data["promised_by"])
        if data.get("promised_by")
        else None,
        service_level=data.get("service_level"),
        location=data.get("location"),
        cancelled=order.cancelled,
        now=now,
        customer_id=customer.get("customer_ref"),
        customer_name=customer.get("name"),
        customer_email=customer.get("email"),
        customer_phone=customer.get("phone"),
        customer_tier=customer.get("tier") or "standard",
        ship_to_country=(data.get("ship_to") or {}).get("country"),
        address_verified=False if failed else None,
        lines=tuple(
            LineFact(
                sku=line["sku"],
                title=line.get("title"),
                quantity=int(line["quantity"]),
                unit_price_minor=int(line["unit_price_minor"]),
                location=line.get("location") or data.get("location"),
            )
            for line in data.get("lines") or []
        ),
        payments=tuple(order.payments.values()),
        shipments=shipments,
        tickets=tuple(order.tickets),
        fraud_kinds=tuple(k for k, _, _ in order.fraud),
        fraud_score=max(scores) / 100 if scores else None,
        dispute_ref=dispute,
        stock=dict(stock or {}),
    )
