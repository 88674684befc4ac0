"""tenant_keys: every primary key, unique constraint and foreign key leads with tenant_id

Revision ID: 0020_tenant_keys
Revises: 0019_retention
Create Date: 2026-12-04 06:00:00

Mirrors ``orderops.storage.tables.keys``: Citus enforces a key only within a shard, so a
schema distributed by tenant needs ``tenant_id`` in every primary key, unique constraint
and foreign key. On every tenant-owned table (``KEYED``) the primary key ``(id)`` becomes
``(tenant_id, id)`` and ``id`` keeps a plain index for lookups by id alone; every
reference between two of them (``REFERENCES``) becomes ``(tenant_id, x_id) -> (tenant_id,
id)`` under its old name; five unique constraints gain ``tenant_id`` (``UNIQUES``), and the
three secrets looked up before the tenant is known keep a plain index (``LOOKUPS``).

A composite reference holds only if a row's tenant is its parent's. That is so today, but
the old keys did not enforce it, so the upgrade first counts the rows that break it and
stops, naming them, before it changes anything. A downgrade likewise first refuses ids
or secrets that two tenants share (the old keys cannot hold them). No row is written,
copied or deleted either way.

PostgreSQL: references dropped, primary keys and unique constraints swapped, references
created again, all in the migration's transaction (each table is locked while its key
index is built).

SQLite cannot alter a constraint, and batch mode's copy-and-drop is no option here:
dropping ``orders`` or ``cases`` with foreign keys on deletes every row that references
them (``ON DELETE CASCADE``), and ``PRAGMA foreign_keys`` cannot be turned off inside the
migration's transaction. So, as 0012 does for column types, the stored ``CREATE TABLE``
statements are edited in place (https://sqlite.org/lang_altertable.html#otheralter): only
their key clauses change, each new statement is compiled on a scratch database before it
is stored, and the indexes behind each table's primary key and unique constraints, whose
columns are what changed, are rebuilt from the rows (``REINDEX``). The result must then
pass ``PRAGMA integrity_check`` and ``PRAGMA foreign_key_check``, or the transaction rolls
back.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from alembic import op
from sqlalchemy.engine import Connection

revision: str = "0020_tenant_keys"
down_revision: str | None = "0019_retention"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEYED = (
    "actions",
    "alias_waits",
    "api_keys",
    "approval_policies",
    "approvals",
    "audit_log",
    "case_policy_pins",
    "case_timeline",
    "case_timers",
    "cases",
    "communication_events",
    "communications",
    "console_sessions",
    "customer_identities",
    "customer_links",
    "customer_message_keys",
    "customers",
    "dead_letters",
    "dispute_evidence_packs",
    "entity_aliases",
    "evidence_blobs",
    "fraud_signals",
    "fulfillment_holds",
    "identity_acts",
    "identity_revisions",
    "import_runs",
    "inbox",
    "incidents",
    "inventory_positions",
    "link_suggestions",
    "llm_usage",
    "order_lines",
    "order_links",
    "order_refunds",
    "orders",
    "outbox",
    "payments",
    "queue_members",
    "queues",
    "recommendation_drafts",
    "recommendations",
    "record_links",
    "recurrence_keys",
    "routing_rules",
    "shipments",
    "source_connections",
    "support_tickets",
    "tenant_playbooks",
    "tenant_policies",
    "tracking_events",
    "users",
    "webhook_deliveries",
    "writeback_attempts",
    "writeback_saga_steps",
    "writeback_sagas",
)
"""Tables whose primary key goes from ``(id)`` to ``(tenant_id, id)``."""


class Reference(NamedTuple):
    table: str
    column: str
    parent: str
    ondelete: str | None = None

    @property
    def name(self) -> str:
        return f"fk_{self.table}_{self.column}_{self.parent}"


REFERENCES = (
    Reference("actions", "case_id", "cases", "CASCADE"),
    Reference("alias_waits", "inbox_id", "inbox", "CASCADE"),
    Reference("api_keys", "user_id", "users"),
    Reference("approvals", "action_id", "actions", "CASCADE"),
    Reference("case_policy_pins", "case_id", "cases", "CASCADE"),
    Reference("case_timeline", "case_id", "cases", "CASCADE"),
    Reference("case_timers", "case_id", "cases", "CASCADE"),
    Reference("cases", "incident_id", "incidents"),
    Reference("cases", "order_id", "orders"),
    Reference("communication_events", "communication_id", "communications", "CASCADE"),
    Reference("communications", "case_id", "cases", "CASCADE"),
    Reference("console_sessions", "user_id", "users", "CASCADE"),
    Reference("customer_identities", "customer_id", "customers", "CASCADE"),
    Reference("customer_links", "customer_id", "customers", "CASCADE"),
    Reference("customer_message_keys", "communication_id", "communications", "CASCADE"),
    Reference("dead_letters", "inbox_id", "inbox"),
    Reference("dead_letters", "replay_inbox_id", "inbox"),
    Reference("dispute_evidence_packs", "case_id", "cases", "CASCADE"),
    Reference("fraud_signals", "inbox_id", "inbox"),
    Reference("identity_acts", "key_id", "api_keys"),
    Reference("identity_acts", "user_id", "users"),
    Reference("order_lines", "order_id", "orders", "CASCADE"),
    Reference("order_links", "order_id", "orders", "CASCADE"),
    Reference("orders", "customer_id", "customers"),
    Reference("outbox", "action_id", "actions"),
    Reference("outbox", "case_id", "cases"),
    Reference("queue_members", "queue_id", "queues", "CASCADE"),
    Reference("recommendation_drafts", "recommendation_id", "recommendations", "CASCADE"),
    Reference("recommendations", "case_id", "cases", "CASCADE"),
    Reference("recurrence_keys", "case_id", "cases", "CASCADE"),
    Reference("tracking_events", "shipment_id", "shipments", "CASCADE"),
    Reference("webhook_deliveries", "dead_letter_id", "dead_letters"),
    Reference("writeback_attempts", "message_id", "outbox", "CASCADE"),
    Reference("writeback_saga_steps", "message_id", "outbox"),
    Reference("writeback_saga_steps", "saga_id", "writeback_sagas", "CASCADE"),
    Reference("writeback_saga_steps", "undo_message_id", "outbox"),
    Reference("writeback_sagas", "case_id", "cases"),
)
"""References between tenant-owned tables: ``(x_id) -> (id)`` becomes
``(tenant_id, x_id) -> (tenant_id, id)``, keeping its name."""


class Unique(NamedTuple):
    table: str
    old: tuple[str, ...]

    @property
    def new(self) -> tuple[str, ...]:
        return ("tenant_id", *self.old)

    @staticmethod
    def name(table: str, columns: Iterable[str]) -> str:
        return f"uq_{table}_{'_'.join(columns)}"


UNIQUES = (
    Unique("api_keys", ("key_hash",)),
    Unique("console_sessions", ("token_hash",)),
    Unique("source_connections", ("endpoint_token",)),
    Unique("writeback_attempts", ("message_id", "number")),
    Unique("writeback_saga_steps", ("saga_id", "position")),
)
"""Unique constraints that did not lead with the tenant; each gains it in front."""

LOOKUPS = (
    ("api_keys", "key_hash"),
    ("console_sessions", "token_hash"),
    ("source_connections", "endpoint_token"),
)
"""Secrets a request is matched by before its tenant is known: a plain index each."""


def upgrade() -> None:
    bind = op.get_bind()
    _refuse(_cross_tenant_references(bind), "upgrade")
    if bind.dialect.name == "sqlite":
        _sqlite_set_keys(bind, upgrading=True)
    else:
        _postgresql_upgrade()
    for table in KEYED:
        op.create_index(f"ix_{table}_id", table, ["id"])
    for table, column in LOOKUPS:
        op.create_index(f"ix_{table}_{column}", table, [column])
    if bind.dialect.name == "sqlite":
        _sqlite_check(bind)


def downgrade() -> None:
    bind = op.get_bind()
    _refuse(_shared_across_tenants(bind), "downgrade")
    for table, column in LOOKUPS:
        op.drop_index(f"ix_{table}_{column}", table_name=table)
    for table in KEYED:
        op.drop_index(f"ix_{table}_id", table_name=table)
    if bind.dialect.name == "sqlite":
        _sqlite_set_keys(bind, upgrading=False)
        _sqlite_check(bind)
    else:
        _postgresql_downgrade()


def _postgresql_upgrade() -> None:
    for ref in REFERENCES:
        op.drop_constraint(ref.name, ref.table, type_="foreignkey")
    for unique in UNIQUES:
        op.drop_constraint(Unique.name(unique.table, unique.old), unique.table, type_="unique")
    for table in KEYED:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["tenant_id", "id"])
    for unique in UNIQUES:
        name = Unique.name(unique.table, unique.new)
        op.create_unique_constraint(name, unique.table, list(unique.new))
    for ref in REFERENCES:
        op.create_foreign_key(
            ref.name,
            ref.table,
            ref.parent,
            ["tenant_id", ref.column],
            ["tenant_id", "id"],
            ondelete=ref.ondelete,
        )


def _postgresql_downgrade() -> None:
    for ref in REFERENCES:
        op.drop_constraint(ref.name, ref.table, type_="foreignkey")
    for unique in UNIQUES:
        op.drop_constraint(Unique.name(unique.table, unique.new), unique.table, type_="unique")
    for table in KEYED:
        op.drop_constraint(f"pk_{table}", table, type_="primary")
        op.create_primary_key(f"pk_{table}", table, ["id"])
    for unique in UNIQUES:
        name = Unique.name(unique.table, unique.old)
        op.create_unique_constraint(name, unique.table, list(unique.old))
    for ref in REFERENCES:
        op.create_foreign_key(
            ref.name, ref.table, ref.parent, [ref.column], ["id"], ondelete=ref.ondelete
        )


# Existing rows the new (or, going down, the old) keys cannot hold


def _cross_tenant_references(bind: Connection) -> list[str]:
    """Rows whose reference names another tenant's row: a composite key would refuse them."""
    problems = []
    for ref in REFERENCES:
        count, example = bind.exec_driver_sql(
            f"SELECT count(*), min(c.id) FROM {ref.table} c "
            f"JOIN {ref.parent} p ON p.id = c.{ref.column} WHERE p.tenant_id <> c.tenant_id"
        ).one()
        if count:
            problems.append(
                f"{count} {ref.table} row(s) (e.g. id {example}) name in {ref.column} a "
                f"{ref.parent} row of another tenant"
            )
    return problems


