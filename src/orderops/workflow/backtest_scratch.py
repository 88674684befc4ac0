"""The scratch desk a backtest replays into: a fresh SQLite database of its own.

Made in a temporary directory, migrated like any other, and given only what a replay
needs from the live desk: the tenant row, its people and roles (approvals are judged by
them), its queues and their members, and its policies (fulfillment, routing rules,
approval policy, playbook, customer notices). Secrets are left behind (password hashes,
authenticator secrets); vendor connections, source connections, API keys and
outbound webhooks are never copied, so nothing in the scratch desk can reach a vendor
or a customer, and the writeback worker never runs over it. The live database is only
read, whether it is SQLite or PostgreSQL.

Policies are copied *as of the window*: the versions of the fulfillment policy, routing
rules, approval policy and playbook stored by the window's start are in force from the
start, and each version the live desk stored later is put in force when the replay's clock
reaches the moment it was stored (``PolicyTimeline``), so the baseline replays what was
live then, not what is live today. (Notification policies and brand rules are kept as one
current row each, with no history: they are copied as they are now.)

A candidate's sections are then stored over the copied policies through the same doors a
person would use (``store_policy``, ``publish_rules``, ``set_policy``,
``store_playbook``), so the replay reads them exactly as the live desk reads its own; the
live desk's later versions of a section the candidate sets are left out (the candidate
holds it for the whole window).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from pydantic import SecretStr
from sqlalchemy import Table, event, insert, select

from orderops.bootstrap import App, bootstrap
from orderops.cases.routing import publish_rules
from orderops.config import Settings
from orderops.decide.policy_versions import set_policy
from orderops.domain.clock import FixedClock
from orderops.ingest.policy_file import store_policy
from orderops.recommend.service import playbook_yaml, store_playbook
from orderops.storage.base import Base
from orderops.storage.uow import UnitOfWork
from orderops.workflow.candidate_policy import CandidatePolicy

ACTOR = "backtest"
COPIED = (
    "users",
    "queues",
    "queue_members",
    "routing_rules",
    "approval_policies",
    "tenant_policies",
    "tenant_playbooks",
    "notification_policies",
    "brand_rules",
)
"""Tenant tables a replay reads besides the events, in an order their keys allow."""
LEFT_BEHIND = frozenset({"password_hash", "totp_secret_ciphertext", "totp_enabled_at"})
"""Columns never copied into a scratch desk."""
NEVER_COPIED = frozenset(
    {
        "vendor_connections",
        "source_connections",
        "api_keys",
        "webhook_subscriptions",
        "sso_configs",
        "outbox",
    }
)
"""What would let a scratch desk reach outside; ``COPIED`` must never name one."""
VERSIONED = {
    "tenant_policies": "created_at",
    "routing_rules": "published_at",
    "approval_policies": "created_at",
    "tenant_playbooks": "created_at",
}
"""Copied tables that keep every version, with the column saying when each was stored."""


@dataclass
class PolicyTimeline:
    """Versions the live desk stored after the window began, put in force in the scratch
    desk as the replay's clock reaches them (``put_in_force``)."""

    tenant_id: str
    later: list[tuple[datetime, str, dict[str, Any]]] = field(default_factory=list)
    """(stored at, table, row), oldest first."""

    def put_in_force(self, scratch: App, now: datetime) -> int:
        """Insert every version stored by ``now``; return how many rows."""
        due = [entry for entry in self.later if entry[0] <= now]
        if not due:
            return 0
        del self.later[: len(due)]
        tables = Base.metadata.tables
        with scratch.engine.begin() as connection:
            for _, name, row in due:
                connection.execute(insert(tables[name]), [row])
        return len(due)

    def without(self, tables: set[str]) -> None:
        """Forget the later versions of ``tables`` (sections a candidate holds)."""
        self.later = [entry for entry in self.later if entry[1] not in tables]


