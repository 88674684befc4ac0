"""MCP clients of the agents' tool API, through the official SDK's client: over stdio (the
real ``orderops mcp serve`` in a child process, on the test's database) and over streamable
HTTP (the API app served by a real uvicorn, ``builders/live_server.py``).

``Answer`` is what a tool call came back with: the JSON on success, or the error text
(``<code>: <message>``) of a refusal, so tests compare refusals by their code.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.exceptions import MCPError
from sqlalchemy import func, select

from builders.access import Person, late_case, person
from builders.database_roles import owner_sessions
from builders.live_server import served
from orderops.agent_tools.limits import set_limits
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.base import Base
from orderops.storage.tables import ApiKey, Case

ORDEROPS = str(Path(sys.executable).with_name("orderops"))


TENANTS = ("acme", "globex")
ROLES = (Role.VIEWER, Role.SERVICE, Role.APPROVER)
"""A viewer, a service identity (the agent proper) and an ops lead who may approve in
the console: the three roles the tool API is tried as, in each of two tenants."""
SDK_PREFIX = "Error executing tool "
Scenario = Callable[[str], Awaitable[None]]
"""What a test does against the served API's base URL."""


@dataclass(frozen=True)
class AgentWorld:
    """Per tenant: a key per role, two shipment_late cases of 50.00 (paid, captured)."""

    keys: dict[tuple[str, Role], Person]
    cases: dict[str, tuple[str, str]]
    order_refs: dict[str, str]

    def key(self, tenant: str, role: Role) -> Person:
        return self.keys[(tenant, role)]


def agent_world(app: App, clock: FixedClock) -> AgentWorld:
    keys = {(t, r): person(app, clock, tenant=t, role=r) for t in TENANTS for r in ROLES}
    cases = {t: (late_case(app, clock, tenant=t), late_case(app, clock, tenant=t)) for t in TENANTS}
    refs = {tenant: _order_ref(app, tenant, first) for tenant, (first, _) in cases.items()}
    return AgentWorld(keys=keys, cases=cases, order_refs=refs)


def _order_ref(app: App, tenant: str, case_id: str) -> str:
    with owner_sessions(app)() as session:
        return session.scalars(
            select(Case.order_ref).where(Case.tenant_id == tenant, Case.id == case_id)
        ).one()


def case_ids(app: App, tenant: str) -> set[str]:
    """Every case of the tenant (the sweep opens a stuck_order case beside each late one)."""
    with owner_sessions(app)() as session:
        return set(session.scalars(select(Case.id).where(Case.tenant_id == tenant)))


def prefix_of(app: App, who: Person) -> str:
    with owner_sessions(app)() as session:
        return session.scalars(select(ApiKey.prefix).where(ApiKey.id == who.principal.key_id)).one()


def money_limits(
    app: App, clock: FixedClock, who: Person, *, per_action: int, per_day: int
) -> None:
    set_limits(
        app.sessions,
        tenant_id=who.principal.tenant_id,
        key_prefix=prefix_of(app, who),
        per_action_minor=per_action,
        per_day_minor=per_day,
        actor="test",
        clock=clock,
    )


def row_counts(app: App) -> dict[str, int]:
    """Rows in every table, every tenant's (as the owner, whom row-level security spares)."""
    with owner_sessions(app)() as session:
        return {
            table.name: int(session.scalar(select(func.count()).select_from(table)) or 0)
            for table in Base.metadata.sorted_tables
        }


@dataclass(frozen=True)
class Answer:
    data: Any
    error: str | None

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def code(self) -> str | None:
        """The refusal's code: ``not-found``, ``forbidden``, ... (the SDK's prefix and the
        tool's name dropped)."""
        return None if self.error is None else self.message.split(":", 1)[0]

    @property
    def message(self) -> str:
        text = self.error or ""
        if text.startswith(SDK_PREFIX):
            text = text.split(": ", 1)[1]
        return text


def run_served(app: App, scenario: Scenario) -> None:
    """``scenario`` against the API app served by a real uvicorn (builders/live_server.py)."""
    with served(app) as base:
        anyio.run(scenario, base)


@asynccontextmanager
async def over_http(base_url: str, secret: str | None) -> AsyncIterator[Client]:
    headers = {"Authorization": f"Bearer {secret}"} if secret else {}
    async with httpx2.AsyncClient(headers=headers, timeout=60) as http:
        transport = streamable_http_client(f"{base_url}/mcp", http_client=http)
        async with Client(transport, cache=None) as client:
            yield client


def stdio_env(app: App, secret: str) -> dict[str, str]:
    """The child's settings: the test's database (as the app role on PostgreSQL, the owner
    migrating), data directory and demo mode, and the key."""
    settings = app.settings
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/tmp"),
        "ORDEROPS_DATABASE_URL": settings.resolved_database_url,
        "ORDEROPS_DATA_DIR": str(settings.data_dir),
        "ORDEROPS_DEMO_MODE": "true",
        "ORDEROPS_API_KEY": secret,
        "ORDEROPS_LOG_LEVEL": "WARNING",
    }
    if settings.migration_database_url:
        env["ORDEROPS_MIGRATION_DATABASE_URL"] = settings.migration_database_url
    return env


@asynccontextmanager
async def over_stdio(app: App, tenant: str, secret: str) -> AsyncIterator[Client]:
    params = StdioServerParameters(
        command=ORDEROPS, args=["mcp", "serve", "--tenant", tenant], env=stdio_env(app, secret)
    )
    async with Client(params, cache=None) as client:
        yield client


async def call(client: Client, tool: str, **arguments: Any) -> Answer:
    try:
        result = await client.call_tool(tool, arguments)
    except MCPError as exc:
        return Answer(data=None, error=f"protocol: {exc}")
    text = "".join(getattr(block, "text", "") for block in result.content)
    if result.is_error:
        return Answer(data=None, error=text)
    data = result.structured_content
    return Answer(data=data if data is not None else json.loads(text), error=None)


async def read(client: Client, uri: str) -> Answer:
    try:
        result = await client.read_resource(uri)
    except MCPError as exc:
        return Answer(data=None, error=str(exc))
    return Answer(data=json.loads(result.contents[0].text), error=None)  # type: ignore[union-attr]
