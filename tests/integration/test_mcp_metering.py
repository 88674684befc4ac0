"""The agents' tool calls in the tenant's usage, through the SDK's client over HTTP: every
authenticated call counts once on the ``agent_tool_calls`` meter of its own tenant, by
tool, dry runs and refusals included (as the REST API counts its 403s and 429s); the
usage API, its CSV and the console's CSV show the rows; a hard monthly quota refuses the
next call with ``quota-exceeded``, counted nowhere, audited. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from builders.access import person
from builders.console import console_person, signed_in
from builders.database_roles import owner_sessions
from builders.mcp_clients import (
    AgentWorld,
    agent_world,
    call,
    money_limits,
    over_http,
    read,
    run_served,
)
from orderops.bootstrap import App
from orderops.commands import usage as usage_commands
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.usage import Meter
from orderops.storage.tables import AuditRecord, UsageCounter

METER = str(Meter.AGENT_TOOL_CALLS)


@pytest.fixture
def world(app: App, clock: FixedClock) -> AgentWorld:
    return agent_world(app, clock)


def orderops(app: App, *args: str) -> str:
    """``orderops usage ...`` on the test's app; it must succeed."""
    cli = typer.Typer()
    usage_commands.register(cli, app_factory=lambda: app)
    result = CliRunner().invoke(cli, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def tool_counts(app: App) -> dict[tuple[str, str], int]:
    """(tenant, dimension) -> calls counted, every tenant's (as the owner)."""
    with owner_sessions(app)() as session:
        rows = session.execute(
            select(UsageCounter.tenant_id, UsageCounter.dimension, UsageCounter.quantity).where(
                UsageCounter.meter == METER
            )
        ).all()
    return {(tenant, dimension): quantity for tenant, dimension, quantity in rows}


def test_each_call_counts_for_its_own_tenant_by_tool_dry_runs_and_refusals_too(
    app: App, clock: FixedClock, world: AgentWorld, http: TestClient
) -> None:
    service = world.key("acme", Role.SERVICE)
    viewer = world.key("acme", Role.VIEWER)
    money_limits(app, clock, service, per_action=10_000, per_day=10_000)
    mine, foreign = world.cases["acme"][0], world.cases["globex"][0]

    async def scenario(base: str) -> None:
        async with over_http(base, service.secret) as client:
            assert (await call(client, "get_case", case_id=mine)).ok
            assert (await call(client, "get_case", case_id=foreign)).code == "not-found"
            dry = await call(
                client,
                "propose_action",
                case_id=mine,
                kind="refund",
                amount_minor=3000,
                reason="parcel late",
                dry_run=True,
            )
            assert dry.ok, dry.error
            assert (await read(client, "orderops://policies/routing")).error is None
            assert (await read(client, "orderops://policies/nonsense")).error is not None
        async with over_http(base, viewer.secret) as client:
            refused = await call(client, "draft_message", case_id=mine, body="hello")
            assert refused.code == "forbidden"

    run_served(app, scenario)

    assert tool_counts(app) == {
        ("acme", "get_case"): 2,
        ("acme", "propose_action"): 1,
        ("acme", "resource:policies"): 2,
        ("acme", "draft_message"): 1,
    }
    admin = person(app, clock, tenant="acme", role=Role.ADMIN, name="ada-usage")
    globex_admin = person(app, clock, tenant="globex", role=Role.ADMIN, name="gus-usage")
    report = http.get("/v1/usage", headers=admin.headers).json()
    csv_lines = http.get("/v1/usage?format=csv", headers=admin.headers).text.splitlines()
    day = clock.now().date().isoformat()
    assert {"tenant": "acme", "meter": METER, "quantity": 6, "unit": "call"} in report["totals"]
    assert f"acme,live,{day},{METER},propose_action,1,call" in csv_lines
    assert f"acme,live,{day},{METER},get_case,2,call" in csv_lines
    globex = http.get("/v1/usage?format=csv", headers=globex_admin.headers).text
    assert METER not in globex
    with signed_in(app, console_person(app, clock, role=Role.ADMIN)) as browser:
        page = browser.get("/console/usage")
        console_csv = browser.get("/console/usage.csv").text.splitlines()
    assert "agent tool calls" in page.text
    assert "resource:policies" in page.text
    assert f"acme,live,{day},{METER},draft_message,1,call" in console_csv
    assert f"acme,live,{day},{METER},resource:policies,2,call" in orderops(
        app, "usage", "--tenant", "acme", "--csv"
    )


def test_a_hard_quota_on_tool_calls_refuses_the_next_call_and_counts_only_those_served(
    app: App, clock: FixedClock, world: AgentWorld
) -> None:
    orderops(app, "usage", "quota", "set", "-t", "acme", "-m", METER, "--soft", "1", "--hard", "2")
    viewer = world.key("acme", Role.VIEWER)
    mine = world.cases["acme"][0]
    answers = []

    async def scenario(base: str) -> None:
        async with over_http(base, viewer.secret) as client:
            for _ in range(3):
                answers.append(await call(client, "get_case", case_id=mine))
        async with over_http(base, world.key("globex", Role.VIEWER).secret) as client:
            answers.append(await call(client, "get_case", case_id=world.cases["globex"][0]))

    run_served(app, scenario)

    assert [a.ok for a in answers] == [True, True, False, True]
    assert answers[2].code == "quota-exceeded"
    assert "monthly agent_tool_calls quota" in answers[2].message
    assert "resets at 2026-12-01T00:00:00Z" in answers[2].message
    assert tool_counts(app) == {("acme", "get_case"): 2, ("globex", "get_case"): 1}
    with owner_sessions(app)() as session:
        records = session.scalars(
            select(AuditRecord)
            .where(AuditRecord.tenant_id == "acme")
            .where(AuditRecord.action.in_(["agent.call", "usage.quota_warning"]))
            .order_by(AuditRecord.seq)
        ).all()
    assert [(r.action, r.data.get("outcome") or r.entity_id) for r in records] == [
        ("agent.call", "ok"),
        ("usage.quota_warning", METER),
        ("agent.call", "ok"),
        ("agent.call", "quota-exceeded"),
    ]