@contextmanager
def scratch_desk(
    live: App, *, tenant_id: str, start: datetime, candidate: CandidatePolicy | None = None
) -> Iterator[tuple[App, FixedClock, PolicyTimeline]]:
    """A migrated scratch desk holding the tenant's configuration as of ``start``, its clock
    at ``start``, and the policy versions stored later; with ``candidate``, its sections
    stored over the live ones. Removed on exit."""
    with TemporaryDirectory(prefix="orderops-backtest-") as directory:
        root = Path(directory)
        settings = Settings(
            database_url=f"sqlite:///{(root / 'scratch.db').as_posix()}",
            migration_database_url=None,
            data_dir=root,
            demo_mode=True,
            secret_key=secrets.token_urlsafe(32),
            audit_key=SecretStr(secrets.token_urlsafe(32)),
        )
        clock = FixedClock(start)
        app = bootstrap(settings, clock=clock)
        event.listen(app.engine, "connect", _no_fsync)
        app.engine.dispose()  # connections made from here on skip fsync
        try:
            timeline = PolicyTimeline(tenant_id)
            copy_configuration(live, app, tenant_id=tenant_id, as_of=start, timeline=timeline)
            if candidate is not None:
                install(app, tenant_id=tenant_id, candidate=candidate, clock=clock)
                timeline.without(held_tables(candidate))
            yield app, clock, timeline
        finally:
            app.close()


def copy_configuration(
    live: App,
    scratch: App,
    *,
    tenant_id: str,
    as_of: datetime | None = None,
    timeline: PolicyTimeline | None = None,
) -> dict[str, int]:
    """Copy the tenant row and ``COPIED`` tables; return the rows copied per table. With
    ``as_of``, versions of ``VERSIONED`` tables stored after it are not copied but added
    to ``timeline``, oldest first."""
    assert not NEVER_COPIED & set(COPIED), "a scratch desk must not reach outside"
    tables = Base.metadata.tables
    copied: dict[str, int] = {}
    with UnitOfWork(live.sessions, tenant_id=tenant_id, write=False) as uow:
        tenant = tables["tenants"]
        rows = {"tenants": _rows(uow, tenant, tenant.c.id == tenant_id)}
        for name in COPIED:
            table = tables[name]
            rows[name] = _rows(uow, table, table.c.tenant_id == tenant_id)
    if as_of is not None:
        later = []
        for name, column in VERSIONED.items():
            now_rows = [r for r in rows[name] if r[column] <= as_of]
            later += [(r[column], name, r) for r in rows[name] if r[column] > as_of]
            rows[name] = now_rows
        later.sort(key=lambda entry: entry[0])
        if timeline is not None:
            timeline.later = later
    with scratch.engine.begin() as connection:
        for name, found in rows.items():
            if found:
                connection.execute(insert(tables[name]), found)
            copied[name] = len(found)
    return copied


def held_tables(candidate: CandidatePolicy) -> set[str]:
    """The versioned tables of the sections ``candidate`` sets."""
    sections = {
        "tenant_policies": candidate.fulfillment,
        "approval_policies": candidate.approval,
        "routing_rules": candidate.routing,
        "tenant_playbooks": candidate.playbook,
    }
    return {table for table, section in sections.items() if section is not None}


def install(app: App, *, tenant_id: str, candidate: CandidatePolicy, clock: FixedClock) -> None:
    """Store each section the candidate sets as the tenant's newest version."""
    if candidate.fulfillment is not None:
        store_policy(
            app.sessions,
            tenant_id=tenant_id,
            policy=candidate.fulfillment,
            actor=ACTOR,
            clock=clock,
        )
    if candidate.approval is not None:
        set_policy(
            app.sessions,
            tenant_id=tenant_id,
            body=candidate.approval.body(),
            actor=ACTOR,
            clock=clock,
        )
    with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
        if candidate.routing is not None:
            publish_rules(uow, rules=candidate.routing.rules, actor=ACTOR, now=clock.now())
        if candidate.playbook is not None:
            store_playbook(uow, playbook_yaml(candidate.playbook), actor=ACTOR, now=clock.now())
        uow.commit()


def _rows(uow: UnitOfWork, table: Table, where: Any) -> list[dict[str, Any]]:
    found = uow.session.execute(select(table).where(where)).mappings().all()
    return [{k: (None if k in LEFT_BEHIND else v) for k, v in row.items()} for row in found]


def _no_fsync(dbapi_connection: Any, _record: Any) -> None:
    """A scratch database is thrown away after the run: it need not survive a power cut."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=OFF")
    cursor.close()