def _shared_across_tenants(bind: Connection) -> list[str]:
    """Ids, and values of the narrower old unique constraints, that two tenants share."""
    problems = []
    for table, columns in [(table, ("id",)) for table in KEYED] + [
        (unique.table, unique.old) for unique in UNIQUES
    ]:
        listed = ", ".join(columns)
        count, example = bind.exec_driver_sql(
            f"SELECT count(*), min({columns[0]}) FROM (SELECT {listed} FROM {table} "
            f"GROUP BY {listed} HAVING count(*) > 1) shared"
        ).one()
        if count:
            problems.append(
                f"{count} value(s) of {table} ({listed}) (e.g. {example}) are held by rows "
                "of more than one tenant"
            )
    return problems


def _refuse(problems: list[str], step: str) -> None:
    if problems:
        raise RuntimeError(
            f"0020_tenant_keys {step} stopped before changing anything: "
            + "; ".join(problems)
            + ". Correct or remove these rows, then run it again."
        )


# SQLite: the stored CREATE TABLE statements, edited in place

_CONSTRAINT = re.compile(r'^(?:CONSTRAINT\s+"?(\w+)"?\s+)?(PRIMARY KEY|FOREIGN KEY|UNIQUE|CHECK)\b')
_INLINE_REFERENCE = re.compile(
    r'\s+CONSTRAINT\s+"?(\w+)"?\s+REFERENCES\s+"?\w+"?\s*\([^)]*\)'
    r"(?:\s+ON\s+(?:DELETE|UPDATE)\s+(?:SET NULL|SET DEFAULT|CASCADE|RESTRICT|NO ACTION))*"
)


