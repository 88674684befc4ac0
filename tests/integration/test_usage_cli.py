"""`orderops usage`: the report as a table, JSON and the invoice CSV; `usage quota set|show`."""

from __future__ import annotations

import csv
import io
import json
import shlex
from datetime import timedelta

import typer
from sqlalchemy import select
from typer.testing import CliRunner

from builders.events import order_placed
from orderops.bootstrap import App
from orderops.commands import usage as usage_commands
from orderops.domain.clock import FixedClock
from orderops.ingest.intake import accept_items
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant


def _cli(app: App) -> typer.Typer:
    cli = typer.Typer()
    usage_commands.register(cli, app_factory=lambda: app)
    return cli


def _events(app: App, clock: FixedClock, *refs: str, tenant: str = "acme") -> None:
    at = clock.now() - timedelta(hours=1)
    accept_items(
        app.sessions,
        tenant_id=tenant,
        items=[order_placed(ref, at=at) for ref in refs],
        channel="api",
        clock=clock,
    )


def run(app: App, line: str) -> str:
    """``orderops <line>``; it must succeed."""
    result = CliRunner().invoke(_cli(app), shlex.split(line))
    assert result.exit_code == 0, result.output
    return result.output


def test_the_report_prints_the_counters_as_a_table_json_or_csv(app: App, clock: FixedClock) -> None:
    _events(app, clock, "o-1", "o-2")
    _events(app, clock, "g-1", tenant="globex")

    table = run(app, "usage --tenant acme")
    as_json = json.loads(run(app, "usage --tenant acme --json"))
    as_csv = list(csv.reader(io.StringIO(run(app, "usage --tenant acme --csv"))))

    assert "acme: usage from 2026-11-01 to 2026-11-20" in table
    assert "events" in table
    assert "api" in table
    assert as_json["from"] == "2026-11-01"
    assert [(r["tenant"], r["meter"], r["dimension"], r["quantity"]) for r in as_json["rows"]] == [
        ("acme", "events", "api", 2)
    ]
    assert as_csv == [
        ["tenant", "environment", "day", "meter", "dimension", "quantity", "unit"],
        ["acme", "live", "2026-11-20", "events", "api", "2", "event"],
    ]


def test_an_accounts_report_shows_each_environment_on_its_rows(app: App, clock: FixedClock) -> None:
    ensure_tenant(app.sessions, tenant_id="acme.test", name="Acme (test)", clock=clock)
    _events(app, clock, "o-1")
    _events(app, clock, "t-1", "t-2", tenant="acme.test")
    _events(app, clock, "g-1", tenant="globex")

    rows = list(csv.reader(io.StringIO(run(app, "usage --account acme --csv"))))

    assert rows[1:] == [
        ["acme", "live", "2026-11-20", "events", "api", "1", "event"],
        ["acme.test", "test", "2026-11-20", "events", "api", "2", "event"],
    ]


def test_the_report_covers_the_days_asked_for(app: App, clock: FixedClock) -> None:
    _events(app, clock, "o-1")

    before = run(app, "usage --tenant acme --from 2026-11-01 --to 2026-11-19")

    assert "no usage counted from 2026-11-01 to 2026-11-19" in before


def test_a_quota_is_set_shown_and_removed_with_an_audit_record_each_time(
    app: App, clock: FixedClock
) -> None:
    _events(app, clock, "o-1", "o-2", "o-3")

    set_out = run(app, "usage quota set -t acme -m events --soft 2 --hard 1000 --actor ops-lead")
    shown = run(app, "usage quota show --tenant acme")
    removed = run(app, "usage quota set -t acme -m events --remove")
    none = run(app, "usage quota show --tenant acme")

    assert "acme events (events a month): soft 2, hard 1,000 (was none)" in set_out
    assert "warning" in shown
    assert "2026-12-01 00:00 UTC" in shown
    assert "removed (was soft 2, hard 1,000)" in removed
    assert "acme has no quotas" in none
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        records = uow.session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action == "usage.quota_set")
            .order_by(AuditRecord.seq)
        ).all()
        assert [(r.actor, r.data["soft_limit"], r.data["hard_limit"]) for r in records] == [
            ("ops-lead", 2, 1000),
            ("cli", None, None),
        ]


def test_bad_quota_input_is_refused_with_the_reason(app: App) -> None:
    cli = _cli(app)
    backwards = CliRunner().invoke(
        cli, ["usage", "quota", "set", "-t", "acme", "-m", "events", "--soft", "5", "--hard", "2"]
    )
    nothing = CliRunner().invoke(cli, ["usage", "quota", "set", "-t", "acme", "-m", "cases"])
    no_tenant = CliRunner().invoke(cli, ["usage"])

    assert backwards.exit_code == 1
    assert "the soft limit (5) must not exceed the hard limit (2)" in backwards.output
    assert nothing.exit_code == 2
    assert "give --soft and/or --hard, or --remove" in nothing.output
    assert no_tenant.exit_code == 2
    assert "which tenant?" in no_tenant.output
