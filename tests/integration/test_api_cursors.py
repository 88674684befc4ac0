"""Every listing beside the case list pages by signed cursor: each row once, in order, even
when a row that sorts first arrives between two pages; a garbled cursor, another tenant's,
another listing's, or one sent with an offset is a 400 problem that names no row."""

from __future__ import annotations

import base64
import itertools
import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from builders.access import Person, late_case, person
from builders.database_roles import owner_sessions
from conftest import T0
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import Action, DeskHold, LinkSuggestion, OutboxMessage
from orderops.storage.tables.incidents import Incident

_serial = itertools.count()
Add = Callable[[App, str, datetime], str]


def _id(at: datetime) -> str:
    """Ids that do not follow time, so the id only breaks ties."""
    return uuid.uuid4().hex


def _outbox(app: App, case_id: str, at: datetime) -> str:
    row_id = _id(at)
    with owner_sessions(app).begin() as session:
        session.add(
            OutboxMessage(
                id=row_id,
                tenant_id="acme",
                case_id=case_id or None,
                system="shopify",
                operation="add_order_note",
                idempotency_key=f"k-{next(_serial)}",
                payload={},
                status="delivered",
                next_attempt_at=at,
                created_at=at,
            )
        )
    return row_id


def _incident(app: App, case_id: str, at: datetime) -> str:
    row_id = _id(at)
    with owner_sessions(app).begin() as session:
        session.add(
            Incident(
                id=row_id,
                tenant_id="acme",
                key=f"carrier_delay:carrier:c{next(_serial)}",
                type="carrier_delay",
                dimension="carrier",
                summary="late at one carrier",
                opened_at=at,
                case_count=0,
            )
        )
    return row_id


def _suggestion(app: App, case_id: str, at: datetime) -> str:
    row_id = _id(at)
    with owner_sessions(app).begin() as session:
        session.add(
            LinkSuggestion(
                id=row_id,
                tenant_id="acme",
                record_type="ticket",
                record_ref=f"zendesk:{next(_serial)}",
                candidates={"orders": []},
                reason="two open orders",
                status="open",
                created_at=at,
            )
        )
    return row_id


def _action(app: App, case_id: str, at: datetime) -> str:
    row_id = _id(at)
    with owner_sessions(app).begin() as session:
        session.add(
            Action(
                id=row_id,
                tenant_id="acme",
                case_id=case_id,
                kind="release_fulfillment",
                params={"note": "checked"},
                status="awaiting_approval",
                proposed_by="user:test",
                created_at=at,
            )
        )
    return row_id


def _hold(app: App, case_id: str, at: datetime) -> str:
    action_id, place_id, row_id = _action(app, case_id, at), _outbox(app, case_id, at), _id(at)
    with owner_sessions(app).begin() as session:
        session.add(
            DeskHold(
                id=row_id,
                tenant_id="acme",
                order_ref="o-1",
                case_id=case_id,
                action_id=action_id,
                kind="fulfillment",
                reason="address_check",
                owner="user:test",
                status="active",
                placed_at=at,
                expires_at=at + timedelta(days=2),
                place_outbox_id=place_id,
            )
        )
    return row_id


@dataclass(frozen=True)
class Listing:
    path: str
    add: Add
    newest_first: bool
    offsets: bool
    """Whether offset paging is still offered (documented before cursors)."""
    on_a_case: bool = False

    def items(self, answer: httpx.Response) -> list[dict[str, Any]]:
        body = answer.json()
        return body if isinstance(body, list) else body["items"]


LISTINGS = {
    "incidents": Listing("/v1/incidents", _incident, newest_first=True, offsets=True),
    "outbox": Listing("/v1/outbox", _outbox, newest_first=True, offsets=True),
    "link-suggestions": Listing(
        "/v1/link-suggestions", _suggestion, newest_first=False, offsets=True
    ),
    "actions": Listing("/v1/actions", _action, newest_first=False, offsets=False, on_a_case=True),
    "holds": Listing("/v1/holds", _hold, newest_first=True, offsets=False, on_a_case=True),
}


@pytest.fixture(params=list(LISTINGS))
def listing(request: pytest.FixtureRequest) -> Listing:
    return LISTINGS[request.param]


@pytest.fixture
def case_id(app: App, clock: FixedClock, listing: Listing) -> str:
    """A real case for the rows that need one (actions, holds); "" for the others."""
    return late_case(app, clock) if listing.on_a_case else ""