def _sqlite_set_keys(bind: Connection, *, upgrading: bool) -> None:
    statements = {table: _sqlite_keyed_statement(bind, table, upgrading) for table in KEYED}
    scratch = sqlite3.connect(":memory:")
    try:
        for statement in statements.values():
            scratch.execute(statement)  # a statement SQLite cannot read is never stored
    finally:
        scratch.close()
    version = bind.exec_driver_sql("PRAGMA schema_version").scalar_one()
    bind.exec_driver_sql("PRAGMA writable_schema = ON")
    try:
        for table, statement in statements.items():
            bind.exec_driver_sql(
                "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = ?",
                (statement, table),
            )
        bind.exec_driver_sql(f"PRAGMA schema_version = {int(version) + 1}")
    finally:
        bind.exec_driver_sql("PRAGMA writable_schema = OFF")
    for table in KEYED:
        # The automatic indexes behind the primary key and unique constraints now have other
        # columns than the entries they hold: rebuilt from the table's rows.
        for row in bind.exec_driver_sql(f'PRAGMA index_list("{table}")').fetchall():
            if row[3] in ("pk", "u"):
                bind.exec_driver_sql(f'REINDEX "{row[1]}"')


def _sqlite_keyed_statement(bind: Connection, table: str, upgrading: bool) -> str:
    """The table's CREATE TABLE with its keys as ``upgrading`` wants them, all else as is."""
    stored: str = bind.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    ).scalar_one()
    head, body = stored[: stored.index("(") + 1], stored[stored.index("(") + 1 : stored.rindex(")")]
    references = {ref.name: ref for ref in REFERENCES if ref.table == table}
    old_uniques = {
        Unique.name(table, (u.old if upgrading else u.new)): u for u in UNIQUES if u.table == table
    }
    columns, constraints, added, replaced = [], [], [], set()
    for item in _top_level_items(body):
        match = _CONSTRAINT.match(item)
        if match is None:
            for inline in _INLINE_REFERENCE.finditer(item):
                if inline.group(1) in references:  # a column added with its key (ADD COLUMN)
                    item = item.replace(inline.group(0), "")
                    added.append(_reference_clause(references[inline.group(1)], upgrading))
                    replaced.add(inline.group(1))
            columns.append(item)
            continue
        name, kind = match.groups()
        if kind == "PRIMARY KEY":
            key = "tenant_id, id" if upgrading else "id"
            item = f"CONSTRAINT pk_{table} PRIMARY KEY ({key})"
            replaced.add(f"pk_{table}")
        elif kind == "FOREIGN KEY" and name in references:
            item = _reference_clause(references[name], upgrading)
            replaced.add(name)
        elif kind == "UNIQUE" and name in old_uniques:
            unique = old_uniques[name]
            now = unique.new if upgrading else unique.old
            item = f"CONSTRAINT {Unique.name(table, now)} UNIQUE ({', '.join(now)})"
            replaced.add(name)
        constraints.append(item)  # in place: SQLite numbers its automatic indexes in order
    items = columns + constraints + added
    wanted = {f"pk_{table}", *references, *old_uniques}
    if replaced != wanted:
        raise RuntimeError(f"{table}: keys not found as expected: {sorted(wanted - replaced)}")
    return head + "\n\t" + ", \n\t".join(items) + "\n)"


