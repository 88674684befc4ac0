"""`orderops agents limits set|show`: a key's money limits from the command line, audited,
refused for a key the tenant does not have and for limits that contradict each other."""

from __future__ import annotations

import json

import typer
from sqlalchemy import select
from typer.testing import CliRunner

from builders.access import person
from builders.database_roles import owner_sessions
from builders.mcp_clients import prefix_of
from orderops.bootstrap import App
from orderops.commands import agents
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import AgentKeyLimit, AuditRecord


class _Kept(App):
    """The test's app, handed to commands that close it when done (here: a no-op)."""

    def close(self) -> None:
        return None


def cli_for(app: App) -> typer.Typer:
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    cli = typer.Typer()
    agents.register(cli, app_factory=lambda: kept)
    return cli


def test_limits_are_set_shown_and_audited(app: App, clock: FixedClock) -> None:
    agent = person(app, clock, tenant="acme", role=Role.SERVICE)
    prefix = prefix_of(app, agent)
    cli, runner = cli_for(app), CliRunner()

    before = runner.invoke(cli, ["agents", "limits", "show", "--tenant", "acme", "--key", prefix])
    done = runner.invoke(
        cli,
        [
            "agents",
            "limits",
            "set",
            "--tenant",
            "acme",
            "--key",
            prefix,
            "--per-action",
            "100",
            "--per-day",
            "500",
            "--actor",
            "ops@acme",
            "--json",
        ],
    )
    shown = runner.invoke(
        cli, ["agents", "limits", "show", "--tenant", "acme", "--key", prefix, "--json"]
    )

    assert "no money limits" in before.output
    assert done.exit_code == 0, done.output
    assert json.loads(shown.output) == {
        "key": prefix,
        "per_action_minor": 100,
        "per_day_minor": 500,
        "proposed_today_minor": 0,
        "left_today_minor": 500,
    }
    with owner_sessions(app)() as session:
        (record,) = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "agent.limits_set")
        ).all()
    assert (record.tenant_id, record.actor, record.data["per_day_minor"]) == (
        "acme",
        "ops@acme",
        500,
    )


def test_a_key_of_another_tenant_or_contradicting_limits_are_refused(
    app: App, clock: FixedClock
) -> None:
    theirs = person(app, clock, tenant="globex", role=Role.SERVICE)
    mine = person(app, clock, tenant="acme", role=Role.SERVICE)
    cli, runner = cli_for(app), CliRunner()

    foreign = runner.invoke(
        cli,
        [
            "agents",
            "limits",
            "set",
            "--tenant",
            "acme",
            "--key",
            prefix_of(app, theirs),
            "--per-action",
            "1",
            "--per-day",
            "1",
        ],
    )
    backwards = runner.invoke(
        cli,
        [
            "agents",
            "limits",
            "set",
            "--tenant",
            "acme",
            "--key",
            prefix_of(app, mine),
            "--per-action",
            "600",
            "--per-day",
            "500",
        ],
    )
    negative = runner.invoke(
        cli,
        [
            "agents",
            "limits",
            "set",
            "--tenant",
            "acme",
            "--key",
            prefix_of(app, mine),
            "--per-action",
            "-1",
            "--per-day",
            "500",
        ],
    )

    assert foreign.exit_code == 1
    assert "no single API key" in foreign.output
    assert backwards.exit_code == 1
    assert "cannot be more than" in backwards.output
    assert negative.exit_code == 2
    with owner_sessions(app)() as session:
        assert session.scalars(select(AgentKeyLimit)).all() == []
