"""The processing lag per tenant: exact counts, ages by arrival, and who may see them.

Two tenants with inbox rows in every status and outbox rows due, in backoff, delivered
and under an expired lease. The figures are the same through ``inbox_lag``, /metrics,
/v1/inbox/lag and ``orderops inbox lag``; ages follow the clock and are measured from
``received_at``, never from the event's own (much older) time.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from itertools import count

import pytest
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import update
from typer.testing import CliRunner

from builders.access import Person, person
from orderops.api import inbox as inbox_api
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.commands import inbox as inbox_commands
from orderops.commands.errors import CleanErrors
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import InboxEvent, OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.lag import TenantLag, inbox_lag
from orderops.workflow.lag_metrics import LAG_GAUGES
from orderops.writeback.outbox import enqueue
from orderops.writeback.states import OutboxStatus

MINUTE = timedelta(minutes=1)
TOKEN = "scrape-token-0123456789abcdef"
_ids = count(1)

ACME = TenantLag(
    tenant_id="acme",
    pending=3,
    deferred=2,
    failed=1,
    oldest_pending_age_seconds=600.0,
    outbox_due=2,
    oldest_due_age_seconds=180.0,
)
GLOBEX = TenantLag(
    tenant_id="globex",
    pending=1,
    deferred=1,
    failed=0,
    oldest_pending_age_seconds=30.0,
    outbox_due=0,
    oldest_due_age_seconds=None,
)


def _inbox(app: App, tenant: str, status: str, *, received: datetime) -> str:
    """One accepted event, stored as intake stores it, then put in ``status``."""
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        event_id = f"evt-{next(_ids)}"
        inbox_id = uow.inbox.add(
            source="shop",
            event_id=event_id,
            type="order.placed",
            subject=f"o-{event_id}",
            event_time=received - timedelta(days=30),  # a replayed history: old event times
            received_at=received,
            envelope={"id": event_id},
        )
        uow.session.execute(
            update(InboxEvent).where(InboxEvent.id == inbox_id).values(status=status)
        )
        uow.commit()
    return inbox_id


def _outbox(app: App, tenant: str, *, due: datetime, **state: object) -> str:
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        message_id = enqueue(
            uow,
            system="stripe",
            operation="refund",
            idempotency_key=f"key-{next(_ids)}",
            payload={},
            now=due,
        )
        if state:
            uow.session.execute(
                update(OutboxMessage).where(OutboxMessage.id == message_id).values(**state)
            )
        uow.commit()
    return message_id


@pytest.fixture
def backlog(app: App, clock: FixedClock) -> dict[str, str]:
    """ACME's and GLOBEX's figures at ``clock.now()``; the ids tests move around."""
    now = clock.now()
    oldest_pending = _inbox(app, "acme", "pending", received=now - 10 * MINUTE)
    _inbox(app, "acme", "pending", received=now - 5 * MINUTE)
    _inbox(app, "acme", "pending", received=now - MINUTE)
    # older than any pending row: they must not count as the pending age
    _inbox(app, "acme", "deferred", received=now - 60 * MINUTE)
    _inbox(app, "acme", "deferred", received=now - 60 * MINUTE)
    _inbox(app, "acme", "failed", received=now - 120 * MINUTE)
    for _ in range(4):
        _inbox(app, "acme", "processed", received=now - timedelta(days=1))
    _inbox(app, "globex", "pending", received=now - timedelta(seconds=30))
    _inbox(app, "globex", "deferred", received=now - 90 * MINUTE)
    _inbox(app, "globex", "processed", received=now - timedelta(days=2))

    _outbox(app, "acme", due=now - 3 * MINUTE)  # due for three minutes
    _outbox(app, "acme", due=now - 9 * MINUTE, next_attempt_at=now + 10 * MINUTE)  # backoff
    _outbox(app, "acme", due=now - 30 * MINUTE, status=str(OutboxStatus.DELIVERED))
    _outbox(  # its worker died: due again since its lease ran out, a minute ago
        app,
        "acme",
        due=now - 20 * MINUTE,
        status=str(OutboxStatus.IN_FLIGHT),
        leased_by="dead-worker",
        leased_until=now - MINUTE,
    )
    _outbox(  # a live lease: being delivered, not waiting
        app,
        "acme",
        due=now - 2 * MINUTE,
        status=str(OutboxStatus.IN_FLIGHT),
        leased_by="live-worker",
        leased_until=now + MINUTE,
    )
    _outbox(app, "globex", due=now + 5 * MINUTE)  # not due yet
    return {"oldest_pending": oldest_pending}


def _api(app: App) -> FastAPI:
    """The app with the inbox router, whether or not create_app registers it yet."""
    api = create_app(app)
    if not any(getattr(route, "path", "") == "/v1/inbox/lag" for route in api.routes):
        api.include_router(inbox_api.router)
    return api


@pytest.fixture
def web(app: App) -> Iterator[TestClient]:
    with TestClient(_api(app)) as client:
        yield client


def _scrape(client: TestClient, **headers: str) -> dict[str, dict[str, float]]:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.text
    return {
        family.name: {sample.labels["tenant"]: sample.value for sample in family.samples}
        for family in text_string_to_metric_families(response.text)
        if family.name in {gauge.name for gauge in LAG_GAUGES}  # not the desk's other figures
    }


def test_each_tenant_gets_its_exact_figures(
    app: App, clock: FixedClock, backlog: dict[str, str]
) -> None:
    assert inbox_lag(app.sessions, now=clock.now()) == [ACME, GLOBEX]
    assert inbox_lag(app.sessions, now=clock.now(), tenant_id="globex") == [GLOBEX]


def test_the_ages_grow_with_the_clock_and_follow_the_oldest_row_left(
    app: App, clock: FixedClock, backlog: dict[str, str]
) -> None:
    clock.advance(10 * MINUTE)

    acme, globex = inbox_lag(app.sessions, now=clock.now())
    assert acme.oldest_pending_age_seconds == 1200.0
    assert acme.oldest_due_age_seconds == 780.0
    # the lease that was live has run out meanwhile, and the backoff has ended
    assert acme.outbox_due == 4
    assert globex.oldest_pending_age_seconds == 630.0
    assert globex.outbox_due == 1
    assert globex.oldest_due_age_seconds == 300.0

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.execute(
            update(InboxEvent)
            .where(InboxEvent.id == backlog["oldest_pending"])
            .values(status="processed")
        )
        uow.commit()
    acme = inbox_lag(app.sessions, now=clock.now(), tenant_id="acme")[0]
    assert (acme.pending, acme.oldest_pending_age_seconds) == (2, 900.0)


def test_metrics_show_the_figures_labelled_by_tenant(
    web: TestClient, backlog: dict[str, str]
) -> None:
    scraped = _scrape(web)

    assert scraped == {
        "orderops_inbox_pending": {"acme": 3, "globex": 1},
        "orderops_inbox_deferred": {"acme": 2, "globex": 1},
        "orderops_inbox_failed": {"acme": 1, "globex": 0},
        "orderops_inbox_oldest_pending_age_seconds": {"acme": 600, "globex": 30},
        "orderops_outbox_due": {"acme": 2, "globex": 0},
        "orderops_outbox_oldest_due_age_seconds": {"acme": 180, "globex": 0},
    }


def test_metrics_follow_the_clock_between_scrapes(
    web: TestClient, clock: FixedClock, backlog: dict[str, str]
) -> None:
    before = _scrape(web)["orderops_inbox_oldest_pending_age_seconds"]
    clock.advance(MINUTE)
    after = _scrape(web)["orderops_inbox_oldest_pending_age_seconds"]

    assert (before["acme"], after["acme"]) == (600, 660)


def test_with_a_token_set_metrics_answer_only_its_bearer(
    app: App, clock: FixedClock, backlog: dict[str, str]
) -> None:
    app.settings = app.settings.model_copy(update={"metrics_token": SecretStr(TOKEN)})
    tenant_admin = person(app, clock, tenant="acme", role=Role.ADMIN)

    with TestClient(_api(app)) as client:
        anonymous = client.get("/metrics")
        with_a_tenant_key = client.get("/metrics", headers=tenant_admin.headers)
        with_a_wrong_token = client.get("/metrics", headers={"Authorization": "Bearer nope"})
        scraped = _scrape(client, Authorization=f"Bearer {TOKEN}")

    assert anonymous.status_code == 401
    assert anonymous.headers["content-type"] == "application/problem+json"
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert "acme" not in anonymous.text
    assert with_a_tenant_key.status_code == 401
    assert with_a_wrong_token.status_code == 401
    assert scraped["orderops_inbox_pending"] == {"acme": 3, "globex": 1}


def _lag(client: TestClient, who: Person) -> dict[str, object]:
    response = client.get("/v1/inbox/lag", headers=who.headers)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


def test_the_lag_route_answers_the_callers_tenant_only(
    app: App, clock: FixedClock, web: TestClient, backlog: dict[str, str]
) -> None:
    acme_service = person(app, clock, tenant="acme", role=Role.SERVICE)
    globex_admin = person(app, clock, tenant="globex", role=Role.ADMIN)
    acme_viewer = person(app, clock, tenant="acme", role=Role.VIEWER)

    assert _lag(web, acme_service) == {
        "measured_at": "2026-11-20T12:00:00Z",
        **ACME.as_json(),
    }
    globex = _lag(web, globex_admin)
    assert globex["tenant_id"] == "globex"
    assert (globex["pending"], globex["oldest_due_age_seconds"]) == (1, None)
    assert web.get("/v1/inbox/lag", headers=acme_viewer.headers).status_code == 403
    assert web.get("/v1/inbox/lag").status_code == 401


def _cli(app: App, *args: str) -> tuple[int, str]:
    cli = typer.Typer(cls=CleanErrors)
    inbox_commands.register(cli, make_app=lambda: app)
    result = CliRunner().invoke(cli, ["inbox", "lag", *args])
    return result.exit_code, result.output


def test_the_cli_prints_every_tenant_or_one(app: App, backlog: dict[str, str]) -> None:
    code, output = _cli(app, "--json")
    assert code == 0, output
    document = json.loads(output)
    assert document["tenants"] == [ACME.as_json(), GLOBEX.as_json()]

    code, output = _cli(app, "--tenant", "globex")
    assert code == 0, output
    assert "globex" in output
    assert "acme" not in output

    code, output = _cli(app, "--tenant", "initech")
    assert (code, output.strip()) == (
        2,
        "error: no tenant 'initech'; create it with `orderops tenant create initech`",
    )
