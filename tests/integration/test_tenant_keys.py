"""Every primary key, unique constraint and foreign key leads with tenant_id, so the schema
distributes by tenant on Citus unchanged (issue #19), in the models and in the migrated
databases alike; migration 0020_tenant_keys gets there and back without losing a row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import (
    Constraint,
    Engine,
    ForeignKeyConstraint,
    Index,
    MetaData,
    UniqueConstraint,
    event,
    func,
    inspect,
    select,
    text,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

import orderops.storage.tables  # noqa: F401  (every table on the metadata)
from builders.access import Person, late_case
from builders.database_roles import owner_engine
from builders.events import order_placed
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.base import Base
from orderops.storage.migrate import downgrade, upgrade
from orderops.storage.tables import Order, OrderLineRow
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.console_sessions import SessionPolicy, start_session
from orderops.workflow.batch import ingest_items

REFERENCE_TABLES = {
    "tenants": "the tenants themselves: every tenant-owned row references one, so Citus "
    "keeps a copy on every node (create_reference_table)",
    "sign_in_throttle": "sign-in failures counted per address across tenants, before any "
    "tenant is known; a reference table too",
}
"""The only tables whose keys do not lead with tenant_id, and why."""

BEFORE = "0019_retention"


@dataclass(frozen=True)
class Key:
    """A primary key, unique constraint, unique index or foreign key, as both sides see it."""

    table: str
    kind: str
    name: str
    columns: tuple[str, ...]
    refers_to: str = ""
    """``parent(col, ...) ON DELETE x`` for a foreign key."""

    def __str__(self) -> str:
        refers = f" -> {self.refers_to}" if self.refers_to else ""
        return f"{self.table}: {self.kind} {self.name} ({', '.join(self.columns)}){refers}"


def _refers(parent: str, columns: list[str], ondelete: str | None) -> str:
    return f"{parent}({', '.join(columns)}) ON DELETE {(ondelete or 'NO ACTION').upper()}"


def model_keys(metadata: MetaData, dialect: Dialect) -> set[Key]:
    """Names as ``dialect`` stores them (PostgreSQL cuts them at 63 characters)."""
    keys = set()

    def name(constraint: Constraint | Index) -> str:
        return str(dialect.identifier_preparer.format_constraint(constraint)).strip('"')

    for table in metadata.tables.values():
        pk = table.primary_key
        keys.add(Key(table.name, "primary key", name(pk), tuple(pk.columns.keys())))
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint):
                columns = tuple(constraint.columns.keys())
                keys.add(Key(table.name, "unique", name(constraint), columns))
            elif isinstance(constraint, ForeignKeyConstraint):
                refers = _refers(
                    constraint.referred_table.name,
                    [element.column.name for element in constraint.elements],
                    constraint.ondelete,
                )
                columns = tuple(constraint.columns.keys())
                keys.add(Key(table.name, "foreign key", name(constraint), columns, refers))
        for index in table.indexes:
            if index.unique:
                columns = tuple(c.name for c in index.columns)
                keys.add(Key(table.name, "unique index", name(index), columns))
    return keys


def database_keys(engine: Engine) -> set[Key]:
    inspector = inspect(engine)
    keys = set()
    for table in inspector.get_table_names():
        if table == "alembic_version":
            continue
        pk = inspector.get_pk_constraint(table)
        keys.add(Key(table, "primary key", str(pk["name"]), tuple(pk["constrained_columns"])))
        for unique in inspector.get_unique_constraints(table):
            keys.add(Key(table, "unique", str(unique["name"]), tuple(unique["column_names"])))
        for index in inspector.get_indexes(table):
            if index["unique"] and "duplicates_constraint" not in index:
                columns = tuple(str(c) for c in index["column_names"])
                keys.add(Key(table, "unique index", str(index["name"]), columns))
        for fk in inspector.get_foreign_keys(table):
            refers = _refers(
                fk["referred_table"], fk["referred_columns"], fk["options"].get("ondelete")
            )
            columns = tuple(fk["constrained_columns"])
            keys.add(Key(table, "foreign key", str(fk["name"]), columns, refers))
    return keys


def not_led_by_the_tenant(keys: set[Key]) -> list[str]:
    """Keys a distributed table cannot hold: not led by tenant_id, or a reference whose
    tenant column does not meet the parent's tenant (``tenants.id`` for the tenant itself)."""
    wrong = []
    for key in sorted(keys, key=str):
        if key.table in REFERENCE_TABLES:
            continue
        parent = key.refers_to.split("(")[0]
        meets_the_parents_tenant = key.refers_to.startswith(("tenants(id)", f"{parent}(tenant_id,"))
        if key.columns[0] != "tenant_id" or (
            key.kind == "foreign key" and not meets_the_parents_tenant
        ):
            wrong.append(str(key))
    return wrong


