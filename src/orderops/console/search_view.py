"""Global search: one box that finds a case from whatever the customer or a provider gave.

An order number (``#1046`` or ``1046``), an order ref, an email, a phone number, a
tracking number, a payment id (``pi_``/``ch_``), a ticket id, or a customer's name.

Every exact key goes through the alias table resolve already keeps (every name a provider
gives an entity, normalised: ``domain/aliases.py``), read by its unique key
``(tenant_id, kind, key, ...)``; a phone number through ``customers (tenant_id, phone)``
(migration 0037); an email also through ``customers (tenant_id, email)``. What the keys
name is then read as orders by ``(tenant_id, order_ref)``, cases by
``ix_cases_tenant_order_ref`` and customers' orders by ``ix_orders_tenant_customer``: no
statement reads the tenant's cases. A name is fuzzy (``rapidfuzz``) and has no index to
serve it: it reads at most ``NAME_SCAN`` customers of the tenant, newest first, and says so
when it stopped there.

Everything is read through the caller's unit of work, whose guard shows a principal limited
to a brand or region only the orders, cases and customers in that scope; the alias table
itself is tenant-wide, so nothing from it is shown until a scoped row confirms it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from rapidfuzz import fuzz, process
from sqlalchemy import and_, or_, select

from orderops.console.order_names import order_name_of, order_names
from orderops.domain.aliases import Entity, normalise
from orderops.resolve.identity.normalise import normalise_name
from orderops.storage.tables import (
    Case,
    Customer,
    EntityAlias,
    Order,
    Payment,
    Shipment,
    SupportTicket,
)
from orderops.storage.uow import UnitOfWork

MAX_QUERY = 200
MAX_HITS = 50
NAME_SCAN = 5000
"""Customers a name search scores at most (newest first): fuzzy matching has no index."""
NAME_CUTOFF = 80.0
PHONE_DIGITS = 7

_ORDER_NUMBER = re.compile(r"^#?\s*\d{1,18}$")
_PHONE_TEXT = re.compile(r"^\+?[\d\s().\-/]+$")
_LETTERS = re.compile(r"[^\W\d_]")

EXACT_KINDS = (
    "order.ref",
    "order.name",
    "shopify.order",
    "payment.ref",
    "stripe.payment_intent",
    "stripe.charge",
    "shopify.transaction",
    "tracking",
    "carrier.shipment",
    "zendesk.ticket",
    "customer.ref",
    "shopify.customer",
    "stripe.customer",
    "email",
)
"""Alias kinds a search tries for any text; ``order.number`` (digits only) is tried when
the text looks like an order number, so ``pi_3001`` never finds order #3001."""


@dataclass(frozen=True, kw_only=True)
class CaseHit:
    id: str
    order_ref: str
    order_name: str
    """The order as the store names it ("#1046"); its reference when it has no number."""
    exception_type: str
    status: str
    summary: str
    assignee: str | None


@dataclass(frozen=True, kw_only=True)
class OrderHit:
    order_ref: str
    number: str | None
    status: str
    total_minor: int
    currency: str
    matched: str
    """What of the search named the order (``order number``, ``tracking``, ...)."""

    @property
    def name(self) -> str:
        return order_name_of(self.number) if self.number else self.order_ref


@dataclass(frozen=True, kw_only=True)
class CustomerHit:
    id: str
    name: str | None
    email: str | None
    phone: str | None
    matched: str


@dataclass(frozen=True, kw_only=True)
class SearchResult:
    query: str
    cases: list[CaseHit] = field(default_factory=list)
    orders: list[OrderHit] = field(default_factory=list)
    customers: list[CustomerHit] = field(default_factory=list)
    names_cut_short: bool = False
    """A name search stopped after ``NAME_SCAN`` customers (older ones not scored)."""

    @property
    def empty(self) -> bool:
        return not (self.cases or self.orders or self.customers)


def alias_keys(text: str) -> list[tuple[str, str]]:
    """The (kind, normalised key) pairs a search text could be, as the alias table holds them."""
    pairs: list[tuple[str, str]] = []
    kinds = (*EXACT_KINDS, "order.number") if _ORDER_NUMBER.match(text) else EXACT_KINDS
    for kind in kinds:
        key = normalise(kind, text)
        if key is not None and len(key) <= 200:
            pairs.append((kind, key))
    return pairs


