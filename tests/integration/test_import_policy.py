"""Policy files: validated, stored as numbered versions per tenant, audited with a diff."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner

from orderops.bootstrap import App
from orderops.commands.imports import register
from orderops.domain.clock import FixedClock
from orderops.ingest.policy_file import (
    EXAMPLE_POLICY,
    current_policy,
    read_policy,
    store_policy,
)
from orderops.storage.tables import AuditRecord
from orderops.storage.tables.imports import TenantPolicy
from orderops.storage.uow import UnitOfWork

EXAMPLE = EXAMPLE_POLICY.read_text("utf-8")


def audit_records(app: App, tenant_id: str) -> list[AuditRecord]:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        rows = list(
            uow.session.scalars(
                select(AuditRecord)
                .where(AuditRecord.tenant_id == tenant_id, AuditRecord.action == "policy.loaded")
                .order_by(AuditRecord.seq)
            )
        )
        uow.session.expunge_all()
        return rows


def cli_for(app: App) -> typer.Typer:
    cli = typer.Typer()
    register(cli, make_app=lambda: app)
    return cli


def test_each_changed_load_is_the_next_version_audited_with_its_diff(
    app: App, clock: FixedClock
) -> None:
    first = store_policy(
        app.sessions, tenant_id="acme", policy=read_policy(EXAMPLE), actor="ops@acme", clock=clock
    )
    looser = read_policy(
        EXAMPLE.replace("auto_approve_under_minor: 2500", "auto_approve_under_minor: 5000")
    )
    second = store_policy(
        app.sessions, tenant_id="acme", policy=looser, actor="cfo@acme", clock=clock
    )
    same = store_policy(
        app.sessions, tenant_id="acme", policy=looser, actor="cfo@acme", clock=clock
    )

    assert (first.version, second.version, same.version) == (1, 2, 2)
    assert same.changes == []
    current = current_policy(app.sessions, tenant_id="acme")
    assert current is not None
    assert current[0] == 2
    assert current[1].refund_limits.auto_approve_under_minor == 5000
    records = audit_records(app, "acme")
    assert [(r.actor, r.entity_id) for r in records] == [
        ("ops@acme", "acme:v1"),
        ("cfo@acme", "acme:v2"),
    ]
    assert records[1].data["changes"] == [
        {"path": "refund_limits.auto_approve_under_minor", "before": 2500, "after": 5000}
    ]
    assert current_policy(app.sessions, tenant_id="globex") is None


def test_a_version_number_is_unique_per_tenant_in_the_database(app: App, clock: FixedClock) -> None:
    body = {"timezone": "UTC"}
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        for _ in range(2):
            uow.session.add(
                TenantPolicy(
                    tenant_id="acme", version=1, body=body, created_at=clock.now(), created_by="x"
                )
            )
        with pytest.raises(IntegrityError):
            uow.session.flush()


def test_policy_validate_prints_each_problem_with_its_path(app: App, tmp_path: Path) -> None:
    bad = tmp_path / "policy.yaml"
    bad.write_text(
        EXAMPLE.replace("auto_approve_under_minor: 2500", "auto_approve_under_minor: -1").replace(
            'cutoff: "12:00"', "cutoff: 12:00"
        ),
        "utf-8",
    )
    good = CliRunner().invoke(cli_for(app), ["policy", "validate", str(EXAMPLE_POLICY)])
    result = CliRunner().invoke(cli_for(app), ["policy", "validate", str(bad)])
    assert good.exit_code == 0, good.output
    assert result.exit_code == 1
    assert "refund_limits.auto_approve_under_minor: must be >= 0" in result.output
    assert "promise_windows.express.cutoff: must be a quoted time" in result.output


def test_policy_load_stores_a_version_and_shows_what_changed(app: App) -> None:
    runner = CliRunner()
    args = ["policy", "load", str(EXAMPLE_POLICY), "--tenant", "globex", "--actor", "ops"]
    first = runner.invoke(cli_for(app), args)
    again = runner.invoke(cli_for(app), args)
    assert first.exit_code == 0, first.output
    assert "policy of globex is now version 1" in first.output
    assert "unchanged (version 1)" in again.output
    assert [r.entity_id for r in audit_records(app, "globex")] == ["globex:v1"]
