"""Every command that takes ``--tenant`` refuses a tenant that does not exist, and every
command that signs refuses the placeholder secret key outside the demo.

Both are the operator's setup, not a bug: one line on stderr naming the fix, exit code 2,
and nothing stored. The tenant sweep walks the real command tree, so a command added
later with a ``--tenant`` option is checked without anyone listing it here.
"""

from __future__ import annotations

import datetime
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer.main
import typer.testing
from sqlalchemy import func, select
from typer.core import TyperGroup
from typer.testing import CliRunner, Result

from orderops.audit.keys import AuditKey, audit_key_of, bind_audit_key
from orderops.cli import cli
from orderops.commands.errors import SetupProblem
from orderops.commands.setup_checks import cli_app
from orderops.domain.clock import FixedClock
from orderops.storage.engine import make_engine, make_session_factory
from orderops.storage.tables.audit import AuditRecord
from orderops.tenancy.tenants import ensure_tenant

SECRET = "a-real-secret-for-the-tests-0123456789"
POLICY = Path(__file__).parents[2] / "src" / "orderops" / "ingest" / "example_policy.yaml"


def _tenant_commands() -> Iterator[tuple[list[str], list[str]]]:
    """(command path, arguments) of every command (or group callback) with ``--tenant``;
    required arguments get a value of their type, as the tenant check comes before using
    them. Where ``--tenant`` is optional (all tenants), a given one must exist too."""

    def walk(command: object, path: list[str]) -> Iterator[tuple[list[str], object]]:
        yield path, command  # a group too: its callback may run alone (`usage --tenant`)
        if isinstance(command, TyperGroup):
            for name, sub in command.commands.items():
                yield from walk(sub, [*path, name])

    for path, command in walk(COMMAND, []):
        params = list(getattr(command, "params", []))
        if not any(p.name == "tenant" for p in params):
            continue
        args: list[str] = []
        for param in params:
            if param.name == "tenant":
                args += ["--tenant", "nosuch"]
            elif param.required:
                value = _value_of(param)
                args += [value] if param.param_type_name == "argument" else [param.opts[0], value]
        yield path, [*path, *args, *EXTRA.get(" ".join(path), [])]


def _value_of(param: object) -> str:
    descriptor = param.type_descriptor  # type: ignore[attr-defined]
    if descriptor.is_choice and descriptor.choices:
        return str(getattr(descriptor.choices[0], "value", descriptor.choices[0]))
    if descriptor.annotation in (int, float):
        return "1"
    if descriptor.annotation is Path:
        return str(POLICY)
    if descriptor.annotation is datetime.datetime:
        return "2026-01-01"
    return "x"


EXTRA = {
    # Input refused before any database is opened (exit 2 too, for another reason).
    "customers erase": ["--email", "someone@example.com"],
    "usage quota set": ["--soft", "5"],
    "eval recommend": ["--from-history"],  # --tenant names the history to score
    "backtest": [  # a valid (empty) candidate, in workdir, and a window
        *("--candidate", "candidate.yaml", "--from", "2026-01-01", "--to", "2026-01-02"),
    ],
}
"""Options a command checks before it opens the desk: given, so the tenant is reached."""


COMMAND = typer.main.get_command(cli)
"""The click command tree, built once: ``CliRunner.invoke`` rebuilds it from the Typer
app on every call (~0.2 s, most of a test here)."""


TENANT_COMMANDS = dict((" ".join(path), args) for path, args in _tenant_commands())


@pytest.fixture(autouse=True)
def _tree_built_once(monkeypatch: pytest.MonkeyPatch) -> None:
    built = typer.testing._get_command  # type: ignore[attr-defined]
    monkeypatch.setattr(
        typer.testing, "_get_command", lambda app: COMMAND if app is cli else built(app)
    )


