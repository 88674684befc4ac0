"""The dashboards a head of operations reads in a minute, and the audit page's paging.

Rows are written straight to the database (orders, customers, lines, cases, payments,
audit records) so each test states exactly what a chart must count; the pages are read
over HTTP as a signed-in viewer, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import csv
import html
import io
import itertools
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from builders.console import console_person, signed_in
from orderops.bootstrap import App
from orderops.console.charts import EMPTY
from orderops.console.dash_export import HEADER
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import AuditRecord, Case, Customer, Order, OrderLineRow, Payment
from orderops.storage.uow import UnitOfWork

_n = itertools.count(1)


def _case(
    app: App,
    at: datetime,
    *,
    sku: str = "SKU-1",
    currency: str = "USD",
    total_minor: int = 1000,
    customer: str = "Ann Buyer",
    types: tuple[str, ...] = ("shipment_late",),
) -> list[str]:
    """One order (with a customer and one line) and a case of each type on it, opened at
    ``at``; returns the case ids."""
    n = next(_n)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        person = Customer(tenant_id="acme", name=customer, tier="vip", created_at=at, updated_at=at)
        uow.session.add(person)
        uow.session.flush()
        order = Order(
            tenant_id="acme",
            order_ref=f"o-{n}",
            source="test",
            customer_id=person.id,
            status="open",
            financial_status="paid",
            fulfillment_status="unfulfilled",
            currency=currency,
            total_minor=total_minor,
            placed_at=at,
            location="WH-EAST",
            ship_to={"country": "US"},
            source_updated_at=at,
            created_at=at,
            updated_at=at,
        )
        uow.session.add(order)
        uow.session.flush()
        uow.session.add(
            OrderLineRow(
                tenant_id="acme",
                order_id=order.id,
                position=0,
                sku=sku,
                quantity=1,
                unit_price_minor=total_minor,
            )
        )
        cases = [
            Case(
                tenant_id="acme",
                order_id=order.id,
                order_ref=order.order_ref,
                exception_type=kind,
                status="new",
                summary=f"{kind} on o-{n}",
                detected_at=at,
                opened_at=at,
                updated_at=at,
                facts={},
                queue="ops",
            )
            for kind in types
        ]
        uow.session.add_all(cases)
        uow.session.flush()
        ids = [c.id for c in cases]
        uow.commit()
    return ids


def _viewer(app: App, clock: FixedClock) -> TestClient:
    return signed_in(app, console_person(app, clock, role=Role.ADMIN))


def _span(clock: FixedClock, days: int = 3) -> str:
    today = clock.now().date()
    return f"from={today - timedelta(days=days - 1)}&to={today}"


def test_money_is_written_in_each_currencys_own_format(app: App, clock: FixedClock) -> None:
    now = clock.now()
    _case(app, now, currency="USD", total_minor=29042580)
    _case(app, now, currency="EUR", total_minor=123456)
    _case(app, now, currency="JPY", total_minor=98765)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.add(
            Payment(
                tenant_id="acme",
                provider="stripe",
                payment_ref="pi-jpy",
                order_ref="o-jpy",
                status="failed",
                amount_minor=5000,
                currency="jpy",
                failure_code="card_declined",
                status_at=now,
                created_at=now,
            )
        )
        uow.commit()

    page = _viewer(app, clock).get(f"/console/dashboards?{_span(clock)}").text

    assert "$290,425.80" in page
    assert "€1,234.56" in page
    assert "¥98,765" in page  # yen have no minor unit: no decimals, not divided by 100
    assert "¥5,000" in page  # the failed payment's amount at stake
    assert "290425.8" not in page
    assert "¥987.65" not in page


def test_a_bars_drill_down_lists_exactly_the_cases_it_counts(app: App, clock: FixedClock) -> None:
    now = clock.now()
    counted = [
        *_case(app, now, sku="SKU-A", types=("shipment_late", "stuck_order")),
        *_case(app, now - timedelta(days=1), sku="SKU-A"),
    ]
    _case(app, now, sku="SKU-B")
    _case(app, now - timedelta(days=30), sku="SKU-A")  # outside the period
    client = _viewer(app, clock)

    page = client.get(f"/console/dashboards?{_span(clock)}").text
    links = re.findall(r'<a href="([^"]+)" aria-label="SKU-A: list the cases">', page)
    assert len(links) == 1
    drill = client.get(html.unescape(links[0]))
    listed = re.findall(r'data-case="(\w+)"', drill.text)

    assert drill.status_code == 200
    assert sorted(listed) == sorted(counted)
    assert "3 case(s)" in drill.text
    sku_rows = list(
        csv.reader(
            io.StringIO(client.get(f"/console/dashboards.csv?chart=sku&{_span(clock)}").text)
        )
    )
    assert sku_rows[1:] == [
        ["sku", "SKU-A", "3", "cases", "3", ""],
        ["sku", "SKU-B", "1", "cases", "1", ""],
    ]


def test_a_charts_csv_has_a_header_and_writes_formulas_as_text(app: App, clock: FixedClock) -> None:
    now = clock.now()
    for name in ('=HYPERLINK("http://x")', "+1 555", "-2+3", "@SUM(A1)", "Plain Name"):
        _case(app, now, customer=name)
    client = _viewer(app, clock)

    answer = client.get(f"/console/dashboards.csv?chart=customer&{_span(clock)}")
    rows = list(csv.reader(io.StringIO(answer.text)))

    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert rows[0] == HEADER
    assert sorted(r[1] for r in rows[1:]) == sorted(
        ['\'=HYPERLINK("http://x")', "'+1 555", "'-2+3", "'@SUM(A1)", "Plain Name"]
    )
    assert all(r[0] == "customer" and r[2] == "1" and r[4] == "1" for r in rows[1:])
    assert client.get(f"/console/dashboards.csv?chart=nope&{_span(clock)}").status_code == 422


def test_an_empty_period_says_so_instead_of_drawing_zeros(app: App, clock: FixedClock) -> None:
    _case(app, clock.now() - timedelta(days=40))  # before the period (and still open)
    client = _viewer(app, clock)

    page = client.get(f"/console/dashboards?{_span(clock)}").text
    svgs = re.findall(r'<svg class="chart".*?</svg>', page, flags=re.S)

    empty = [s for s in svgs if EMPTY in s]
    # twelve charts; the two day-by-day ones drawn twice (a desk's columns, a phone's rows)
    assert len(svgs) == 14
    assert [s for s in svgs if s not in empty] == [
        s
        for s in svgs
        if "Open cases by age" in s  # the backlog is now, not the period
    ]
    assert "0 h" not in page
    assert "0 min" not in page


# -- audit ---------------------------------------------------------------------------------


def _records(app: App, clock: FixedClock, count: int) -> None:
    """``count`` records: alternating entity types, actions, actors, one per hour back."""
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        for i in range(count):
            uow.audit.append(
                at=clock.now() - timedelta(hours=count - i),
                actor="user:u1" if i % 3 == 0 else "sla",
                action="case.opened" if i % 2 == 0 else "writeback.retried",
                entity_type="case" if i % 2 == 0 else "outbox",
                entity_id=f"e{i}",
                data={"i": i},
            )
        uow.commit()


def _all_seqs(app: App, keep: Callable[[AuditRecord], bool] | None = None) -> list[int]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return sorted((r.seq for r in uow.audit.records() if keep is None or keep(r)), reverse=True)


def _shown(text: str) -> list[int]:
    return [int(s) for s in re.findall(r'<td class="num">(\d+)</td>', text)]


def _link(text: str, rel: str) -> str | None:
    found = re.search(rf'<a rel="{rel}" href="([^"]+)"', text)
    return html.unescape(found.group(1)) if found else None


def test_the_audit_pages_by_fifty_with_no_record_twice_and_none_missing(
    app: App, clock: FixedClock
) -> None:
    _records(app, clock, 120)
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))
    expected = _all_seqs(app)

    pages: list[list[int]] = []
    url: str | None = "/console/audit"
    last = ""
    while url is not None:
        answer = client.get(url)
        pages.append(_shown(answer.text))
        last, url = url, _link(answer.text, "next")
    back: list[list[int]] = []
    url = _link(client.get(last).text, "prev")
    while url is not None:
        answer = client.get(url)
        back.append(_shown(answer.text))
        url = _link(answer.text, "prev")

    assert len(pages) == 3
    assert [len(p) for p in pages[:-1]] == [50, 50]
    assert [s for p in pages for s in p] == expected
    assert back == pages[:-1][::-1]  # "newer" from the last page walks the same pages back


FILTERS: dict[str, tuple[str, Callable[[AuditRecord, str], bool]]] = {
    "entity type": ("entity=outbox", lambda r, _: r.entity_type == "outbox"),
    "action": ("action=case.", lambda r, _: r.action.startswith("case.")),
    "actor": ("actor=user:u1", lambda r, _: r.actor == "user:u1"),
    "date range": ("from={day}&to={day}", lambda r, day: r.at.date().isoformat() == day),
}


@pytest.mark.parametrize("name", list(FILTERS))
def test_each_audit_filter_shows_exactly_its_records(
    app: App, clock: FixedClock, name: str
) -> None:
    _records(app, clock, 60)
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))
    day = (clock.now() - timedelta(days=1)).date().isoformat()
    query, keep = FILTERS[name]

    shown: list[int] = []
    url: str | None = "/console/audit?" + query.replace("{day}", day)
    while url is not None:
        answer = client.get(url)
        shown += _shown(answer.text)
        url = _link(answer.text, "next")

    assert shown == _all_seqs(app, lambda r: keep(r, day))
    assert 0 < len(shown) < len(_all_seqs(app))