def seed(app: App, listing: Listing, case_id: str) -> list[str]:
    """Seven rows, two pairs sharing a time; their ids in the listing's order."""
    times = [T0 - timedelta(minutes=m) for m in (50, 40, 40, 30, 20, 20, 10)]
    rows = [(at, listing.add(app, case_id, at)) for at in times]
    if listing.newest_first:
        rows.sort(key=lambda r: (-r[0].timestamp(), r[1]))
    else:
        rows.sort()
    return [row_id for _, row_id in rows]


def next_link(answer: httpx.Response) -> str | None:
    link = answer.headers.get("link")
    if link is None:
        return None
    assert link.endswith('>; rel="next"'), link
    return link[1 : link.index(">")]


def test_paging_by_cursor_shows_every_row_once_in_order_whatever_arrives_meanwhile(
    app: App, http: TestClient, agent: Person, listing: Listing, case_id: str
) -> None:
    expected = seed(app, listing, case_id)
    seen: list[str] = []
    url: str | None = f"{listing.path}?limit=3"
    pages = 0
    while url is not None:
        answer = http.get(url, headers=agent.headers)
        assert answer.status_code == 200, answer.text
        seen += [item["id"] for item in listing.items(answer)]
        body = answer.json()
        if isinstance(body, dict):  # the body's cursor is the one the Link header carries
            assert (body["next_cursor"] is None) == (next_link(answer) is None)
        if pages == 0:  # a row that sorts before everything seen arrives
            first = T0 + timedelta(hours=1) if listing.newest_first else T0 - timedelta(days=1)
            listing.add(app, case_id, first)
        url, pages = next_link(answer), pages + 1

    assert seen == expected
    assert pages == 3


def _first_cursor(http: TestClient, who: Person, listing: Listing) -> str:
    link = next_link(http.get(listing.path, params={"limit": 1}, headers=who.headers))
    assert link is not None
    return httpx.URL(link).params["cursor"]


def _edited(token: str) -> str:
    payload, _, mac = token.partition(".")
    body = json.loads(_unb64(payload))
    body["key"] = ["2001-01-01T00:00:00+00:00"]

    edited = base64.urlsafe_b64encode(json.dumps(body).encode()).rstrip(b"=").decode()
    return f"{edited}.{mac}"


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_a_garbled_forged_or_foreign_cursor_is_a_400_problem_naming_no_row(
    app: App, clock: FixedClock, http: TestClient, agent: Person, listing: Listing, case_id: str
) -> None:
    ids = seed(app, listing, case_id)
    other = LISTINGS["outbox" if listing.path != "/v1/outbox" else "incidents"]
    seed(app, other, case_id)
    real = _first_cursor(http, agent, listing)
    globex = person(app, clock, tenant="globex", role=Role.AGENT)
    bad = {
        "words": (agent, "not a cursor"),
        "cut": (agent, real[:-3]),
        "huge": (agent, real + "x" * 2000),
        "edited": (agent, _edited(real)),
        "other listing": (agent, _first_cursor(http, agent, other)),
        "other tenant": (globex, real),
    }

    answers = {
        name: http.get(listing.path, params={"cursor": token}, headers=who.headers)
        for name, (who, token) in bad.items()
    }

    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(bad, 400)
    for answer in answers.values():
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["type"].endswith("/invalid-cursor")
        assert not any(row_id in answer.text for row_id in ids)
    assert "tenant" in answers["other tenant"].json()["detail"]
    assert "listing" in answers["other listing"].json()["detail"]


@pytest.mark.parametrize("name", [n for n, spec in LISTINGS.items() if spec.offsets])
def test_offset_paging_still_works_but_never_with_a_cursor(
    app: App, http: TestClient, agent: Person, name: str
) -> None:
    listing = LISTINGS[name]
    expected = seed(app, listing, "")
    cursor = _first_cursor(http, agent, listing)

    by_offset = http.get(listing.path, params={"limit": 3, "offset": 3}, headers=agent.headers)
    both = http.get(listing.path, params={"cursor": cursor, "offset": 3}, headers=agent.headers)

    assert [i["id"] for i in listing.items(by_offset)] == expected[3:6]
    assert by_offset.json()["next_offset"] == 6
    assert both.status_code == 400
    assert "offset" in both.json()["detail"]
