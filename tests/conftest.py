"""Shared fixtures: a real database per test (SQLite and PostgreSQL), a fixed clock, builders.

PostgreSQL tests use a fresh schema per test on the server named by
ORDEROPS_TEST_POSTGRES_URL. If it is unreachable they are skipped locally with the reason,
and fail in CI (CI=true), where the database is part of the contract.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.workflow.tenants import ensure_tenant, issue_key

PG_URL = os.environ.get(
    "ORDEROPS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

_pg_state: dict[str, str | None] = {}


def _postgres_problem() -> str | None:
    if "problem" not in _pg_state:
        try:
            engine = create_engine(PG_URL, connect_args={"connect_timeout": 3})
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            engine.dispose()
            _pg_state["problem"] = None
        except Exception as exc:  # noqa: BLE001 - any failure to connect is the same answer
            _pg_state["problem"] = f"PostgreSQL at {PG_URL} unreachable: {exc}"
    return _pg_state["problem"]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'orderops.db'}"
        return
    problem = _postgres_problem()
    if problem:
        if IN_CI:
            pytest.fail(problem)
        pytest.skip(problem)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    yield url.render_as_string(hide_password=False)
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def app(database_url: str, clock: FixedClock, tmp_path: Path) -> Iterator[App]:
    settings = Settings(database_url=database_url, data_dir=tmp_path, demo_mode=True)
    application = bootstrap(settings, clock=clock)
    ensure_tenant(application.sessions, tenant_id="acme", name="Acme", clock=clock)
    ensure_tenant(application.sessions, tenant_id="globex", name="Globex", clock=clock)
    yield application
    application.close()


@pytest.fixture
def service_key(app: App, clock: FixedClock) -> str:
    return issue_key(
        app.sessions, tenant_id="acme", name="svc", role=Role.SERVICE, clock=clock
    ).secret
