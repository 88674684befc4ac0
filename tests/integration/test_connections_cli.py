"""`orderops connections`: credentials from stdin only, never printed, every step audited.

The whole output of a session (add, list, test, rotate, remove) is searched for the
credentials it was given; ``test`` runs against the Stripe sandbox and fails with the
reason once the sandbox stops accepting the key.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import typer
from sqlalchemy import select
from typer.testing import CliRunner

from orderops.bootstrap import App
from orderops.commands.connections import register
from orderops.domain.clock import FixedClock
from orderops.sandbox import run_sandbox
from orderops.sandbox.stripe import StripeSandbox
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant
from orderops.writeback.vendor_connections import list_connections

FIRST = "sk_test_cli_first_123456"
SECOND = "sk_test_cli_second_65432"


class _Kept(App):
    """The test's app, handed to commands that close it when done (here: a no-op)."""

    def close(self) -> None:
        return None


def cli_for(app: App) -> typer.Typer:
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    cli = typer.Typer()
    register(cli, app_factory=lambda: kept)
    return cli


@pytest.fixture
def stripe() -> Iterator[tuple[StripeSandbox, str]]:
    sandbox = StripeSandbox(api_key=FIRST)
    with run_sandbox(sandbox.app) as url:
        yield sandbox, url


def test_a_session_never_shows_a_credential_and_audits_every_step(
    app: App, stripe: tuple[StripeSandbox, str]
) -> None:
    sandbox, url = stripe
    cli, runner = cli_for(app), CliRunner()
    common = ["-t", "acme", "--system", "stripe"]

    added = runner.invoke(
        cli,
        ["connections", "add", *common, "--url", url, "--allow-test-mode", "--secret-stdin"],
        input=FIRST + "\n",
    )
    listed = runner.invoke(cli, ["connections", "list", "-t", "acme"])
    tested = runner.invoke(cli, ["connections", "test", *common])
    sandbox.api_key = "sk_test_someone_else_99"
    refused = runner.invoke(cli, ["connections", "test", *common])
    rotated = runner.invoke(
        cli, ["connections", "rotate", *common, "--secret-stdin"], input=SECOND + "\n"
    )
    removed = runner.invoke(cli, ["connections", "remove", *common, "--yes"])

    results = [added, listed, tested, refused, rotated, removed]
    assert [r.exit_code for r in results] == [0, 0, 0, 1, 0, 0], [r.output for r in results]
    assert "fp_" in listed.output
    assert "ok: stripe accepted the credential" in tested.output
    assert "refused the credential (HTTP 401)" in refused.output
    for result in results:
        assert FIRST not in result.output
        assert SECOND not in result.output
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        records = uow.session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action.like("connection.%"))
            .order_by(AuditRecord.seq)
        ).all()
        trail = [(r.action, r.actor) for r in records]
        dumped = json.dumps([r.data for r in records])
    assert trail == [
        ("connection.added", "cli"),
        ("connection.tested", "cli"),
        ("connection.tested", "cli"),
        ("connection.rotated", "cli"),
        ("connection.removed", "cli"),
    ]
    assert FIRST not in dumped
    assert SECOND not in dumped


def test_the_credential_is_not_an_argument(app: App) -> None:
    cli, runner = cli_for(app), CliRunner()

    attempt = runner.invoke(
        cli,
        [
            "connections",
            "add",
            "-t",
            "acme",
            "-s",
            "wms",
            "--url",
            "https://w.example.com",
            "--mode",
            "test",
            "--secret",
            "wms-key-123456",
        ],
    )

    assert attempt.exit_code == 2
    assert list_connections(app.sessions, tenant_id="acme") == []


def test_refusals_are_one_line_with_the_reason(app: App, clock: FixedClock) -> None:
    ensure_tenant(app.sessions, tenant_id="acme.test", name="Acme test", clock=clock)
    cli, runner = cli_for(app), CliRunner()
    base = ["connections", "add", "-t", "acme.test", "--url", "https://api.example.com"]

    live = runner.invoke(cli, [*base, "-s", "stripe", "--secret-stdin"], input="sk_live_abcdefgh\n")
    unknown = runner.invoke(cli, [*base, "-s", "paypal", "--secret-stdin"], input="key-12345678\n")
    no_mode = runner.invoke(cli, [*base, "-s", "wms", "--secret-stdin"], input="key-12345678\n")
    missing = runner.invoke(cli, ["connections", "test", "-t", "acme.test", "-s", "crm"])

    assert [r.exit_code for r in (live, unknown, no_mode, missing)] == [1, 1, 1, 1]
    assert "test environment" in live.output
    assert "sk_live_abcdefgh" not in live.output
    assert "unknown system 'paypal'" in unknown.output
    assert "--mode" in no_mode.output
    assert "no crm connection" in missing.output
    assert list_connections(app.sessions, tenant_id="acme.test") == []