def phone_forms(text: str, *, region: str = "US") -> list[str]:
    """The ways a store may have written the number (customers keep the store's text).

    Empty unless the text is a possible phone number. Stored numbers in a form not listed
    here are not found: a normalised column written at projection would close that gap.
    """
    if not _PHONE_TEXT.match(text) or sum(c.isdigit() for c in text) < PHONE_DIGITS:
        return []
    try:
        parsed = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return []
    if not phonenumbers.is_possible_number(parsed):
        return []
    national = str(parsed.national_number)
    formats = (
        phonenumbers.PhoneNumberFormat.E164,
        phonenumbers.PhoneNumberFormat.INTERNATIONAL,
        phonenumbers.PhoneNumberFormat.NATIONAL,
    )
    forms = {phonenumbers.format_number(parsed, f) for f in formats}
    forms |= {text.strip(), national, f"{parsed.country_code}{national}"}
    if len(national) == 10:  # the North American shapes people type
        a, b, c = national[:3], national[3:6], national[6:]
        forms |= {f"{a}-{b}-{c}", f"{a}.{b}.{c}", f"{a} {b} {c}", f"({a}) {b}-{c}"}
        forms |= {f"+{parsed.country_code} {a}-{b}-{c}", f"+{parsed.country_code} {a} {b} {c}"}
    return sorted(forms)


def looks_like_name(text: str) -> bool:
    return "@" not in text and bool(_LETTERS.search(text)) and len(text) >= 2


def _folded(name: str | None) -> str:
    return normalise_name(name) or ""


def search(uow: UnitOfWork, text: str) -> SearchResult:
    """Cases, orders and customers the text names, within the unit of work's scope."""
    query = text.strip()[:MAX_QUERY]
    if not query:
        return SearchResult(query="")
    matched: dict[str, str] = {}  # order_ref -> what named it
    customers: dict[str, tuple[Customer, str]] = {}

    for alias in _aliases(uow, alias_keys(query)):
        _note(uow, alias, matched, customers)
    _by_contact(uow, query, customers)
    cut_short = False
    if looks_like_name(query) and not matched and not customers:
        cut_short = _by_name(uow, query, customers)

    for customer_id, (_, why) in customers.items():
        for order_ref in uow.session.scalars(
            select(Order.order_ref)
            .where(Order.tenant_id == uow.tenant_id, Order.customer_id == customer_id)
            .limit(MAX_HITS)
        ):
            matched.setdefault(order_ref, f"customer's {why}")
    orders = _orders(uow, matched)
    return SearchResult(
        query=query,
        cases=_cases(uow, [o.order_ref for o in orders]),
        orders=orders,
        customers=[
            CustomerHit(id=c.id, name=c.name, email=c.email, phone=c.phone, matched=why)
            for c, why in customers.values()
        ][:MAX_HITS],
        names_cut_short=cut_short,
    )


def _aliases(uow: UnitOfWork, pairs: Sequence[tuple[str, str]]) -> Sequence[EntityAlias]:
    if not pairs:
        return []
    return uow.session.scalars(
        select(EntityAlias)
        .where(
            EntityAlias.tenant_id == uow.tenant_id,
            or_(*(and_(EntityAlias.kind == k, EntityAlias.key == v) for k, v in pairs)),
        )
        .limit(MAX_HITS * 4)
    ).all()


_LABELS = {
    "order.ref": "order reference",
    "order.number": "order number",
    "order.name": "order number",
    "shopify.order": "order reference",
    "tracking": "tracking number",
    "carrier.shipment": "shipment id",
    "zendesk.ticket": "ticket id",
    "email": "email",
}


