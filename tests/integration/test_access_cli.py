"""`orderops users|keys|policy|approvals`: the console shell over the same services."""

from __future__ import annotations

from pathlib import Path

import pytest
import typer
import yaml
from typer.testing import CliRunner

from orderops.bootstrap import App
from orderops.commands.access import register
from orderops.domain.approval_policy import DEFAULT_POLICY
from orderops.domain.errors import Unauthorized
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import authenticate
from orderops.tenancy.users import list_keys, list_users


class _Kept(App):
    """The test's app, handed to commands that close it when done (here: a no-op)."""

    def close(self) -> None:
        return None


def cli_for(app: App) -> typer.Typer:
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    cli = typer.Typer()
    register(cli, app_factory=lambda: kept)
    return cli


def test_users_keys_and_policy_from_the_console(app: App, tmp_path: Path) -> None:
    cli, runner = cli_for(app), CliRunner()

    added = runner.invoke(
        cli,
        [
            "users",
            "add",
            "-t",
            "acme",
            "--name",
            "Fay",
            "--role",
            "finance_approver",
            "--email",
            "Fay@Acme.example",
        ],
    )
    duplicate = runner.invoke(
        cli,
        [
            "users",
            "add",
            "-t",
            "acme",
            "--name",
            "Fay 2",
            "--role",
            "agent",
            "--email",
            "fay@acme.example",
        ],
    )
    (user,) = list_users(app.sessions, tenant_id="acme")
    issued = runner.invoke(cli, ["keys", "issue", "-t", "acme", "--user", user.id])
    secret = issued.output.strip().splitlines()[-1]
    principal = authenticate(app.sessions, secret)
    (key,) = list_keys(app.sessions, tenant_id="acme")
    revoked = runner.invoke(cli, ["keys", "revoke", "-t", "acme", key.id])
    policy_file = tmp_path / "policy.yaml"
    body = DEFAULT_POLICY.body()
    body["expiry_hours"] = 24
    policy_file.write_text(yaml.safe_dump(body))
    set_once = runner.invoke(cli, ["approval-policy", "set", "-t", "acme", str(policy_file)])
    set_twice = runner.invoke(cli, ["approval-policy", "set", "-t", "acme", str(policy_file)])
    shown = runner.invoke(cli, ["approval-policy", "show", "-t", "acme"])
    disabled = runner.invoke(cli, ["users", "disable", "-t", "acme", user.id])
    expired = runner.invoke(cli, ["approvals", "expire", "-t", "acme"])

    assert added.exit_code == 0, added.output
    assert user.email == "fay@acme.example"
    assert duplicate.exit_code == 1
    assert "already exists" in duplicate.output
    assert issued.exit_code == 0
    assert (principal.subject, principal.role, principal.name) == (
        f"user:{user.id}",
        "finance_approver",
        "Fay",
    )
    assert revoked.exit_code == 0
    with pytest.raises(Unauthorized):
        authenticate(app.sessions, secret)
    assert set_once.exit_code == 0
    assert "v0 -> v1" in set_once.output
    assert "expiry_hours: 48 -> 24" in set_once.output
    assert "unchanged: still v1" in set_twice.output
    assert "approval policy v1" in shown.output
    assert "expiry_hours: 24" in shown.output
    assert disabled.exit_code == 0
    assert expired.output.strip() == "0 approval request(s) expired"
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        actions = [r.action for r in uow.audit.records()]
    assert [a for a in actions if a != "tenant.created"] == [
        "user.added",
        "api_key.issued",
        "api_key.revoked",
        "approval_policy.changed",
        "user.disabled",
    ]