def test_the_reference_tables_are_the_only_ones_without_a_tenant() -> None:
    without = {t.name for t in Base.metadata.tables.values() if "tenant_id" not in t.columns}
    assert without == set(REFERENCE_TABLES)


def test_every_key_of_the_models_leads_with_the_tenant() -> None:
    keys = model_keys(Base.metadata, postgresql.dialect())
    assert not_led_by_the_tenant(keys) == []
    references = [k for k in keys if k.kind == "foreign key" and len(k.columns) == 2]
    assert references, "no composite reference found: the check above proved nothing"


def test_the_check_names_a_key_that_does_not_lead_with_the_tenant() -> None:
    keys = model_keys(Base.metadata, postgresql.dialect()) | {
        Key("orders", "unique", "uq_orders_number", ("number",)),
        Key("cases", "foreign key", "fk_x", ("tenant_id", "order_id"), "orders(id) ON DELETE X"),
    }
    assert not_led_by_the_tenant(keys) == [
        "cases: foreign key fk_x (tenant_id, order_id) -> orders(id) ON DELETE X",
        "orders: unique uq_orders_number (number)",
    ]


def test_every_key_of_the_migrated_database_leads_with_the_tenant(app: App) -> None:
    assert not_led_by_the_tenant(database_keys(owner_engine(app))) == []


def test_the_migrated_keys_are_the_models_keys(app: App) -> None:
    in_database = database_keys(owner_engine(app))
    in_models = model_keys(Base.metadata, owner_engine(app).dialect)
    assert sorted(map(str, in_database - in_models)) == []
    assert sorted(map(str, in_models - in_database)) == []


def test_the_orm_finds_rows_by_id_and_writes_with_the_whole_key(
    app: App, clock: FixedClock
) -> None:
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[order_placed("o-1", at=clock.now())],
        channel="test",
        clock=clock,
    )
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        order_id = uow.session.scalars(select(Order.id).where(Order.tenant_id == "acme")).one()
    statements: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        statements.append(" ".join(statement.split()))

    event.listen(app.engine, "before_cursor_execute", record)
    try:
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            order = uow.session.get(Order, order_id)
            assert order is not None
            assert [line.order_id for line in order.lines] == [order_id]
            order.status = "on_hold"
            order.lines.clear()  # delete-orphan through the composite reference
            uow.commit()
    finally:
        event.remove(app.engine, "before_cursor_execute", record)
    wheres = {
        table: [s.split(" WHERE ")[1] for s in statements if s.startswith(start)]
        for table, start in (
            ("orders", "UPDATE orders "),
            ("order_lines", "DELETE FROM order_lines "),
        )
    }
    for table, found in wheres.items():
        assert len(found) == 1, (table, statements)
        assert f"{table}.tenant_id = " in found[0]
        assert f"{table}.id = " in found[0]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.session.scalar(select(func.count()).where(OrderLineRow.tenant_id == "acme")) == 0
        assert uow.session.get(Order, order_id).status == "on_hold"  # type: ignore[union-attr]


