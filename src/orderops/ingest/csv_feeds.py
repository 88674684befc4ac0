"""CSV feeds (orders, inventory, customers) mapped to canonical envelopes, purely.

Shops export CSV from whatever they run, so headers are matched loosely (case, spaces,
punctuation and common aliases such as ``InvoiceNo`` or ``StockCode``), while values are
read strictly: money goes through ``Decimal`` to minor units, a time without a zone is
refused unless the caller names the zone the file was written in, and every problem is
reported with its spreadsheet row number (the header is row 1).

Envelope ids are derived from the content that becomes the event, so importing the same
file twice is deduplicated by the inbox and an edited row becomes a new event.

Orders arrive one row per line; rows sharing an ``order_ref`` become one
``order.placed``, placed at the earliest of its rows' times (exports such as UCI Online
Retail stamp the lines of one invoice across a minute boundary). The other order-level
columns must agree between rows. An order is imported whole or not at all: one bad row
rejects its order, and every row of that order is reported.

UCI Online Retail credit notes (an ``order_ref`` like ``C556966`` whose quantities are
negative) are *skipped and reported*, not mapped to ``order.cancelled``: such a credit
note never names the invoice it reverses and may credit a single line, so a cancellation
event would point at an order that does not exist and would wait for it forever.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from orderops.domain.errors import InvalidEvent
from orderops.domain.events import EventType
from orderops.ingest.adapters.common import derived_id, event
from orderops.ingest.csv_cells import (
    Cells,
    FeedError,
    Row,
    RowProblem,
    aliases,
    read_csv,
    resolve_columns,
)


class FeedKind(StrEnum):
    ORDERS = "orders"
    INVENTORY = "inventory"
    CUSTOMERS = "customers"


@dataclass(frozen=True, kw_only=True)
class FeedOptions:
    """What the file itself does not say: its zone, its currency, its source name."""

    source: str = "csv"
    timezone: tzinfo | None = None
    currency: str | None = None
    as_of: datetime | None = None
    """Event time for customer rows without an ``updated_at`` column (the export time)."""


@dataclass(frozen=True)
class FeedItem:
    rows: tuple[int, ...]
    envelope: dict[str, Any]


@dataclass(frozen=True)
class RowIssue:
    row: int
    reason: str
    skipped: bool = False
    """True for rows left out on purpose (documented), False for rejected rows."""


@dataclass
class Feed:
    items: list[FeedItem] = field(default_factory=list)
    issues: list[RowIssue] = field(default_factory=list)


ORDER_COLUMNS: dict[str, frozenset[str]] = {
    "order_ref": aliases("order_ref", "order_id", "invoiceno", "invoice_id", "invoice"),
    "number": aliases("number", "order_number", "order_no", "order_name"),
    "placed_at": aliases("placed_at", "created_at", "order_date", "invoicedate", "ordered_at"),
    "currency": aliases("currency", "currency_code"),
    "sku": aliases("sku", "stockcode", "product_sku", "variant_sku", "item_sku"),
    "title": aliases("title", "description", "product_title", "product_name", "item_name"),
    "quantity": aliases("quantity", "qty", "units"),
    "unit_price": aliases("unit_price", "unitprice", "price", "item_price"),
    "customer_ref": aliases("customer_ref", "customer_id", "customerid", "customer"),
    "email": aliases("email", "customer_email", "e-mail"),
    "name": aliases("customer_name"),
    "phone": aliases("phone", "customer_phone"),
    "promised_by": aliases("promised_by", "promise", "deliver_by", "promised_delivery"),
    "service_level": aliases("service_level", "shipping_method", "shipping_service"),
    "location": aliases("location", "warehouse", "fulfillment_location", "ship_from"),
    "country": aliases("country", "ship_to_country", "shipping_country"),
    "store": aliases("store", "shop", "store_domain", "shop_domain"),
    "channel": aliases("channel", "sales_channel", "source_name"),
    "tags": aliases("tags", "order_tags"),
}
ORDER_REQUIRED = ("order_ref", "placed_at", "sku", "quantity", "unit_price")

INVENTORY_COLUMNS: dict[str, frozenset[str]] = {
    "sku": aliases("sku", "stockcode", "product_sku", "variant_sku", "item_sku"),
    "location": aliases("location", "warehouse", "location_id", "site"),
    "available": aliases("available", "qty_available", "available_quantity", "atp"),
    "on_hand": aliases("on_hand", "onhand", "qty_on_hand", "stock"),
    "as_of": aliases("as_of", "asof", "counted_at", "updated_at", "timestamp"),
}
INVENTORY_REQUIRED = ("sku", "location", "available", "as_of")

CUSTOMER_COLUMNS: dict[str, frozenset[str]] = {
    "customer_ref": aliases("customer_ref", "customer_id", "customerid", "id"),
    "email": aliases("email", "e-mail", "email_address"),
    "phone": aliases("phone", "phone_number", "mobile"),
    "name": aliases("name", "full_name", "customer_name"),
    "tier": aliases("tier", "segment", "loyalty_tier"),
    "line1": aliases("address_line1", "line1", "address1", "street", "address"),
    "line2": aliases("address_line2", "line2", "address2"),
    "city": aliases("city", "town"),
    "region": aliases("region", "state", "province", "county"),
    "postal_code": aliases("postal_code", "zip", "zip_code", "postcode"),
    "country": aliases("country", "country_code"),
    "updated_at": aliases("updated_at", "modified_at", "as_of"),
}
CUSTOMER_REQUIRED = ("customer_ref",)

_CREDIT_NOTE = re.compile(r"^C\d+$")


def map_feed(kind: FeedKind, text: str, options: FeedOptions) -> Feed:
    """Map a whole CSV text of one feed kind to envelopes and per-row issues."""
    header, rows = read_csv(text)
    feed = Feed()
    for mapped in iter_feed(kind, header, rows, options):
        if isinstance(mapped, RowIssue):
            feed.issues.append(mapped)
        else:
            feed.items.append(mapped)
    feed.issues.sort(key=lambda issue: issue.row)
    return feed


def iter_feed(
    kind: FeedKind,
    header: list[str],
    rows: Iterable[Row],
    options: FeedOptions,
    *,
    order_ends: Mapping[str, int] | None = None,
) -> Iterator[FeedItem | RowIssue]:
    """Map rows as they are read; header problems raise ``FeedError`` before the first row.

    An order is complete only after its last row, so without ``order_ends`` (from
    ``order_ends``) every order comes out at the end of the rows; with it, each order
    comes out as soon as its last row has gone by.
    """
    if kind is FeedKind.ORDERS:
        return _orders(header, rows, options, order_ends)
    if kind is FeedKind.INVENTORY:
        resolved = resolve_columns(header, INVENTORY_COLUMNS, INVENTORY_REQUIRED)
        return _simple(rows, resolved, _inventory_row, options)
    resolved = resolve_columns(header, CUSTOMER_COLUMNS, CUSTOMER_REQUIRED)
    return _simple(rows, resolved, _customer_row, options)


def order_ends(header: list[str], rows: Iterable[Row]) -> dict[str, int]:
    """The last row of each order, from a first read of an orders file.

    With it a second read holds only the orders still open (one, for an export sorted
    by order), not every order of the file.
    """
    resolved = resolve_columns(header, ORDER_COLUMNS, ORDER_REQUIRED)
    ends: dict[str, int] = {}
    for number, raw in rows:
        ref = Cells(raw, resolved).opt("order_ref")
        if ref is not None:
            ends[ref] = number
    return ends


def _envelope(
    options: FeedOptions,
    kind: str,
    type_: EventType,
    time: datetime,
    subject: str,
    data: Any,
    *,
    time_from_file: bool = True,
) -> dict[str, Any]:
    """Build one envelope whose id hashes what the file says (never the import time)."""
    content = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    stamp = time.isoformat() if time_from_file else "-"
    event_id = derived_id(options.source, kind, subject, stamp, content)
    try:
        return event(
            source=options.source,
            event_id=event_id,
            type_=type_,
            time=time,
            subject=subject,
            data=data,
        )
    except InvalidEvent as exc:
        raise RowProblem(exc.message.split(": ", 1)[-1]) from exc


RowMapper = Callable[[Cells, FeedOptions], dict[str, Any]]


def _simple(
    rows: Iterable[Row], resolved: dict[str, str], mapper: RowMapper, options: FeedOptions
) -> Iterator[FeedItem | RowIssue]:
    for number, raw in rows:
        try:
            envelope = mapper(Cells(raw, resolved), options)
        except RowProblem as exc:
            yield RowIssue(number, str(exc))
            continue
        yield FeedItem((number,), envelope)


def _inventory_row(cells: Cells, options: FeedOptions) -> dict[str, Any]:
    data = {
        "sku": cells.req("sku"),
        "location": cells.req("location"),
        "available": cells.integer("available"),
        "on_hand": cells.integer("on_hand") if cells.opt("on_hand") is not None else None,
    }
    at = cells.time("as_of", options.timezone)
    subject = f"{data['sku']}@{data['location']}"
    return _envelope(options, "inventory", EventType.INVENTORY_LEVEL, at, subject, data)


def _customer_row(cells: Cells, options: FeedOptions) -> dict[str, Any]:
    address = {
        "line1": cells.opt("line1"),
        "line2": cells.opt("line2"),
        "city": cells.opt("city"),
        "region": cells.opt("region"),
        "postal_code": cells.opt("postal_code"),
        "country": cells.country(),
    }
    customer_ref = cells.req("customer_ref")
    data = {
        "customer_ref": customer_ref,
        "email": cells.opt("email"),
        "phone": cells.opt("phone"),
        "name": cells.opt("name"),
        "tier": cells.opt("tier") or "standard",
        "address": address if any(v is not None for v in address.values()) else None,
    }
    updated_at = cells.opt_time("updated_at", options.timezone)
    at = updated_at or options.as_of
    if at is None:
        raise RowProblem("updated_at: no value and no export time (as_of) was given")
    return _envelope(
        options,
        "customer",
        EventType.CUSTOMER_UPSERTED,
        at,
        customer_ref,
        data,
        time_from_file=updated_at is not None,
    )


@dataclass
class _Order:
    first_row: int
    head: dict[str, Any]
    time: datetime
    rows: list[int] = field(default_factory=list)
    lines: list[dict[str, Any]] = field(default_factory=list)
    problem: RowIssue | None = None


def _orders(
    header: list[str],
    rows: Iterable[Row],
    options: FeedOptions,
    ends: Mapping[str, int] | None,
) -> Iterator[FeedItem | RowIssue]:
    resolved = resolve_columns(header, ORDER_COLUMNS, ORDER_REQUIRED)
    if "currency" not in resolved and options.currency is None:
        raise FeedError("no currency column: pass the file's currency (--currency)")
    return _order_units(rows, resolved, options, ends)


def _order_units(
    rows: Iterable[Row],
    resolved: dict[str, str],
    options: FeedOptions,
    ends: Mapping[str, int] | None,
) -> Iterator[FeedItem | RowIssue]:
    orders: dict[str, _Order] = {}
    for number, raw in rows:
        cells = Cells(raw, resolved)
        ref = cells.opt("order_ref")
        if ref is not None and _CREDIT_NOTE.match(ref) and _negative(cells.opt("quantity")):
            yield RowIssue(number, _CREDIT_NOTE_REASON.format(ref=ref), True)
            continue
        try:
            ref = cells.req("order_ref")
            head, line, placed_at = _order_row(cells, options)
        except RowProblem as exc:
            if ref is None:
                yield RowIssue(number, str(exc))
                continue
            head, line, placed_at = {}, {}, datetime.min.replace(tzinfo=UTC)
            problem: RowIssue | None = RowIssue(number, str(exc))
        else:
            problem = None
        order = orders.setdefault(ref, _Order(number, head, placed_at))
        order.time = min(order.time, placed_at) if problem is None else order.time
        order.rows.append(number)
        order.lines.append(line)
        if order.problem is None and problem is None and head != order.head:
            changed = sorted(
                k for k in head.keys() | order.head.keys() if head.get(k) != order.head.get(k)
            )
            problem = RowIssue(
                number, f"{', '.join(changed)} differ from row {order.first_row} of order {ref}"
            )
        order.problem = order.problem or problem
        if ends is not None and ends.get(ref) == number:
            yield from _complete_order(ref, orders.pop(ref), options)
    for ref, order in orders.items():
        yield from _complete_order(ref, order, options)


def _complete_order(ref: str, order: _Order, options: FeedOptions) -> Iterator[FeedItem | RowIssue]:
    if order.problem is not None:
        yield from _rejected_order(ref, order, order.problem)
        return
    try:
        envelope = _order_envelope(ref, order, options)
    except RowProblem as exc:
        yield from _rejected_order(ref, order, RowIssue(order.first_row, str(exc)))
        return
    yield FeedItem(tuple(order.rows), envelope)


_CREDIT_NOTE_REASON = (
    "skipped: {ref} is a credit note (cancellation invoice with negative quantities); "
    "it does not name the invoice it reverses, so no order.cancelled is emitted"
)


def _negative(text: str | None) -> bool:
    try:
        return text is not None and Decimal(text) < 0
    except InvalidOperation:
        return False


def _order_row(
    cells: Cells, options: FeedOptions
) -> tuple[dict[str, Any], dict[str, Any], datetime]:
    currency = (cells.opt("currency") or options.currency or "").upper()
    if not re.fullmatch(r"[A-Z]{3}", currency):
        raise RowProblem(f"currency: {currency!r} is not an ISO 4217 code")
    customer_ref, email = cells.opt("customer_ref"), cells.opt("email")
    customer = None
    if customer_ref or email:
        customer = {
            "customer_ref": customer_ref or (email or "").lower(),
            "email": email,
            "name": cells.opt("name"),
            "phone": cells.opt("phone"),
        }
    placed_at = cells.time("placed_at", options.timezone)
    promised_by = cells.opt_time("promised_by", options.timezone)
    country = cells.country()
    head = {
        "number": cells.opt("number"),
        "currency": currency,
        "promised_by": promised_by.isoformat() if promised_by else None,
        "service_level": cells.opt("service_level"),
        "customer": customer,
        "ship_to": {"country": country} if country else None,
        **_placement(cells),
    }
    line = {
        "sku": cells.req("sku"),
        "title": cells.opt("title"),
        "quantity": cells.integer("quantity", minimum=1),
        "unit_price_minor": cells.money("unit_price", currency),
        "location": cells.opt("location"),
    }
    return head, line, placed_at


def _placement(cells: Cells) -> dict[str, Any]:
    """Store, channel and tags for scopes, only when the file has them: an envelope's id
    is its content, so a file without these columns still dedupes against earlier
    imports of it."""
    placement: dict[str, Any] = {}
    for name in ("store", "channel"):
        value = cells.opt(name)
        if value is not None:
            if len(value) > 64:
                raise RowProblem(f"{name}: at most 64 characters")
            placement[name] = value
    tags = cells.opt("tags")
    if tags is not None:
        placement["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
    return placement


def _order_envelope(ref: str, order: _Order, options: FeedOptions) -> dict[str, Any]:
    locations = {line["location"] for line in order.lines}
    data = {
        **order.head,
        "order_ref": ref,
        "placed_at": order.time.isoformat(),
        "total_minor": sum(line["quantity"] * line["unit_price_minor"] for line in order.lines),
        "location": locations.pop() if len(locations) == 1 else None,
        "lines": order.lines,
    }
    return _envelope(options, "order", EventType.ORDER_PLACED, order.time, ref, data)


def _rejected_order(ref: str, order: _Order, problem: RowIssue) -> list[RowIssue]:
    others = [
        RowIssue(row, f"order {ref} not imported: row {problem.row} was rejected")
        for row in order.rows
        if row != problem.row
    ]
    return [problem, *others]
