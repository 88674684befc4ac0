"""The demo's simulated store mirrored into the vendor sandboxes, event by event.

The simulator reports what its Shopify, Stripe and Zendesk did; the sandboxes stand in
for those same accounts. Unless each record also exists in the sandbox that owns it, under
the id the event carries, every approved writeback is refused there (no such payment
intent, order or ticket) and the demo shows failures that are the demo's, not the desk's.
So, as the demo stores each batch of events, it seeds the matching objects first through
the sandboxes' seeding entry points: the sandboxes' API code paths stay as tests know
them, and their ledgers keep counting only effects asked of their APIs.

What is mirrored: customers (CRM, by email), orders with their lines, financial status,
cancellation and fulfilment (Shopify, numeric id = order reference), payment intents with
their status and outside refunds (Stripe, ``pi_`` id), stock per SKU summed over the
warehouses and the warehouses' addresses (WMS), tickets (Zendesk, numeric id). EasyPost
is not seeded: every label the desk buys is on a shipment it creates itself.

A demo restarted over the same data dir serves fresh (empty) sandboxes while the database
already holds the orders, cases and outbox rows of the earlier runs, some of them later
than anything this run will replay. So the mirror first takes every event the earlier
runs stored (``seed_stored``: the inbox and its archive, read back in the pipeline's
replay order, streamed in batches) and then skips any event it has already seen: a
replayed older event must not move a record back (an intent from captured to authorized).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Select, select, union_all
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.events import EventType
from orderops.domain.statuses import PaymentStatus
from orderops.sandbox.connected import VendorSandboxes
from orderops.sim.catalog import WAREHOUSES
from orderops.storage.tables import InboxArchive, InboxEvent
from orderops.storage.uow import UnitOfWork

STRIPE_STATUS = {
    PaymentStatus.PENDING: "processing",
    PaymentStatus.REQUIRES_ACTION: "requires_action",
    PaymentStatus.AUTHORIZED: "requires_capture",
    PaymentStatus.CAPTURED: "succeeded",
    PaymentStatus.REFUNDED: "succeeded",
    PaymentStatus.PARTIALLY_REFUNDED: "succeeded",
    PaymentStatus.FAILED: "requires_payment_method",
    PaymentStatus.VOIDED: "canceled",
}
"""A canonical payment status as the PaymentIntent shows it (a refund leaves it succeeded)."""
CAPTURED = frozenset(
    {PaymentStatus.CAPTURED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED}
)
STORED_BATCH = 2000
"""Stored events are read back this many rows at a time, so a long-running demo's
history is never held in memory all at once."""


@dataclass
class _Payment:
    status: PaymentStatus
    amount_minor: int
    refunded_minor: int


@dataclass
class StoreMirror:
    """Seeds ``sandboxes`` with what each event reports; call ``seed`` before storing them,
    in the simulator's order (by event time, which the simulator sorts by). An event seen
    before (same source and id, the inbox's own key) is skipped."""

    sandboxes: VendorSandboxes
    _seen: set[tuple[str, str]] = field(default_factory=set)
    _customers: set[str] = field(default_factory=set)
    _stock: dict[tuple[str, str], int] = field(default_factory=dict)
    _payments: dict[str, dict[str, _Payment]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for warehouse in WAREHOUSES:
            self.sandboxes.wms.set_location(
                warehouse.code,
                {
                    "name": f"Demo Store {warehouse.code}",
                    "street1": "100 Warehouse Way",
                    "city": warehouse.city,
                    "state": warehouse.state,
                    "country": "US",
                },
            )

    def seed_stored(self, sessions: sessionmaker[Session], *, tenant_id: str) -> int:
        """Seed every event ``tenant_id`` has stored (a restart's earlier runs); returns how
        many were new to the mirror."""
        before = len(self._seen)
        self.seed(stored_events(sessions, tenant_id=tenant_id))
        return len(self._seen) - before

    def seed(self, events: Iterable[Mapping[str, Any]]) -> None:
        for event in events:
            key = (str(event.get("source")), str(event.get("id")))
            if key in self._seen:
                continue
            self._seen.add(key)
            data = event.get("data")
            if isinstance(data, dict):
                self._seed_one(str(event.get("type")), data, str(event.get("time") or ""))

    def _seed_one(self, type_: str, data: dict[str, Any], at: str) -> None:
        if type_ == EventType.CUSTOMER_UPSERTED:
            self._customer(data)
        elif type_ in (EventType.ORDER_PLACED, EventType.ORDER_UPDATED):
            self._order(data)
        elif type_ == EventType.ORDER_CANCELLED:
            self._cancelled(data, at)
        elif type_ == EventType.PAYMENT_UPDATED and data.get("provider") == "stripe":
            self._payment(data)
        elif type_ == EventType.SHIPMENT_CREATED:
            self._shipped(data)
        elif type_ == EventType.INVENTORY_LEVEL:
            self._stock_level(data)
        elif type_ == EventType.TICKET_UPDATED and data.get("source") == "zendesk":
            self._ticket(data)

    def _customer(self, data: Mapping[str, Any]) -> None:
        email = str(data.get("email") or "")
        if email and email not in self._customers:
            self._customers.add(email)
            self.sandboxes.crm.add_customer(email=email, name=str(data.get("name") or ""))

    def _order(self, data: dict[str, Any]) -> None:
        customer = data.get("customer")
        if isinstance(customer, dict):
            self._customer(customer)
        order_id = _numeric(data.get("order_ref"))
        if order_id is None:
            return
        self.sandboxes.shopify.seed_order(
            order_id=order_id,
            name=str(data.get("number") or f"#{order_id}"),
            total_price=_decimal(int(data["total_minor"])),
            currency=str(data.get("currency") or "USD"),
            skus=tuple(str(line["sku"]) for line in data.get("lines") or ()),
        )

    def _cancelled(self, data: Mapping[str, Any], at: str) -> None:
        order_id = _numeric(data.get("order_ref"))
        if order_id is not None:
            self.sandboxes.shopify.seed_order_state(
                order_id,
                cancelled_at=at,
                cancel_reason=str(data.get("reason") or "other"),
            )

    def _shipped(self, data: Mapping[str, Any]) -> None:
        order_id = _numeric(data.get("order_ref"))
        if order_id is not None:
            self.sandboxes.shopify.seed_order_state(order_id, fulfilled=True)

    def _payment(self, data: Mapping[str, Any]) -> None:
        status = PaymentStatus(str(data["status"]))
        payment = _Payment(
            status=status,
            amount_minor=int(data["amount_minor"]),
            refunded_minor=int(data.get("amount_refunded_minor") or 0),
        )
        self.sandboxes.stripe.seed_payment_intent(
            intent_id=str(data["payment_ref"]),
            amount=payment.amount_minor,
            status=STRIPE_STATUS[status],
            currency=str(data.get("currency") or "USD").lower(),
            refunded=payment.refunded_minor,
        )
        order_ref = str(data.get("order_ref") or "")
        self._payments.setdefault(order_ref, {})[str(data["payment_ref"])] = payment
        order_id = _numeric(order_ref)
        if order_id is not None:
            financial = shopify_financial_status(self._payments[order_ref].values())
            self.sandboxes.shopify.seed_order_state(order_id, financial_status=financial)

    def _stock_level(self, data: Mapping[str, Any]) -> None:
        sku = str(data["sku"])
        self._stock[(sku, str(data.get("location") or ""))] = int(data["available"])
        on_hand = sum(n for (s, _), n in self._stock.items() if s == sku)
        self.sandboxes.wms.set_stock(sku, max(on_hand, 0))

    def _ticket(self, data: Mapping[str, Any]) -> None:
        ticket_id = _numeric(data.get("ticket_ref"))
        if ticket_id is not None:
            self.sandboxes.zendesk.seed_ticket(
                ticket_id=ticket_id,
                subject=str(data.get("subject") or ""),
                body=str(data.get("body") or ""),
                status=str(data.get("status") or "new"),
                requester_email=str(data.get("customer_email") or ""),
            )


def stored_events(sessions: sessionmaker[Session], *, tenant_id: str) -> Iterator[dict[str, Any]]:
    """The envelopes ``tenant_id`` stored, hot and archived alike, in the pipeline's replay
    order (provider time, source, id): one query, streamed ``STORED_BATCH`` rows at a time.
    Every status counts (a deferred or failed row is still what the store reported)."""
    rows = union_all(_stored(InboxEvent, tenant_id), _stored(InboxArchive, tenant_id))
    ordered = select(rows.subquery()).order_by("event_time", "source", "event_id")
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        result = uow.session.execute(ordered.execution_options(yield_per=STORED_BATCH))
        for row in result:
            envelope = row.envelope
            if isinstance(envelope, dict):
                yield envelope


def _stored(table: type[InboxEvent] | type[InboxArchive], tenant_id: str) -> Select[Any]:
    return select(table.event_time, table.source, table.event_id, table.envelope).where(
        table.tenant_id == tenant_id
    )


def shopify_financial_status(payments: Iterable[_Payment]) -> str:
    """The order's money as Shopify words it, judged as the desk judges it (a capture on
    any attempt wins; refunds are counted against what was captured)."""
    attempts = list(payments)
    captured = [p for p in attempts if p.status in CAPTURED]
    if captured:
        paid = sum(p.amount_minor for p in captured)
        refunded = sum(p.refunded_minor for p in captured)
        if refunded <= 0:
            return "paid"
        return "refunded" if refunded >= paid else "partially_refunded"
    statuses = {p.status for p in attempts}
    if PaymentStatus.AUTHORIZED in statuses:
        return "authorized"
    if statuses and statuses <= {PaymentStatus.VOIDED}:
        return "voided"
    return "pending"


def _numeric(value: Any) -> int | None:
    """Shopify and Zendesk know records by number; a reference that is not one has no
    counterpart there (the writeback then names it, as it would in production)."""
    text = str(value or "")
    return int(text) if text.isdigit() else None


def _decimal(minor: int) -> str:
    """Shopify's decimal string; the simulated store sells in USD only (two decimals)."""
    return str(Decimal(minor).scaleb(-2).quantize(Decimal("0.01")))
