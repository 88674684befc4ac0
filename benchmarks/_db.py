"""Scratch databases for benchmarks: a temporary SQLite file or a throwaway PostgreSQL schema."""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from orderops.bootstrap import App
from orderops.domain.roles import Role
from orderops.tenancy.tenants import issue_key
from orderops.tenancy.users import add_user

PG_URL = os.environ.get(
    "ORDEROPS_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)


@contextmanager
def scratch_database(kind: str) -> Iterator[str]:
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def viewer_key(app: App, tenant_id: str) -> str:
    """A viewer's API key secret for the benchmark's reads; every key belongs to someone."""
    viewer = add_user(
        app.sessions,
        tenant_id=tenant_id,
        display_name="Bench Viewer",
        role=Role.VIEWER,
        email="viewer@bench.example",
        clock=app.clock,
        actor="bench",
    )
    key = issue_key(
        app.sessions,
        tenant_id=tenant_id,
        name="b",
        role=Role.VIEWER,
        clock=app.clock,
        user_id=viewer.id,
    )
    return key.secret