def _reference_clause(ref: Reference, upgrading: bool) -> str:
    columns, parent_columns = (
        (f"tenant_id, {ref.column}", "tenant_id, id") if upgrading else (ref.column, "id")
    )
    on_delete = f" ON DELETE {ref.ondelete}" if ref.ondelete else ""
    return (
        f"CONSTRAINT {ref.name} FOREIGN KEY({columns}) "
        f"REFERENCES {ref.parent} ({parent_columns}){on_delete}"
    )


def _top_level_items(body: str) -> list[str]:
    """The comma-separated parts of a CREATE TABLE body, outside parentheses and quotes."""
    items, depth, quote, start = [], 0, "", 0
    for index, char in enumerate(body):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"`[":
            quote = "]" if char == "[" else char
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(body[start:index].strip())
            start = index + 1
    items.append(body[start:].strip())
    return [item for item in items if item]


def _sqlite_check(bind: Connection) -> None:
    """The whole file checked, indexes against rows included (``quick_check`` would not
    see an index left holding entries of its old columns)."""
    problems = [str(row[0]) for row in bind.exec_driver_sql("PRAGMA integrity_check").fetchall()]
    if problems != ["ok"]:
        raise RuntimeError(f"0020_tenant_keys: SQLite integrity_check failed: {problems[:5]}")
    violations = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if violations:
        raise RuntimeError(f"0020_tenant_keys: foreign keys violated: {violations[:5]}")
