"""Backups of the desk's database: SQLite's online backup API, PostgreSQL's pg_dump.

A SQLite backup copies the database through ``sqlite3.Connection.backup`` in one step: it
reads one snapshot while the desk keeps writing (WAL mode lets writers go on), so the copy
is consistent without stopping anything. PostgreSQL uses the tools made for it
(``pg_dump -Fc`` / ``pg_restore``), run as the owner (the app role sees no rows under
row-level security), with the password in the environment, never on a command line.
A restore never overwrites a database that has a schema unless told to (``force``).
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from orderops.domain.errors import Conflict, OrderOpsError


class BackupError(OrderOpsError):
    code = "backup-failed"


@dataclass(frozen=True)
class BackupResult:
    path: Path
    bytes: int
    backend: str


def backend_of(url: str) -> str:
    return make_url(url).get_backend_name()


def backup(url: str, destination: Path, *, force: bool = False) -> BackupResult:
    """Write a consistent copy of the database at ``url`` to ``destination``."""
    if destination.exists() and not force:
        raise Conflict(f"{destination} exists; pass --force to replace it")
    destination.parent.mkdir(parents=True, exist_ok=True)
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        _sqlite_copy(_sqlite_path(parsed), destination)
    elif backend == "postgresql":
        _run_pg("pg_dump", ["--format=custom", "--no-owner", f"--file={destination}"], parsed)
    else:
        raise BackupError(f"no backup for {backend} databases")
    return BackupResult(destination, destination.stat().st_size, backend)


def restore(url: str, source: Path, *, force: bool = False) -> str:
    """Replace the database at ``url`` with the backup ``source``; refuses to overwrite a
    database that already has a schema unless ``force``. Answers the backend's name."""
    if not source.is_file():
        raise BackupError(f"no backup file {source}")
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        target = _sqlite_path(parsed)
        _check_sqlite_backup(source)
        if _sqlite_has_schema(target) and not force:
            raise Conflict(f"{target} holds a database; pass --force to overwrite it")
        target.parent.mkdir(parents=True, exist_ok=True)
        _sqlite_copy(source, target)
    elif backend == "postgresql":
        if _postgres_has_schema(parsed) and not force:
            raise Conflict(f"database {parsed.database} holds a schema; pass --force to replace it")
        options = ["--clean", "--if-exists", "--no-owner", "--single-transaction"]
        _run_pg("pg_restore", [*options, str(source)], parsed)
    else:
        raise BackupError(f"no restore for {backend} databases")
    return backend


def _sqlite_path(url: URL) -> Path:
    if not url.database or url.database == ":memory:":
        raise BackupError("an in-memory SQLite database cannot be backed up")
    return Path(url.database)


def _sqlite_copy(source: Path, target: Path) -> None:
    """One ``backup`` step of all pages: a single read snapshot of ``source``; written
    through ``target``'s own connection, so a WAL file beside it is dealt with too."""
    if not source.is_file():
        raise BackupError(f"no SQLite database at {source}")
    with (
        closing(sqlite3.connect(source)) as src,
        closing(sqlite3.connect(target)) as dst,
    ):
        src.backup(dst)


def _check_sqlite_backup(source: Path) -> None:
    with closing(sqlite3.connect(f"file:{source}?mode=ro", uri=True)) as connection:
        try:
            (verdict,) = connection.execute("PRAGMA quick_check").fetchone()
            names = {r[0] for r in connection.execute("SELECT name FROM sqlite_master")}
        except sqlite3.DatabaseError as exc:
            raise BackupError(f"{source} is not a SQLite database: {exc}") from exc
    if verdict != "ok" or "alembic_version" not in names:
        raise BackupError(f"{source} is not an OrderOps backup ({verdict})")


def _sqlite_has_schema(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return False
    with closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as connection:
        (tables,) = connection.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return int(tables) > 0


def _postgres_has_schema(url: URL) -> bool:
    from sqlalchemy import create_engine, inspect

    engine = create_engine(url)
    try:
        return inspect(engine).has_table("alembic_version")
    finally:
        engine.dispose()


def _run_pg(tool: str, arguments: list[str], url: URL) -> None:
    executable = shutil.which(tool)
    if executable is None:
        raise BackupError(f"{tool} is not on PATH; install the PostgreSQL client tools")
    env = {**os.environ}
    for name, value in (
        ("PGHOST", url.host),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[name] = str(value)
    database = ["--dbname", url.database] if url.database else []
    done = subprocess.run(
        [executable, *arguments, *database], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise BackupError(f"{tool} failed: {done.stderr.strip()[:500]}")
