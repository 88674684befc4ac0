"""examples/agent_queue.py works a queue of a test desk through the tool API over HTTP with
its scripted policy: every case it could act on gets a proposal that waits for people in
the console, and nothing is approved, queued or sent."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import anyio
from sqlalchemy import select

from builders.access import late_case, person
from builders.database_roles import owner_sessions
from builders.live_server import served
from builders.mcp_clients import money_limits, over_http
from orderops.bootstrap import App
from orderops.domain.actions import ActionStatus
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.recommend.auto import recommend_new_cases
from orderops.storage.tables import Action, Approval, Communication, OutboxMessage

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "agent_queue.py"


def example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("agent_queue", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["agent_queue"] = module
    spec.loader.exec_module(module)
    return module


def test_the_example_agent_leaves_its_proposals_waiting_for_people(
    app: App, clock: FixedClock
) -> None:
    agent_queue = example()
    cases = [late_case(app, clock, total_minor=total) for total in (8000, 12000, 3000)]
    assert recommend_new_cases(app.sessions, tenant_id="acme", clock=clock) >= len(cases)
    agent = person(app, clock, tenant="acme", role=Role.SERVICE, name="queue-agent")
    money_limits(app, clock, agent, per_action=10_000, per_day=50_000)

    async def scenario(base: str) -> list[object]:
        async with over_http(base, agent.secret) as client:
            return list(await agent_queue.work_queue(client, queue="ops"))

    with served(app) as base:
        outcomes = anyio.run(scenario, base)

    proposed = {o.case_id: o.proposed["proposed"] for o in outcomes if o.proposed}
    modest, large, small = cases
    assert {modest, small} <= set(proposed), [o.passed_over for o in outcomes]
    assert large not in proposed  # every action for 120.00 is over the key's 100.00 per action
    (too_much,) = [o for o in outcomes if o.case_id == large]
    assert all("agent-money-limit" in reason for reason in too_much.passed_over)
    with owner_sessions(app)() as session:
        actions = session.scalars(select(Action)).all()
        assert {a.id for a in actions} == {p["id"] for p in proposed.values()}
        assert {a.status for a in actions} == {ActionStatus.AWAITING_APPROVAL}
        assert {a.proposed_by for a in actions} == {agent.principal.identity}
        assert session.scalars(select(Approval)).all() == []
        assert session.scalars(select(OutboxMessage)).all() == []
        assert session.scalars(select(Communication)).all() == []
