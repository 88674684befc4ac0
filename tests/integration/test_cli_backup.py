"""`orderops backup` / `orderops restore` on SQLite: a consistent copy while the desk writes.

The backup is taken while another thread keeps ingesting; the restored database passes
SQLite's integrity check, holds a prefix of what was written, and its audit chain verifies
with the same key. A restore never overwrites a database without ``--force``.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import threading
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import typer
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from typer.testing import CliRunner, Result

from builders.database_roles import PG_URL
from builders.events import order_placed
from orderops.bootstrap import App, bootstrap
from orderops.commands import audit_export, backup
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.batch import ingest_items


def _desk(path: Path, clock: FixedClock) -> App:
    settings = Settings(database_url=f"sqlite:///{path}", data_dir=path.parent, demo_mode=True)
    return bootstrap(settings, clock=clock, migrate=False)


def _run(url: str, *args: str) -> Result:
    shell = typer.Typer()
    backup.register(shell, database_url=lambda: url)
    return CliRunner().invoke(shell, list(args))


def _orders(path: Path) -> int:
    with sqlite3.connect(path) as connection:
        (count,) = connection.execute("SELECT count(*) FROM inbox").fetchone()
    return int(count)


@pytest.fixture
def live(tmp_path: Path, sqlite_template: Path, clock: FixedClock) -> Iterator[App]:
    path = tmp_path / "live" / "orderops.db"
    path.parent.mkdir()
    shutil.copyfile(sqlite_template, path)
    app = _desk(path, clock)
    ensure_tenant(app.sessions, tenant_id="acme", name="Acme", clock=clock)
    yield app
    app.close()


def test_a_backup_taken_while_writing_restores_and_its_audit_chain_verifies(
    live: App, tmp_path: Path, clock: FixedClock
) -> None:
    url = live.settings.resolved_database_url
    live_path = Path(live.engine.url.database or "")
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        n = 0
        while not stop.is_set() and n < 5000:
            batch = [
                order_placed(f"o-{n + i}", at=clock.now() - timedelta(minutes=n + i))
                for i in range(10)
            ]
            report = ingest_items(
                live.sessions, tenant_id="acme", items=batch, channel="test", clock=clock
            )
            n += 10
            written.append(report.accepted)

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        while not written:  # the backup starts after the first chunk committed
            stop.wait(0.01)
        taken = _run(url, "backup", str(tmp_path / "copy.db"))
        still_writing = writer.is_alive()
    finally:
        stop.set()
        writer.join()

    assert taken.exit_code == 0, taken.output
    assert "sqlite backup written" in taken.output
    assert still_writing, "the backup was not taken while the desk wrote"
    target = tmp_path / "restored" / "orderops.db"
    restored = _run(f"sqlite:///{target}", "restore", str(tmp_path / "copy.db"))
    assert restored.exit_code == 0, restored.output
    with sqlite3.connect(target) as connection:
        assert connection.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert 0 < _orders(target) <= _orders(live_path)

    desk = _desk(target, clock)
    try:
        ok, message = audit_export.verify_command(desk, "acme", None)
    finally:
        desk.close()
    assert ok, message


def test_restore_refuses_to_overwrite_without_force(live: App, tmp_path: Path) -> None:
    url = live.settings.resolved_database_url
    live_path = Path(live.engine.url.database or "")
    assert _run(url, "backup", str(tmp_path / "copy.db")).exit_code == 0
    before = live_path.read_bytes()

    again = _run(url, "backup", str(tmp_path / "copy.db"))
    refused = _run(url, "restore", str(tmp_path / "copy.db"))

    assert again.exit_code == 1
    assert "--force" in again.output
    assert refused.exit_code == 1
    assert "pass --force to overwrite it" in refused.output
    assert live_path.read_bytes() == before

    forced = _run(url, "restore", str(tmp_path / "copy.db"), "--force")
    assert forced.exit_code == 0, forced.output


def test_restore_refuses_a_file_that_is_not_a_backup(tmp_path: Path) -> None:
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)

    refused = _run(f"sqlite:///{tmp_path / 'new.db'}", "restore", str(junk))

    assert refused.exit_code == 1
    assert "is not" in refused.output
    assert not (tmp_path / "new.db").exists()


@pytest.mark.postgres
def test_postgresql_round_trips_through_pg_dump_and_refuses_to_overwrite(tmp_path: Path) -> None:
    """pg_dump/pg_restore on two scratch databases of the test server (skipped without
    the server or the client tools)."""
    if shutil.which("pg_dump") is None or shutil.which("pg_restore") is None:
        if os.environ.get("CI", "").lower() == "true":  # CI's machine has PostgreSQL's tools
            pytest.fail("pg_dump/pg_restore not on PATH")
        pytest.skip("pg_dump/pg_restore not on PATH")
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 3})
    try:
        with admin.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as exc:
        pytest.skip(f"PostgreSQL unreachable: {exc.orig}")
    names = [f"bk_{uuid.uuid4().hex[:10]}" for _ in range(2)]
    with admin.connect() as connection:
        for name in names:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    source, target = (make_url(PG_URL).set(database=n).render_as_string(False) for n in names)
    try:
        with create_engine(source).begin() as connection:
            connection.execute(text("CREATE TABLE alembic_version (version_num text)"))
            connection.execute(text("CREATE TABLE t AS SELECT generate_series(1, 100) AS id"))
        taken = _run(source, "backup", str(tmp_path / "pg.dump"))
        first = _run(target, "restore", str(tmp_path / "pg.dump"))
        again = _run(target, "restore", str(tmp_path / "pg.dump"))
        forced = _run(target, "restore", str(tmp_path / "pg.dump"), "--force")
        engine = create_engine(target)
        with engine.connect() as connection:
            rows = connection.execute(text("SELECT count(*) FROM t")).scalar()
        engine.dispose()
    finally:
        with admin.connect() as connection:
            for name in names:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    assert taken.exit_code == 0, taken.output
    assert "postgresql backup written" in taken.output
    assert first.exit_code == 0, first.output
    assert again.exit_code == 1
    assert "pass --force to replace it" in again.output
    assert forced.exit_code == 0, forced.output
    assert rows == 100
