"""A configuration error stops any command with one line naming the fix and exit code 2.

The operator's setup (the placeholder secret key, a database URL that does not parse or
does not answer, a malformed value, a tenant that does not exist) is not a bug: no
traceback, nothing written, and the line says what to set or run.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
import typer
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from orderops.bootstrap import App
from orderops.cli import cli
from orderops.commands import ingest_file
from orderops.commands.errors import CleanErrors
from orderops.storage.tables.tenancy import Tenant

SECRET = "a-real-secret-for-the-tests-0123456789"


def _invoke(args: list[str], env: dict[str, str]) -> Result:
    return CliRunner().invoke(cli, args, env={"COLUMNS": "200", **env})


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, sqlite_template: Path) -> Path:
    """A folder with no .env, a migrated SQLite database, and no ORDEROPS_* inherited."""
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("ORDEROPS_")]:
        monkeypatch.delenv(name)
    (tmp_path / "data").mkdir()
    shutil.copyfile(sqlite_template, tmp_path / "data" / "orderops.db")
    monkeypatch.setenv("ORDEROPS_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "events.jsonl").write_text("{}\n")
    return tmp_path


CASES = {
    "placeholder secret key": (
        ["ingest", "events.jsonl", "--tenant", "acme"],
        {},
        "ORDEROPS_SECRET_KEY",
    ),
    "malformed database URL": (
        ["cases", "list", "--tenant", "acme"],
        {"ORDEROPS_DATABASE_URL": "not a url"},
        "ORDEROPS_DATABASE_URL is not a database URL",
    ),
    "unknown database driver": (
        ["outbox", "list", "--tenant", "acme"],
        {"ORDEROPS_DATABASE_URL": "mysqlx://db/orderops", "ORDEROPS_SECRET_KEY": SECRET},
        "postgresql+psycopg://",
    ),
    "unreachable database": (
        ["cases", "list", "--tenant", "acme"],
        {"ORDEROPS_DATABASE_URL": "postgresql+psycopg://u:p@127.0.0.1:1/orderops"},
        "cannot reach the database",
    ),
    "malformed value": (
        ["deadletters", "list", "--tenant", "acme"],
        {"ORDEROPS_PORT": "eighty"},
        "ORDEROPS_PORT",
    ),
    "malformed rate limit": (
        ["serve"],
        {"ORDEROPS_RATE_LIMIT_API_PER_KEY": "lots", "ORDEROPS_SECRET_KEY": SECRET},
        "ORDEROPS_RATE_LIMIT_API_PER_KEY",
    ),
    "unknown tenant on ingest": (
        ["ingest", "events.jsonl", "--tenant", "nosuch"],
        {"ORDEROPS_SECRET_KEY": SECRET},
        "orderops tenant create nosuch",
    ),
    "unknown tenant on import": (
        ["import", "events.jsonl", "--tenant", "nosuch", "--format", "jsonl"],
        {},
        "orderops tenant create nosuch",
    ),
    "unknown tenant on cases": (
        ["cases", "list", "--tenant", "nosuch.test"],
        {},
        "orderops tenant create nosuch",
    ),
}


@pytest.mark.parametrize(("args", "env", "names"), CASES.values(), ids=CASES.keys())
def test_a_configuration_error_is_one_line_with_the_fix_and_exit_2(
    workdir: Path, args: list[str], env: dict[str, str], names: str
) -> None:
    result = _invoke(args, env)

    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert names in lines[0]
    assert "Traceback" not in result.output
    assert result.stdout == ""


def test_ingest_never_creates_the_tenant_it_was_given(app: App, tmp_path: Path) -> None:
    """Against both databases: the refusal happens before anything is stored."""
    feed = tmp_path / "feed.jsonl"
    feed.write_text('{"id": "e-1"}\n')
    shell = typer.Typer(cls=CleanErrors)
    ingest_file.register(shell, make_app=lambda: app)
    shell.command("noop")(lambda: None)  # two commands: `ingest` stays a subcommand
    result = CliRunner().invoke(shell, ["ingest", str(feed), "--tenant", "typo"])

    assert result.exit_code == 2
    assert "no tenant 'typo'" in result.stderr
    with app.sessions() as session:
        assert session.scalar(select(func.count()).where(Tenant.id == "typo")) == 0