def _note(
    uow: UnitOfWork,
    alias: EntityAlias,
    matched: dict[str, str],
    customers: dict[str, tuple[Customer, str]],
) -> None:
    """Follow one alias to the order (or customer) it names, through the scoped tables."""
    why = _LABELS.get(alias.kind, "payment id" if alias.entity_type == Entity.PAYMENT else "id")
    if alias.entity_type == Entity.ORDER:
        matched.setdefault(alias.entity_ref, why)
        return
    if alias.entity_type == Entity.CUSTOMER:
        customer = _one(uow, Customer, alias.entity_ref)
        if customer is not None:
            customers.setdefault(customer.id, (customer, why))
        return
    model = {Entity.PAYMENT: Payment, Entity.SHIPMENT: Shipment, Entity.TICKET: SupportTicket}
    found = model.get(Entity(alias.entity_type))
    if found is None:
        return
    row = _one(uow, found, alias.entity_ref)
    order_ref = getattr(row, "order_ref", None)
    if order_ref:
        matched.setdefault(order_ref, why)


def _one(uow: UnitOfWork, model: type[Any], row_id: str) -> Any:
    return uow.session.scalar(
        select(model).where(model.tenant_id == uow.tenant_id, model.id == row_id)
    )


def _by_contact(uow: UnitOfWork, query: str, customers: dict[str, tuple[Customer, str]]) -> None:
    conditions = []
    if "@" in query:
        conditions.append(Customer.email.in_(sorted({query, query.lower()})))
    phones = phone_forms(query)
    if phones:
        conditions.append(Customer.phone.in_(phones))
    if not conditions:
        return
    for customer in uow.session.scalars(
        select(Customer)
        .where(Customer.tenant_id == uow.tenant_id, or_(*conditions))
        .limit(MAX_HITS)
    ):
        why = "email" if customer.email and "@" in query else "phone"
        customers.setdefault(customer.id, (customer, why))


def _by_name(uow: UnitOfWork, query: str, customers: dict[str, tuple[Customer, str]]) -> bool:
    rows = uow.session.execute(
        select(Customer.id, Customer.name)
        .where(Customer.tenant_id == uow.tenant_id, Customer.name.is_not(None))
        .order_by(Customer.updated_at.desc())
        .limit(NAME_SCAN + 1)
    ).all()
    wanted = _folded(query)
    if not wanted:
        return False
    names = {cid: name for cid, name in rows[:NAME_SCAN]}
    matches = process.extract(
        wanted,
        names,
        scorer=fuzz.token_set_ratio,
        processor=_folded,
        score_cutoff=NAME_CUTOFF,
        limit=MAX_HITS,
    )
    best = [cid for _, _, cid in matches]
    if best:
        found = {
            c.id: c
            for c in uow.session.scalars(
                select(Customer).where(Customer.tenant_id == uow.tenant_id, Customer.id.in_(best))
            )
        }
        for cid in best:
            if cid in found:
                customers.setdefault(cid, (found[cid], "name"))
    return len(rows) > NAME_SCAN


def _orders(uow: UnitOfWork, matched: dict[str, str]) -> list[OrderHit]:
    if not matched:
        return []
    rows = uow.session.scalars(
        select(Order).where(
            Order.tenant_id == uow.tenant_id, Order.order_ref.in_(list(matched)[: MAX_HITS * 2])
        )
    ).all()
    hits = [
        OrderHit(
            order_ref=o.order_ref,
            number=o.number,
            status=o.status,
            total_minor=o.total_minor,
            currency=o.currency,
            matched=matched[o.order_ref],
        )
        for o in rows
    ]
    return sorted(hits, key=lambda h: h.order_ref)[:MAX_HITS]


def _cases(uow: UnitOfWork, order_refs: Iterable[str]) -> list[CaseHit]:
    refs = list(order_refs)
    if not refs:
        return []
    rows = uow.session.scalars(
        select(Case)
        .where(Case.tenant_id == uow.tenant_id, Case.order_ref.in_(refs))
        .order_by(Case.opened_at.desc(), Case.id)
        .limit(MAX_HITS)
    ).all()
    names = order_names(uow, [c.order_ref for c in rows])
    return [
        CaseHit(
            id=c.id,
            order_ref=c.order_ref,
            order_name=names.get(c.order_ref, c.order_ref),
            exception_type=c.exception_type,
            status=c.status,
            summary=c.summary,
            assignee=c.assignee,
        )
        for c in rows
    ]
