"""A desk hold placed the way the desk places one: a fulfillment hold proposed on a late
case (the default policy approves it by rule), its record and its outbox row."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select, update

from builders.access import Person, late_case
from orderops.bootstrap import App
from orderops.decide.actions import propose
from orderops.domain.clock import FixedClock
from orderops.evidence.service import default_store
from orderops.storage.tables import DeskHold, OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.writeback.states import OutboxStatus


@dataclass(frozen=True)
class Placed:
    case_id: str
    action_id: str
    hold_id: str
    place_outbox_id: str


def place_hold(
    app: App, clock: FixedClock, proposer: Person, *, case_id: str | None = None
) -> Placed:
    tenant = proposer.principal.tenant_id
    case_id = case_id or late_case(app, clock, tenant=tenant)
    action = propose(
        app.sessions,
        tenant_id=tenant,
        case_id=case_id,
        kind="hold_fulfillment",
        params={"reason": "address_check", "note": "street number missing"},
        principal=proposer.principal,
        clock=clock,
        evidence=default_store(app.settings),
    )
    assert action.status == "approved", action
    (hold,) = holds_of(app, tenant, case_id)
    return Placed(case_id, action.id, hold.id, hold.place_outbox_id)


def holds_of(app: App, tenant: str, case_id: str) -> list[DeskHold]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = list(uow.session.scalars(select(DeskHold).where(DeskHold.case_id == case_id)))
        uow.session.expunge_all()
        return rows


def hold_row(app: App, tenant: str, hold_id: str) -> DeskHold:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        row = uow.session.scalar(select(DeskHold).where(DeskHold.id == hold_id))
        assert row is not None
        uow.session.expunge(row)
        return row


def settle_message(app: App, tenant: str, outbox_id: str, status: OutboxStatus) -> None:
    """What the writeback worker leaves behind once the vendor answered (delivery itself is
    the writeback suites' subject)."""
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        uow.session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.tenant_id == tenant, OutboxMessage.id == outbox_id)
            .values(status=str(status))
        )
        uow.commit()


def release_rows(app: App, tenant: str, hold_id: str) -> list[OutboxMessage]:
    """Every outbox row that releases the hold, however it was keyed."""
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = [
            m
            for m in uow.session.scalars(
                select(OutboxMessage).where(OutboxMessage.operation == "release_hold")
            )
            if m.payload.get("hold_id") == hold_id
        ]
        uow.session.expunge_all()
        return rows
