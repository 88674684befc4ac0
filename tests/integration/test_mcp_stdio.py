"""The agents' tool API over stdio: the real ``orderops mcp serve --tenant T`` in a child
process, driven by the SDK's client, on the test's database (both databases). The key
comes from ``ORDEROPS_API_KEY``; the detailed rules are tried over HTTP in
test_mcp_tools.py, and here the same server answers the same way through the other
transport."""

from __future__ import annotations

import subprocess

import anyio
import pytest
from sqlalchemy import select

from builders.database_roles import owner_sessions
from builders.mcp_clients import (
    ORDEROPS,
    AgentWorld,
    agent_world,
    call,
    case_ids,
    money_limits,
    over_stdio,
    read,
    stdio_env,
)
from orderops.agent_tools.server import TOOLS
from orderops.bootstrap import App
from orderops.domain.actions import ActionStatus
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import Action, AuditRecord
from orderops.tenancy.users import revoke_key


@pytest.fixture
def world(app: App, clock: FixedClock) -> AgentWorld:
    return agent_world(app, clock)


def test_a_service_key_over_stdio_reads_its_tenant_proposes_within_limits_and_approves_nothing(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    service = world.key("acme", Role.SERVICE)
    money_limits(app, clock, service, per_action=3500, per_day=5000)
    first, second = world.cases["acme"]
    foreign = world.cases["globex"][0]
    answers = {}

    async def scenario() -> None:
        async with over_stdio(app, "acme", service.secret) as client:
            answers["tools"] = sorted(t.name for t in (await client.list_tools()).tools)
            answers["list"] = await call(client, "search_cases")
            answers["foreign"] = await call(client, "get_case", case_id=foreign)
            answers["explain"] = await call(client, "explain_case", case_id=first)
            answers["dry"] = await call(
                client,
                "propose_action",
                case_id=first,
                kind="refund",
                amount_minor=3000,
                reason="late",
                dry_run=True,
            )
            answers["real"] = await call(
                client,
                "propose_action",
                case_id=first,
                kind="refund",
                amount_minor=3000,
                reason="late",
            )
            answers["over"] = await call(
                client,
                "propose_action",
                case_id=second,
                kind="refund",
                amount_minor=3000,
                reason="late",
            )
            answers["draft"] = await call(client, "draft_message", case_id=first, body="Sorry")
            answers["policy"] = await read(client, "orderops://policies/routing")

    anyio.run(scenario)
    assert answers["tools"] == sorted(TOOLS)
    assert {c["id"] for c in answers["list"].data["cases"]} == case_ids(app, "acme")
    assert answers["foreign"].message == f"not-found: no case {foreign}"
    assert answers["explain"].data["case"]["id"] == first
    assert answers["dry"].data["approval_path"]["approver_classes"] == ["approver"]
    assert answers["real"].data["proposed"]["status"] == ActionStatus.AWAITING_APPROVAL
    assert answers["over"].code == "agent-money-limit"
    assert answers["draft"].code == "forbidden"  # a service may not work cases (cases:work)
    assert answers["policy"].data["policy"] == "routing"
    with owner_sessions(app)() as session:
        statuses = session.scalars(select(Action.status)).all()
        calls = session.scalars(select(AuditRecord).where(AuditRecord.action == "agent.call")).all()
    assert statuses == [ActionStatus.AWAITING_APPROVAL]
    assert len(calls) == 8  # every tool call and the resource read; listing tools is no call
    assert {c.actor for c in calls} == {service.principal.identity}


def test_a_key_revoked_mid_session_stops_at_its_next_call(
    app: App, world: AgentWorld, clock: FixedClock
) -> None:
    viewer = world.key("acme", Role.VIEWER)
    case_id = world.cases["acme"][0]
    answers = []

    async def scenario() -> None:
        async with over_stdio(app, "acme", viewer.secret) as client:
            answers.append(await call(client, "get_case", case_id=case_id))
            assert viewer.principal.key_id is not None
            revoke_key(
                app.sessions,
                tenant_id="acme",
                key_id=viewer.principal.key_id,
                clock=clock,
                actor="test",
            )
            answers.append(await call(client, "get_case", case_id=case_id))

    anyio.run(scenario)
    assert answers[0].ok
    assert answers[1].code == "api-key-revoked"  # an Unauthorized, naming the key and when


@pytest.mark.parametrize("which", ["other tenant", "none"])  # forged keys: over HTTP
def test_the_stdio_server_refuses_to_start_with_a_key_it_may_not_serve(
    app: App, world: AgentWorld, clock: FixedClock, which: str
) -> None:
    secret = {
        "other tenant": world.key("globex", Role.SERVICE).secret,
        "none": "",
    }[which]
    done = subprocess.run(
        [ORDEROPS, "mcp", "serve", "--tenant", "acme"],
        env=stdio_env(app, secret),
        input="",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert done.stdout == ""  # nothing an MCP client could mistake for an answer
    assert (
        ("ORDEROPS_API_KEY" in done.stderr) if which == "none" else ("error" in done.stderr.lower())
    )