def test_a_row_can_no_longer_name_another_tenants_row(app: App, clock: FixedClock) -> None:
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[order_placed("o-1", at=clock.now())],
        channel="test",
        clock=clock,
    )
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        acme_order = uow.session.scalars(select(Order.id).where(Order.tenant_id == "acme")).one()
    line = OrderLineRow(
        tenant_id="globex",
        order_id=acme_order,
        position=9,
        sku="x",
        quantity=1,
        unit_price_minor=1,
    )
    with UnitOfWork(app.sessions, tenant_id="globex") as uow:
        uow.session.add(line)
        with pytest.raises(IntegrityError):
            uow.commit()
    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow:
        lines = select(func.count()).where(OrderLineRow.tenant_id == "globex")
        assert uow.session.scalar(lines) == 0


def _a_row_in_many_tables(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    """Orders, lines, payments, cases, timelines, timers, people, keys, acts, actions,
    approvals, outbox rows, a console session and a webhook source, for both tenants."""
    for tenant in ("acme", "globex"):
        late_case(app, clock, tenant=tenant)
    case_id = late_case(app, clock)
    proposed = http.post(
        f"/v1/cases/{case_id}/actions",
        json={"kind": "cancel_order", "params": {"reason": "customer"}},
        headers=agent.headers,
    )
    assert proposed.status_code == 201, proposed.text
    approved = http.post(f"/v1/actions/{proposed.json()['id']}/approve", headers=approver.headers)
    assert approved.status_code == 200, approved.text
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        policy = SessionPolicy(lifetime=timedelta(hours=8), idle=timedelta(hours=1))
        start_session(uow, user_id=agent.user_id, now=clock.now(), policy=policy, address=None)
        uow.commit()
    connect_source(
        app.sessions,
        tenant_id="acme",
        source=WebhookSource.STRIPE,
        box=SecretBox(app.settings.secret_key),
        clock=clock,
        actor="test",
    )


def _counts(app: App) -> dict[str, int]:
    """Rows per table, of the tables the database has at its revision."""
    with owner_engine(app).connect() as connection:
        present = set(inspect(connection).get_table_names())
        return {
            name: int(connection.scalar(select(func.count()).select_from(table)) or 0)
            for name, table in Base.metadata.tables.items()
            if name in present
        }


def _primary_key(app: App, table: str) -> list[str]:
    return list(inspect(owner_engine(app)).get_pk_constraint(table)["constrained_columns"])


def test_down_and_up_again_keeps_every_row(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    _a_row_in_many_tables(app, clock, http, agent, approver)
    before = _counts(app)
    filled = {
        "orders",
        "order_lines",
        "payments",
        "cases",
        "case_timeline",
        "users",
        "api_keys",
        "identity_acts",
        "actions",
        "approvals",
        "outbox",
        "console_sessions",
        "source_connections",
        "audit_log",
    }
    assert {name for name in filled if before[name] == 0} == set()

    downgrade(owner_engine(app), BEFORE)
    assert _primary_key(app, "order_lines") == ["id"]
    kept = _counts(app)  # a table a later revision adds goes, with its rows, on the way down
    assert {k: v for k, v in kept.items() if v != before[k]} == {}

    upgrade(owner_engine(app))
    assert _primary_key(app, "order_lines") == ["tenant_id", "id"]
    assert {k: v for k, v in _counts(app).items() if k in kept} == kept
    assert not_led_by_the_tenant(database_keys(owner_engine(app))) == []
    if owner_engine(app).dialect.name == "sqlite":
        with owner_engine(app).connect() as connection:
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"


def test_the_upgrade_refuses_rows_that_name_another_tenants_row(
    app: App, clock: FixedClock
) -> None:
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[order_placed("o-1", at=clock.now())],
        channel="test",
        clock=clock,
    )
    downgrade(owner_engine(app), BEFORE)
    with owner_engine(app).begin() as connection:  # the old key (order_id) -> (id) lets this in
        connection.execute(text("UPDATE order_lines SET tenant_id = 'globex'"))

    with pytest.raises(RuntimeError, match=r"order_lines row\(s\) .* order_id a orders row"):
        upgrade(owner_engine(app))

    with owner_engine(app).connect() as connection:
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == BEFORE
    assert _primary_key(app, "orders") == ["id"]
