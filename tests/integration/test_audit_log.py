"""The audit chain as stored: it verifies, and any edit or deletion of a row is caught."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from builders.database_roles import owner_engine, owner_sessions
from builders.events import order_placed, payment
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.tables import AuditRecord
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep


@pytest.fixture
def audited(app: App, clock: FixedClock) -> App:
    """Acme with a payment failure and its recovery: a case opened (by the sweep, the
    grace window long past) then resolved."""
    at = clock.now() - timedelta(days=1)
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[
            order_placed("o-1", at=at),
            payment("o-1", status="failed", at=at + timedelta(minutes=1), payment_ref="pi_1"),
        ],
        channel="test",
        clock=clock,
    )
    sweep(app.sessions, tenant_id="acme", clock=clock)
    clock.advance(timedelta(minutes=10))
    ingest_items(
        app.sessions,
        tenant_id="acme",
        items=[payment("o-1", status="captured", at=at + timedelta(hours=1), payment_ref="pi_2")],
        channel="test",
        clock=clock,
    )
    return app


def actions(app: App, tenant_id: str) -> list[str]:
    with owner_sessions(app)() as session:
        return list(
            session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.tenant_id == tenant_id)
                .order_by(AuditRecord.seq)
            )
        )


def count(app: App, tenant_id: str) -> int:
    with owner_sessions(app)() as session:
        total = session.scalar(
            select(func.count()).select_from(AuditRecord).where(AuditRecord.tenant_id == tenant_id)
        )
        return int(total or 0)


def tamper(app: App, sql: str, **params: object) -> None:
    with owner_engine(app).begin() as connection:
        result = connection.execute(text(sql), params)
        assert result.rowcount == 1


def test_the_chain_of_a_payment_failure_and_its_recovery_verifies(audited: App) -> None:
    result = verify_tenant(audited.sessions, tenant_id="acme")

    assert actions(audited, "acme") == [
        "tenant.created",
        "case.opened",
        "queue.created",
        "case.routed",
        "case.resolved",
    ]
    assert result.ok, result.problem
    assert result.checked == count(audited, "acme") == 5
    assert result.bad_seq is None


def test_editing_a_rows_data_breaks_the_chain_at_that_seq(audited: App) -> None:
    as_json = "CAST(:data AS JSONB)" if audited.engine.dialect.name == "postgresql" else ":data"
    tamper(
        audited,
        f"UPDATE audit_log SET data = {as_json} WHERE tenant_id = 'acme' AND seq = 2",
        data=json.dumps({"status": "new", "summary": "nothing to see here"}),
    )

    result = verify_tenant(audited.sessions, tenant_id="acme")

    assert not result.ok
    assert result.bad_seq == 2
    assert result.checked == 1
    assert result.problem == "record content does not match its hash"


def test_editing_a_rows_actor_is_caught_too(audited: App) -> None:
    tamper(audited, "UPDATE audit_log SET actor = 'someone' WHERE tenant_id = 'acme' AND seq = 3")

    result = verify_tenant(audited.sessions, tenant_id="acme")

    assert (result.ok, result.bad_seq) == (False, 3)


def test_deleting_a_row_breaks_the_chain(audited: App) -> None:
    tamper(audited, "DELETE FROM audit_log WHERE tenant_id = 'acme' AND seq = 2")

    result = verify_tenant(audited.sessions, tenant_id="acme")

    assert not result.ok
    assert result.bad_seq == 3
    assert result.problem == "sequence gap: expected 2, found 3"


def test_deleting_the_last_row_is_caught_by_the_head(audited: App) -> None:
    last = count(audited, "acme")
    tamper(audited, f"DELETE FROM audit_log WHERE tenant_id = 'acme' AND seq = {last}")

    result = verify_tenant(audited.sessions, tenant_id="acme")

    assert not result.ok
    assert result.checked == last - 1
    assert result.problem is not None
    assert f"head says {last}" in result.problem


def test_another_tenants_chain_is_independent(audited: App) -> None:
    tamper(audited, "DELETE FROM audit_log WHERE tenant_id = 'acme' AND seq = 2")

    globex = verify_tenant(audited.sessions, tenant_id="globex")

    assert not verify_tenant(audited.sessions, tenant_id="acme").ok
    assert actions(audited, "globex") == ["tenant.created"]
    assert globex.ok, globex.problem
    assert globex.checked == count(audited, "globex") == 1
