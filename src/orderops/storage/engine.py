"""Engine and session factories for SQLite (embedded default) and PostgreSQL.

SQLite gets WAL, foreign keys and a busy timeout; writing units of work begin with
``BEGIN IMMEDIATE`` so two writers queue instead of failing on a lock upgrade, and the
writers of one process take turns in arrival order (storage/sqlite_writers.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

from orderops.storage.sqlite_writers import HOLDS, WriterQueue
from orderops.storage.tenant_guard import install

SQLITE_BEGIN_OPTION = "orderops_sqlite_begin"
BUSY_TIMEOUT_SECONDS = 30


def make_engine(url: str, *, echo: bool = False) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url, echo=echo)
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10, max_overflow=20)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    factory = sessionmaker(bind=engine, expire_on_commit=False, autoflush=True)
    install(factory)  # units of work bound to a tenant are guarded (tenant_guard.py)
    return factory


def _sqlite_engine(url: str, *, echo: bool) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url, echo=echo, connect_args={"check_same_thread": False, "timeout": BUSY_TIMEOUT_SECONDS}
    )
    writers = WriterQueue(timeout=BUSY_TIMEOUT_SECONDS)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin (see "begin").
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_SECONDS * 1000}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        if mode == "IMMEDIATE" and writers.enter():
            connection.info[HOLDS] = True
        try:
            connection.exec_driver_sql(f"BEGIN {mode}")
        except BaseException:
            _end_turn(connection)
            raise

    def _end_turn(connection: Any, *_: Any) -> None:
        if connection.info.pop(HOLDS, False):
            writers.leave()

    # Both fire as the transaction ends (just before its COMMIT or ROLLBACK runs: the next
    # writer's BEGIN IMMEDIATE then waits those few milliseconds in SQLite's busy handler).
    event.listen(engine, "commit", _end_turn)
    event.listen(engine, "rollback", _end_turn)

    @event.listens_for(engine, "checkin")
    def _on_checkin(_dbapi_connection: Any, record: Any) -> None:
        # A connection back in the pool never keeps the turn, however its transaction ended.
        if record.info.pop(HOLDS, False):
            writers.leave()

    return engine
