"""Rendering planned facts as canonical event dicts, each from the system that would report it.

Each dict has exactly the envelope keys (specversion, id, source, type, time, subject,
data). No tenant: the intake stamps the caller's tenant, so the same file can be
loaded into any tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from orderops.domain.events import EventType
from orderops.domain.statuses import PaymentStatus, TicketStatus
from orderops.sim.facts import OrderPlan, PaymentStep, ShipmentPlan, TicketPlan
from orderops.sim.ids import IdFactory
from orderops.sim.people import Customer

SHOPIFY = "sim://shopify"
STRIPE = "sim://stripe"
EASYPOST = "sim://easypost"
ZENDESK = "sim://zendesk"
CURRENCY = "USD"

Event = dict[str, Any]


def iso(value: datetime) -> str:
    return value.isoformat()


class EventRenderer:
    """Builds envelopes; event ids come from the run's ``IdFactory`` in each source's format."""

    def __init__(self, ids: IdFactory) -> None:
        self._ids = ids
        self._event_ids = {
            SHOPIFY: ids.shopify_event_id,
            STRIPE: ids.stripe_event_id,
            EASYPOST: ids.easypost_event_id,
            ZENDESK: ids.zendesk_event_id,
        }

    def envelope(
        self,
        *,
        source: str,
        type_: EventType,
        at: datetime,
        subject: str | None,
        data: dict[str, Any],
    ) -> Event:
        return {
            "specversion": "1.0",
            "id": self._event_ids[source](),
            "source": source,
            "type": type_.value,
            "time": iso(at),
            "subject": subject,
            "data": data,
        }

    def order_events(self, order: OrderPlan) -> list[Event]:
        """Everything one order's systems report, in the order they report it."""
        ref = order.order_ref
        events: list[Event] = []
        if order.first_order_of_customer:
            events.append(
                self.envelope(
                    source=SHOPIFY,
                    type_=EventType.CUSTOMER_UPSERTED,
                    at=order.placed_at,
                    subject=ref,
                    data=customer_data(order.customer),
                )
            )
        placed = order_data(order)
        for name in order.ship_to_missing:
            placed["ship_to"][name] = ""
        events.append(
            self.envelope(
                source=SHOPIFY,
                type_=EventType.ORDER_PLACED,
                at=order.placed_at,
                subject=ref,
                data=placed,
            )
        )
        if order.address_fixed_at is not None:
            events.append(
                self.envelope(
                    source=SHOPIFY,
                    type_=EventType.ORDER_UPDATED,
                    at=order.address_fixed_at,
                    subject=ref,
                    data=order_data(order),
                )
            )
        events += [self._payment(order, step) for step in order.payments]
        events += [
            self.envelope(
                source=STRIPE,
                type_=EventType.FRAUD_SIGNAL,
                at=signal.at,
                subject=ref,
                data={"order_ref": ref, "kind": signal.kind}
                | ({} if signal.score is None else {"score": signal.score}),
            )
            for signal in order.signals
        ]
        if order.cancelled_at is not None:
            events.append(
                self.envelope(
                    source=SHOPIFY,
                    type_=EventType.ORDER_CANCELLED,
                    at=order.cancelled_at,
                    subject=ref,
                    data={"order_ref": ref, "reason": order.cancel_reason},
                )
            )
        if order.shipment is not None:
            events += self._shipment(order, order.shipment)
        for extra in order.extra_shipments:
            events += self._shipment(order, extra)[1:]  # the money was captured once
        events += [self._payment(order, step) for step in order.later_payments]
        for ticket in order.tickets:
            events.append(self._ticket(order, ticket, ticket.at, TicketStatus.NEW))
            if ticket.solved_at is not None:
                events.append(self._ticket(order, ticket, ticket.solved_at, TicketStatus.SOLVED))
        return events

    def _ticket(
        self, order: OrderPlan, ticket: TicketPlan, at: datetime, status: TicketStatus
    ) -> Event:
        return self.envelope(
            source=ZENDESK,
            type_=EventType.TICKET_UPDATED,
            at=at,
            subject=order.order_ref,
            data={
                "ticket_ref": ticket.ticket_ref,
                "source": "zendesk",
                "order_ref": order.order_ref,
                "customer_email": order.customer.email,
                "subject": ticket.subject,
                "body": ticket.body,
                "status": status.value,
            },
        )

    def _payment(self, order: OrderPlan, step: PaymentStep) -> Event:
        data: dict[str, Any] = {
            "payment_ref": step.payment_ref,
            "order_ref": order.order_ref,
            "provider": "stripe",
            "status": step.status.value,
            "amount_minor": order.total_minor if step.amount_minor is None else step.amount_minor,
            "currency": CURRENCY,
        }
        if step.refunded_minor:
            data["amount_refunded_minor"] = step.refunded_minor
        if step.failure_code is not None:
            data["failure_code"] = step.failure_code
            data["failure_message"] = step.failure_message
        return self.envelope(
            source=STRIPE,
            type_=EventType.PAYMENT_UPDATED,
            at=step.at,
            subject=order.order_ref,
            data=data,
        )

    def _shipment(self, order: OrderPlan, shipment: ShipmentPlan) -> list[Event]:
        ref = order.order_ref
        good = next(p for p in order.payments if p.status is PaymentStatus.AUTHORIZED)
        captured = PaymentStep(good.payment_ref, PaymentStatus.CAPTURED, shipment.shipped_at)
        events = [
            self._payment(order, captured),
            self.envelope(
                source=EASYPOST,
                type_=EventType.SHIPMENT_CREATED,
                at=shipment.shipped_at,
                subject=ref,
                data={
                    "shipment_ref": shipment.shipment_ref,
                    "order_ref": ref,
                    "carrier": shipment.carrier,
                    "service": shipment.service,
                    "tracking_number": shipment.tracking_number,
                    "origin_location": shipment.origin.code,
                    "estimated_delivery": iso(shipment.estimated_delivery),
                },
            ),
        ]
        for scan in shipment.scans:
            events.append(
                self.envelope(
                    source=EASYPOST,
                    type_=EventType.SHIPMENT_TRACKING,
                    at=scan.at,
                    subject=ref,
                    data={
                        "tracking_number": shipment.tracking_number,
                        "carrier": shipment.carrier,
                        "status": scan.status.value,
                        "occurred_at": iso(scan.at),
                        "location": scan.location,
                        "message": scan.message,
                        "estimated_delivery": iso(shipment.estimated_delivery),
                    },
                )
            )
        return events


def customer_data(customer: Customer) -> dict[str, Any]:
    address = customer.address
    address_data: dict[str, Any] = {
        "name": address.name,
        "line1": address.line1,
        "city": address.city,
        "region": address.region,
        "postal_code": address.postal_code,
        "country": address.country,
    }
    if address.line2 is not None:
        address_data["line2"] = address.line2
    return {
        "customer_ref": customer.ref,
        "email": customer.email,
        "phone": customer.phone,
        "name": customer.name,
        "tier": customer.tier,
        "address": address_data,
    }


def order_data(order: OrderPlan) -> dict[str, Any]:
    customer = customer_data(order.customer)
    return {
        "order_ref": order.order_ref,
        "number": order.number,
        "customer": customer,
        "currency": CURRENCY,
        "total_minor": order.total_minor,
        "placed_at": iso(order.placed_at),
        "promised_by": iso(order.promised_by),
        "service_level": order.service_level.value,
        "location": order.location,
        "ship_to": dict(customer["address"]),
        "lines": [
            {
                "sku": line.product.sku,
                "title": line.product.title,
                "quantity": line.quantity,
                "unit_price_minor": line.product.price_minor,
                "location": line.location or order.location,
            }
            for line in order.lines
        ],
    }
