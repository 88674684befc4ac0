"""Wherever a person reads an order in the console's tables, it is named as the store
names it (#1046), not by the desk's reference for it; the reference stays in links."""

from __future__ import annotations

import re

from builders.console import console_person, csrf_of, signed_in
from builders.find_work import findable_order
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import ScopeValues
from orderops.storage.uow import UnitOfWork


def _link_texts(html: str, case_ids: frozenset[str]) -> set[str]:
    """The text of every link to one of the cases."""
    return {
        text.strip()
        for case_id in case_ids
        for text in re.findall(rf'href="/console/cases/{case_id}">([^<]*)</a>', html)
    }


def test_search_queue_my_cases_dashboards_and_bulk_name_the_order_as_the_store_does(
    app: App, clock: FixedClock
) -> None:
    jane = findable_order(
        app,
        clock,
        key="5480114161228",
        number="1046",
        name="Jane Doe",
        phone="+14155550123",
        place=ScopeValues(region="DE", brand="acme"),
    )
    person = console_person(app, clock, role=Role.ADMIN)
    client = signed_in(app, person)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        queues = {c.queue for c in (uow.cases.get(i) for i in jane.case_ids) if c is not None}

    search = client.get("/console/search", params={"q": "#1046"}).text
    assert _link_texts(search, jane.case_ids) == {"#1046"}
    orders = search.split('id="search-orders"')[1].split("</table>")[0]
    assert f'href="/console/orders/{jane.order_ref}/links">#1046</a>' in orders
    assert f">{jane.order_ref}<" not in orders  # the reference is in the link only

    for queue in queues:
        assert queue is not None
        page = client.get(f"/console/queues/{queue}").text
        assert _link_texts(page, jane.case_ids) == {"#1046"}
        assert 'aria-label="Tick #1046"' in page

    token = csrf_of(client.get("/console/search?q=1046").text)
    bulk = client.post(
        "/console/bulk",
        data={"csrf": token, "op": "claim", "case": sorted(jane.case_ids), "back": "/console/mine"},
    )
    assert bulk.status_code == 200
    assert _link_texts(bulk.text, jane.case_ids) == {"#1046"}

    mine = client.get("/console/mine").text
    assert _link_texts(mine, jane.case_ids) == {"#1046"}

    drill = client.get("/console/dashboards/cases", params={"chart": "backlog"}).text
    assert _link_texts(drill, jane.case_ids) == {"#1046"}


def test_an_order_without_a_number_keeps_its_reference(app: App, clock: FixedClock) -> None:
    from orderops.console.order_names import order_names

    findable_order(
        app,
        clock,
        key="nonumber",
        number="",
        name="No Number",
        phone="+14155550999",
        place=ScopeValues(region="DE", brand="acme"),
    )
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert order_names(uow, ["o-nonumber", "o-never-seen"]) == {
            "o-nonumber": "o-nonumber",
            "o-never-seen": "o-never-seen",
        }
