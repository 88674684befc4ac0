"""CSV feeds map to canonical envelopes: loose headers, strict values, row-numbered errors."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orderops.domain.events import EventType
from orderops.ingest.csv_cells import FeedError, resolve_columns
from orderops.ingest.csv_feeds import (
    ORDER_COLUMNS,
    ORDER_REQUIRED,
    Feed,
    FeedKind,
    FeedOptions,
    map_feed,
)
from orderops.ingest.envelope import parse_event

FIXTURES = Path(__file__).parents[1] / "fixtures"
UCI = FIXTURES / "datasets" / "uci_online_retail" / "online_retail_sample.csv"
LONDON = ZoneInfo("Europe/London")
EXPORTED = datetime(2026, 11, 19, 8, 0, tzinfo=UTC)

ORDER_HEADER = "order_ref,placed_at,currency,sku,quantity,unit_price"


def orders(text: str, **options: object) -> Feed:
    return map_feed(FeedKind.ORDERS, text, FeedOptions(**options))  # type: ignore[arg-type]


def reasons(feed: Feed) -> dict[int, str]:
    return {issue.row: issue.reason for issue in feed.issues}


@pytest.mark.parametrize(
    ("header", "field"),
    [
        ("Order ID", "order_ref"),
        ("order-ref", "order_ref"),
        ("ORDER_REF", "order_ref"),
        ("InvoiceNo", "order_ref"),
        (" Invoice Date ", "placed_at"),
        ("StockCode", "sku"),
        ("Qty", "quantity"),
        ("UnitPrice", "unit_price"),
        ("Unit Price", "unit_price"),
    ],
)
def test_headers_match_whatever_their_case_spacing_or_alias(header: str, field: str) -> None:
    base = {"order_ref": "order_ref", "placed_at": "placed_at", "sku": "sku"}
    base |= {"quantity": "quantity", "unit_price": "unit_price"}
    base[field] = header
    resolved = resolve_columns(base.values(), ORDER_COLUMNS, ORDER_REQUIRED)
    assert resolved[field] == header


def test_a_missing_required_column_is_named_with_the_headers_found() -> None:
    with pytest.raises(FeedError, match=r"missing column\(s\) unit_price; the header has"):
        orders("order_ref,placed_at,currency,sku,quantity\nA,2026-11-18T10:00:00Z,EUR,S,1\n")


def test_two_columns_meaning_the_same_field_are_refused() -> None:
    with pytest.raises(FeedError, match="both mean sku"):
        orders(f"{ORDER_HEADER},StockCode\n")


def test_a_file_without_currency_needs_the_currency_option() -> None:
    with pytest.raises(FeedError, match="--currency"):
        orders("order_ref,placed_at,sku,quantity,unit_price\nA,2026-11-18T10:00:00Z,S,1,2\n")


@pytest.mark.parametrize(
    ("currency", "price", "minor"),
    [("EUR", "19.99", 1999), ("EUR", "8", 800), ("EUR", "€0.10", 10), ("JPY", "500", 500)],
)
def test_prices_become_exact_minor_units(currency: str, price: str, minor: int) -> None:
    feed = orders(f"{ORDER_HEADER}\nA,2026-11-18T10:00:00Z,{currency},S,3,{price}\n")
    data = feed.items[0].envelope["data"]
    assert (data["lines"][0]["unit_price_minor"], data["total_minor"]) == (minor, 3 * minor)


@pytest.mark.parametrize(
    ("cells", "reason"),
    [
        ("EUR,S,1,19.999", "unit_price has more decimals than EUR allows"),
        ("JPY,S,1,1.5", "unit_price has more decimals than JPY allows"),
        ("EUR,S,1,abc", "unit_price is not a decimal amount"),
        ("EUR,S,0,1.00", "quantity: must be >= 1 (got 0)"),
        ("EUR,S,1.5,1.00", "quantity: '1.5' is not a whole number"),
        ("EURO,S,1,1.00", "currency: 'EURO' is not an ISO 4217 code"),
        ("EUR,,1,1.00", "sku: a value is required"),
    ],
)
def test_bad_values_are_reported_with_their_row_and_column(cells: str, reason: str) -> None:
    feed = orders(
        f"{ORDER_HEADER}\nA,2026-11-18T10:00:00Z,EUR,S,1,1\nB,2026-11-18T10:00:00Z,{cells}\n"
    )
    assert [o.envelope["subject"] for o in feed.items] == ["A"]
    assert reason in reasons(feed)[3]


def test_a_time_without_zone_is_refused_unless_the_zone_is_given() -> None:
    text = f"{ORDER_HEADER}\nA,2026-07-01 09:30,GBP,S,1,1\n"
    assert "has no timezone; add an offset or pass --timezone" in reasons(orders(text))[2]
    feed = orders(text, timezone=LONDON)
    assert feed.items[0].envelope["time"] == "2026-07-01T08:30:00+00:00"


def test_rows_of_one_order_become_one_event_with_all_lines() -> None:
    text = (
        f"{ORDER_HEADER},location\n"
        "A,2026-11-18T10:01:00Z,EUR,S1,2,1.50,BER\n"
        "B,2026-11-18T11:00:00Z,EUR,S9,1,9.00,BER\n"
        "A,2026-11-18T10:00:00Z,EUR,S2,1,4.00,BER\n"
    )
    feed = orders(text)
    first = feed.items[0]
    assert first.rows == (2, 4)
    assert [line["sku"] for line in first.envelope["data"]["lines"]] == ["S1", "S2"]
    assert first.envelope["data"]["total_minor"] == 2 * 150 + 400
    assert first.envelope["data"]["placed_at"] == "2026-11-18T10:00:00Z"
    assert first.envelope["data"]["location"] == "BER"


def test_one_bad_row_rejects_its_whole_order_and_names_every_row() -> None:
    text = (
        f"{ORDER_HEADER}\n"
        "A,2026-11-18T10:00:00Z,EUR,S1,1,1.00\n"
        "A,2026-11-18T10:00:00Z,USD,S2,1,1.00\n"
        "A,2026-11-18T10:00:00Z,EUR,S3,1,1.00\n"
    )
    feed = orders(text)
    assert feed.items == []
    assert reasons(feed) == {
        2: "order A not imported: row 3 was rejected",
        3: "currency differ from row 2 of order A",
        4: "order A not imported: row 3 was rejected",
    }


def test_the_fixture_orders_file_maps_good_orders_and_reports_each_bad_row() -> None:
    feed = map_feed(FeedKind.ORDERS, (FIXTURES / "csv" / "orders.csv").read_text(), FeedOptions())
    assert [item.envelope["subject"] for item in feed.items] == ["A-1001", "A-1002"]
    a1001 = feed.items[0].envelope["data"]
    assert a1001["promised_by"] == "2026-11-21T17:00:00Z"
    assert a1001["customer"] == {
        "customer_ref": "C-1",
        "email": "ana@example.com",
        "tier": "standard",
        "aliases": [],
    }
    assert feed.items[1].envelope["data"]["ship_to"] == {"country": "FR"}
    rejected = reasons(feed)
    assert sorted(rejected) == [5, 6, 7, 8, 9]
    assert "unit_price has more decimals than EUR allows" in rejected[5]
    assert "placed_at: '2026-11-18 12:00' has no timezone" in rejected[6]
    assert rejected[8] == "currency differ from row 7 of order A-1005"
    assert rejected[9] == "quantity: must be >= 1 (got 0)"


def test_ids_derive_from_content_so_a_reimport_repeats_them_and_an_edit_changes_one() -> None:
    text = (FIXTURES / "csv" / "orders.csv").read_text()
    first = [i.envelope["id"] for i in map_feed(FeedKind.ORDERS, text, FeedOptions()).items]
    again = [i.envelope["id"] for i in map_feed(FeedKind.ORDERS, text, FeedOptions()).items]
    edited = text.replace("White mug,3,8", "White mug,4,8")
    changed = [i.envelope["id"] for i in map_feed(FeedKind.ORDERS, edited, FeedOptions()).items]
    assert first == again
    assert changed[0] == first[0]
    assert changed[1] != first[1]


def test_inventory_rows_become_stock_levels() -> None:
    text = (FIXTURES / "csv" / "inventory.csv").read_text()
    feed = map_feed(FeedKind.INVENTORY, text, FeedOptions())
    assert [item.envelope["data"] for item in feed.items] == [
        {"sku": "TEE-BLK-M", "location": "BER-1", "available": 14, "on_hand": 16},
        {"sku": "MUG-WHT", "location": "BER-1", "available": 0, "on_hand": 0},
        {"sku": "CAP-RED", "location": "BER-1", "available": -2},
    ]
    assert {i.envelope["type"] for i in feed.items} == {EventType.INVENTORY_LEVEL.value}
    assert reasons(feed) == {5: "available: 'many' is not a whole number"}


def test_customer_rows_carry_their_address_and_time_of_export() -> None:
    text = (FIXTURES / "csv" / "customers.csv").read_text()
    feed = map_feed(FeedKind.CUSTOMERS, text, FeedOptions(as_of=EXPORTED))
    ana, ben = (item.envelope for item in feed.items)
    assert ana["data"]["tier"] == "vip"
    assert ana["data"]["address"] == {
        "line1": "Unter den Linden 1",
        "city": "Berlin",
        "region": "BE",
        "postal_code": "10117",
        "country": "DE",
    }
    assert ben["data"]["tier"] == "standard"
    assert ben["data"]["address"]["country"] == "FR"
    assert ana["time"] == EXPORTED.isoformat()
    assert reasons(feed) == {
        4: "country: unknown country 'Atlantis'; use an ISO 3166 alpha-2 code",
        5: "customer_ref: a value is required",
    }


def test_customer_ids_ignore_the_export_time_so_a_later_export_dedupes() -> None:
    text = (FIXTURES / "csv" / "customers.csv").read_text()
    now = map_feed(FeedKind.CUSTOMERS, text, FeedOptions(as_of=EXPORTED))
    later = map_feed(FeedKind.CUSTOMERS, text, FeedOptions(as_of=EXPORTED.replace(day=20)))
    assert [i.envelope["id"] for i in now.items] == [i.envelope["id"] for i in later.items]


def test_customers_without_update_time_or_export_time_are_rejected() -> None:
    feed = map_feed(FeedKind.CUSTOMERS, "customer_id\nC-1\n", FeedOptions())
    assert reasons(feed) == {2: "updated_at: no value and no export time (as_of) was given"}


@pytest.fixture(scope="module")
def uci_feed() -> Feed:
    options = FeedOptions(timezone=LONDON, currency="GBP")
    return map_feed(FeedKind.ORDERS, UCI.read_text("utf-8"), options)


@pytest.fixture(scope="module")
def uci_rows() -> list[dict[str, str]]:
    with UCI.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


class TestUciOnlineRetail:
    """The real UCI sample, read as an orders feed (London times, pounds)."""

    def test_every_credit_note_row_is_skipped_and_reported(
        self, uci_feed: Feed, uci_rows: list[dict[str, str]]
    ) -> None:
        credit_rows = sum(r["InvoiceNo"].startswith("C") for r in uci_rows)
        skipped = [i for i in uci_feed.issues if i.skipped]
        assert len(skipped) == credit_rows
        assert all("credit note" in i.reason and "no order.cancelled" in i.reason for i in skipped)
        assert not any(i.envelope["subject"].startswith("C") for i in uci_feed.items)

    def test_stock_adjustments_with_negative_quantity_are_rejected_by_row(
        self, uci_feed: Feed, uci_rows: list[dict[str, str]]
    ) -> None:
        negative = [
            n + 2
            for n, r in enumerate(uci_rows)
            if int(r["Quantity"]) < 1 and not r["InvoiceNo"].startswith("C")
        ]
        rejected = [i for i in uci_feed.issues if not i.skipped]
        assert negative
        assert [i.row for i in rejected] == negative
        assert all(i.reason.startswith("quantity: must be >= 1") for i in rejected)

    def test_each_remaining_invoice_is_one_valid_order(
        self, uci_feed: Feed, uci_rows: list[dict[str, str]]
    ) -> None:
        rejected_rows = {i.row for i in uci_feed.issues}
        kept = Counter(r["InvoiceNo"] for n, r in enumerate(uci_rows) if n + 2 not in rejected_rows)
        assert Counter({i.envelope["subject"]: len(i.rows) for i in uci_feed.items}) == kept
        for item in uci_feed.items:
            parse_event(item.envelope, tenant_id="acme")

    def test_times_are_london_time_and_prices_pence(self, uci_feed: Feed) -> None:
        first = next(i.envelope for i in uci_feed.items if i.envelope["subject"] == "573442")
        # 10/31/2011 10:42 is GMT (summer time ended the day before); 4 x 4.25.
        assert first["data"]["placed_at"] == "2011-10-31T10:42:00Z"
        assert first["data"]["total_minor"] == 1700
        assert first["data"]["customer"]["customer_ref"] == "12488"
        assert first["data"]["ship_to"] == {"country": "FR"}
        summer = next(i.envelope for i in uci_feed.items if i.envelope["subject"] == "556478")
        assert summer["data"]["placed_at"] == "2011-06-12T11:34:00Z"

    def test_rows_without_customer_id_become_orders_without_customer(self, uci_feed: Feed) -> None:
        anonymous = next(i.envelope for i in uci_feed.items if i.envelope["subject"] == "545464")
        assert "customer" not in anonymous["data"]