def _invoke(args: list[str], **env: str) -> Result:
    return CliRunner().invoke(cli, args, env={"COLUMNS": "200", **env})


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_template: Path) -> Path:
    """A folder with no .env, a migrated SQLite database holding tenant acme, and no
    ORDEROPS_* inherited."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("ORDEROPS_")]:
        monkeypatch.delenv(name)
    (tmp_path / "data").mkdir()
    (tmp_path / "candidate.yaml").write_text("{}\n", encoding="utf-8")
    database = tmp_path / "data" / "orderops.db"
    shutil.copyfile(sqlite_template, database)
    monkeypatch.setenv("ORDEROPS_DATA_DIR", str(tmp_path / "data"))
    engine = make_engine(f"sqlite:///{database}")
    clock = FixedClock(datetime.datetime(2026, 1, 5, tzinfo=datetime.UTC))
    sessions = make_session_factory(engine)
    bind_audit_key(sessions, AuditKey(SECRET.encode()))
    ensure_tenant(sessions, tenant_id="acme", name="Acme", clock=clock)
    engine.dispose()
    return tmp_path


def _audit_records(workdir: Path) -> int:
    engine = make_engine(f"sqlite:///{workdir / 'data' / 'orderops.db'}")
    with engine.connect() as connection:
        count = connection.scalar(select(func.count()).select_from(AuditRecord))
    engine.dispose()
    return int(count or 0)


def test_the_sweep_finds_the_tenant_commands() -> None:
    """The sweep below is only as good as its walk: it must reach nested groups."""
    assert len(TENANT_COMMANDS) > 60
    assert {"cases list", "outbox retry", "tenant key issue", "users totp enable"} <= set(
        TENANT_COMMANDS
    )
    assert "webhooks add" in TENANT_COMMANDS
    assert {"usage", "tenant key", "inbox lag", "sandbox serve"} <= set(TENANT_COMMANDS)


@pytest.mark.parametrize("command", sorted(TENANT_COMMANDS))
def test_an_unknown_tenant_is_one_line_naming_tenant_create_and_exit_2(
    workdir: Path, command: str
) -> None:
    result = _invoke(TENANT_COMMANDS[command], ORDEROPS_SECRET_KEY=SECRET)

    assert result.exit_code == 2, result.output
    assert result.stderr.strip().splitlines() == [
        "error: no tenant 'nosuch'; create it with `orderops tenant create nosuch`"
    ]
    assert "Traceback" not in result.output


SIGNERS = {
    "audit verify": ["audit", "verify", "--tenant", "acme"],
    "audit checkpoint": ["audit", "checkpoint", "--tenant", "acme", "--out", "c.json"],
    "tenant create": ["tenant", "create", "initech"],
    "tenant key issue": ["tenant", "key", "issue", "--tenant", "acme", "--service", "s"],
    "retention window set": ["retention", "window", "--tenant", "acme", "--days", "30"],
    "tenant limits set": [
        *("tenant", "limits", "set", "--tenant", "acme", "--scope", "ingest"),
        *("--per", "tenant", "--rate", "10/second"),
    ],
    "scopes brands set": ["scopes", "brands", "set", "--tenant", "acme", "--brand", "b"],
    "policy load": ["policy", "load", str(POLICY), "--tenant", "acme"],
    "playbook reevaluate": ["playbook", "reevaluate", "--tenant", "acme"],
    "identity resolve": ["identity", "resolve", "--tenant", "acme"],
    "notifications run": ["notifications", "run", "--tenant", "acme"],
    "webhooks add": [
        *("webhooks", "add", "--tenant", "acme", "--url", "https://ops.example.com/h"),
        *("--event", "case.opened"),
    ],
    "serve": ["serve"],
    "worker": ["worker"],
}


@pytest.mark.parametrize("command", sorted(SIGNERS))
def test_a_command_that_signs_refuses_the_placeholder_secret_and_stores_nothing(
    workdir: Path, command: str
) -> None:
    before = _audit_records(workdir)

    result = _invoke(SIGNERS[command])

    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "ORDEROPS_SECRET_KEY" in lines[0]
    assert "placeholder" in lines[0]
    assert _audit_records(workdir) == before
    assert not (workdir / "c.json").exists()


@pytest.mark.parametrize(
    "args",
    [
        ["cases", "list", "--tenant", "acme"],
        ["deadletters", "list", "--tenant", "acme"],
        ["holds", "list", "--tenant", "acme"],
        ["retention", "window", "--tenant", "acme"],
    ],
    ids=lambda args: " ".join(args[:3]),
)
def test_a_command_that_only_reads_runs_before_a_secret_is_set(
    workdir: Path, args: list[str]
) -> None:
    result = _invoke(args)

    assert result.exit_code == 0, result.output


def test_demo_mode_lets_a_signing_command_use_the_placeholder(workdir: Path) -> None:
    result = _invoke(["identity", "resolve", "--tenant", "acme"], ORDEROPS_DEMO_MODE="true")

    assert result.exit_code == 0, result.output


def test_with_the_placeholder_the_app_of_a_command_cannot_sign_an_audit_record(
    workdir: Path,
) -> None:
    """The backstop for a command that forgot to ask: its audit key refuses to sign."""
    app = cli_app()
    try:
        with app.sessions() as session, pytest.raises(SetupProblem, match="placeholder"):
            _ = audit_key_of(session).record_secret
    finally:
        app.close()


def test_with_a_real_secret_the_app_of_a_command_signs(
    workdir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ORDEROPS_SECRET_KEY", SECRET)
    app = cli_app()
    try:
        with app.sessions() as session:
            assert len(audit_key_of(session).record_secret) == 32
        assert app.settings.demo_mode is False
    finally:
        app.close()
