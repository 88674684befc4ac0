"""Global search in the console: every key a customer or provider gives finds the case,
and nothing of another tenant, or outside the reviewer's brand or region, is ever shown.
"""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection

from builders.console import console_person, signed_in
from builders.find_work import FindableOrder, findable_order
from builders.scopes import name_brands
from orderops.bootstrap import App
from orderops.console.search_view import alias_keys, phone_forms, search
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import ScopeValues, parse
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.access_scopes import set_user_scope

DE_ACME = ScopeValues(region="DE", brand="acme")
FR_BOLT = ScopeValues(region="FR", brand="bolt")


def _jane(app: App, clock: FixedClock, *, tenant: str = "acme") -> FindableOrder:
    return findable_order(
        app,
        clock,
        key="jane1",
        number="1046",
        name="Jane Doe",
        phone="+14155550123",
        place=DE_ACME,
        tenant=tenant,
    )


def _case_links(html: str) -> set[str]:
    return set(re.findall(r'href="/console/cases/([0-9a-f]+)"', html))


KEYS = {
    "order number with #": "#1046",
    "order number": "1046",
    "order ref": "o-jane1",
    "email, any case": "JANE1.buyer@example.COM",
    "name with a typo": "Jane Dow",
    "name, surname first": "doe jane",
    "phone as typed nationally": "(415) 555-0123",
    "tracking with spaces": "1z jane1 99",
    "payment intent": "pi_jane1",
    "charge": "ch_jane1",
    "ticket id": "t-jane1",
}


def test_each_kind_of_key_finds_the_case_and_only_it(app: App, clock: FixedClock) -> None:
    name_brands(app, clock)
    jane = _jane(app, clock)
    findable_order(
        app,
        clock,
        key="omar2",
        number="2077",
        name="Omar Lind",
        phone="+14155559876",
        place=DE_ACME,
    )
    client = signed_in(app, console_person(app, clock, role=Role.AGENT))

    pages = {label: client.get("/console/search", params={"q": q}) for label, q in KEYS.items()}

    assert {label: p.status_code for label, p in pages.items()} == dict.fromkeys(KEYS, 200)
    found = {label: _case_links(p.text) for label, p in pages.items()}
    assert found == dict.fromkeys(KEYS, jane.case_ids)


def test_another_tenants_order_with_the_same_number_is_not_shown(
    app: App, clock: FixedClock
) -> None:
    name_brands(app, clock)
    name_brands(app, clock, tenant="globex")
    ours = _jane(app, clock)
    theirs = _jane(app, clock, tenant="globex")
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))

    found = {
        q: _case_links(client.get("/console/search", params={"q": q}).text)
        for q in ("1046", ours.email, "Jane Doe", ours.tracking, ours.charge)
    }

    assert not ours.case_ids & theirs.case_ids
    assert all(links == ours.case_ids for links in found.values()), found


def test_a_reviewer_limited_to_a_region_finds_nothing_outside_it(
    app: App, clock: FixedClock
) -> None:
    name_brands(app, clock)
    inside = _jane(app, clock)
    outside = findable_order(
        app,
        clock,
        key="remy3",
        number="3055",
        name="Remy Martin",
        phone="+33612345678",
        place=FR_BOLT,
    )
    reviewer = console_person(app, clock, role=Role.AGENT)
    set_user_scope(
        app.sessions,
        tenant_id="acme",
        user_id=reviewer.user_id,
        scope=parse(["region=DE"]),
        actor="test",
        clock=clock,
    )
    client = signed_in(app, reviewer)
    outside_keys = (
        "#3055",
        outside.email,
        "Remy Martin",
        outside.phone,
        outside.tracking,
        outside.payment_ref,
        outside.charge,
        outside.ticket_ref,
        outside.order_ref,
    )

    pages = [client.get("/console/search", params={"q": q}).text for q in outside_keys]
    own = client.get("/console/search", params={"q": "1046"}).text

    for query, html in zip(outside_keys, pages, strict=True):
        assert "Nothing found" in html, query
        assert not _case_links(html), query
        assert 'id="search-customers"' not in html, query
        assert 'id="search-orders"' not in html, query
    assert _case_links(own) == inside.case_ids


def test_the_search_box_is_on_every_page(app: App, clock: FixedClock) -> None:
    client = signed_in(app, console_person(app, clock, role=Role.AGENT))

    pages = [client.get(url).text for url in ("/console/queues", "/console/mine", "/console/links")]

    assert all('role="search"' in p and 'action="/console/search"' in p for p in pages)


def test_text_that_is_not_an_order_number_never_tries_the_order_number_key() -> None:
    assert ("order.number", "1046") in alias_keys("#1046")
    assert all(kind != "order.number" for kind, _ in alias_keys("pi_1046"))
    assert phone_forms("pi_1046") == []
    assert "+14155550123" in phone_forms("415.555.0123")


def test_search_reads_cases_orders_and_aliases_through_their_indexes(
    app: App, clock: FixedClock
) -> None:
    """Each statement a key search runs, asked of the database's own planner: on
    PostgreSQL with sequential scans priced out (tables this small would be read whole
    otherwise), on SQLite as its query plan. No statement reads a whole table."""
    name_brands(app, clock)
    jane = _jane(app, clock)
    statements: list[tuple[str, Any]] = []

    def keep(_c: Connection, _cur: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith("SELECT"):
            statements.append((statement, parameters))

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        connection = uow.session.connection()
        postgres = connection.dialect.name == "postgresql"
        event.listen(connection.engine, "before_cursor_execute", keep)
        try:
            queries = ("#1046", jane.tracking, jane.charge, jane.email, "(415) 555-0123")
            found = [search(uow, q) for q in queries]
        finally:
            event.remove(connection.engine, "before_cursor_execute", keep)
        if postgres:
            connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        explain = "EXPLAIN" if postgres else "EXPLAIN QUERY PLAN"
        plans = [
            " | ".join(str(row[-1]) for row in connection.exec_driver_sql(f"{explain} {sql}", args))
            for sql, args in statements
        ]

    assert all({c.id for c in f.cases} == jane.case_ids for f in found)
    assert len(plans) >= 8
    tables = "(cases|orders|entity_aliases|customers)"
    whole = rf"Seq Scan on {tables}\b|\bSCAN {tables}\b"  # SQLite: SEARCH uses an index
    scanned = [p for p in plans if re.search(whole, p)]
    assert scanned == [], scanned
