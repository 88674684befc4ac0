"""`orderops users|keys set-scope` and `orderops scopes ...`: the same services as the
admin API, acting as ``cli``."""

from __future__ import annotations

import typer
from typer.testing import CliRunner

from builders.scopes import STORES, placed_case
from orderops.bootstrap import App
from orderops.commands import access, scopes
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import ScopeValues, parse
from orderops.storage.repositories.queues import queues_of
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.access_scopes import stored_scopes
from orderops.tenancy.tenants import authenticate
from orderops.tenancy.users import add_user, issue_user_key


class _Kept(App):
    """The test's app, handed to commands that close it when done (here: a no-op)."""

    def close(self) -> None:
        return None


def cli_for(app: App) -> typer.Typer:
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    cli = typer.Typer()
    access.register(cli, app_factory=lambda: kept)
    scopes.register(cli, make_app=lambda: kept)
    return cli


def test_a_user_and_a_key_are_limited_from_the_command_line(app: App, clock: FixedClock) -> None:
    user = add_user(
        app.sessions,
        tenant_id="acme",
        display_name="Dora",
        role=Role.AGENT,
        email="dora@acme.example",
        clock=clock,
        actor="test",
    )
    key = issue_user_key(
        app.sessions, tenant_id="acme", user_id=user.id, name="dora", clock=clock, actor="t"
    )
    cli, runner = cli_for(app), CliRunner()

    by_user = runner.invoke(
        cli, ["users", "set-scope", "-t", "acme", user.id, "--scope", "region=DE,AT"]
    )
    by_key = runner.invoke(
        cli,
        [
            "keys",
            "set-scope",
            "-t",
            "acme",
            key.key_id,
            "--scope",
            "region=AT,FR",
            "--scope",
            "brand=acme",
        ],
    )
    bad = runner.invoke(cli, ["users", "set-scope", "-t", "acme", user.id, "--scope", "land=DE"])

    assert by_user.exit_code == 0, by_user.output
    assert "region=AT,DE" in by_user.output
    assert by_key.exit_code == 0, by_key.output
    assert bad.exit_code == 1
    assert "not a scope dimension" in bad.output
    principal = authenticate(app.sessions, key.secret)
    assert principal.scope == parse(["region=AT", "brand=acme"])
    listed = stored_scopes(app.sessions, tenant_id="acme")
    assert (listed.users, listed.keys) == (
        {user.id: parse(["region=DE,AT"])},
        {key.key_id: parse(["region=AT,FR", "brand=acme"])},
    )

    lifted = runner.invoke(cli, ["users", "set-scope", "-t", "acme", user.id])

    assert lifted.exit_code == 0
    assert authenticate(app.sessions, key.secret).scope == parse(["region=AT,FR", "brand=acme"])


def test_brands_are_named_by_store_from_the_command_line(app: App, clock: FixedClock) -> None:
    placed = placed_case(app, clock, ScopeValues(region="DE", brand="acme"))
    cli, runner = cli_for(app), CliRunner()

    named = runner.invoke(
        cli, ["scopes", "brands", "set", "-t", "acme", "--store", STORES["acme"], "--brand", "Acme"]
    )
    listed = runner.invoke(cli, ["scopes", "brands", "list", "-t", "acme"])
    neither = runner.invoke(cli, ["scopes", "brands", "set", "-t", "acme", "--brand", "x"])

    assert named.exit_code == 0, named.output
    assert "1 order(s) moved" in named.output
    assert STORES["acme"] in listed.output
    assert neither.exit_code == 1
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        order = uow.commerce.order_by_ref(placed.order_ref)
        case = uow.cases.get(placed.case_id)
        assert order is not None
        assert case is not None
        assert (order.brand, case.brand) == ("acme", "acme")


def test_a_queue_is_scoped_from_the_command_line(app: App, clock: FixedClock) -> None:
    placed = placed_case(app, clock, ScopeValues(region="DE", brand="acme"))
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(placed.case_id)
        assert case is not None
        assert case.queue is not None
        queue = case.queue
    cli, runner = cli_for(app), CliRunner()

    scoped = runner.invoke(cli, ["scopes", "queue", "-t", "acme", queue, "--scope", "region=FR"])
    shown = runner.invoke(cli, ["scopes", "show", "-t", "acme"])
    unknown = runner.invoke(cli, ["scopes", "queue", "-t", "acme", "nope", "--scope", "region=FR"])

    assert scoped.exit_code == 0, scoped.output
    assert f"queue {queue}: region=FR" in scoped.output
    assert "region=FR" in shown.output
    assert unknown.exit_code == 1
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        counts = {c.name: c.open for c in queues_of(uow).counts()}
    assert counts[queue] == 0  # its only open cases sit in DE
