"""Storm hygiene: many open cases with one root cause become one incident.

When a lane stalls, hundreds of late cases open within hours. Each still exists (every
order needs its own resolution), but they are grouped under one incident so a reviewer
acts once and the collapsed queue shows one row. An incident opens when ``StormRule``
open cases share a key within its window, takes every later case with that key, and
closes when its last case closes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import record
from orderops.cases.recurrence import context_for, record_keys
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.clock import Clock
from orderops.domain.root_causes import (
    DEFAULT_STORM_RULE,
    CaseContext,
    IncidentKey,
    StormRule,
    incident_key,
)
from orderops.storage.repositories import keyset
from orderops.storage.tables import Case
from orderops.storage.tables.incidents import Incident
from orderops.storage.uow import UnitOfWork

INCIDENT_ACTOR = "incidents"
_CLOSED = [str(s) for s in CLOSED_STATUSES]


def attach_to_incident(
    uow: UnitOfWork,
    case: Case,
    *,
    now: datetime,
    rule: StormRule = DEFAULT_STORM_RULE,
    recorded: CaseContext | None = None,
) -> Incident | None:
    """Call when a case opens or reopens: record what it shares with other cases, and put
    it (with the open cases it shares a root cause with) under an incident once there
    are enough of them. Returns the case's incident, or None while it stands alone.
    ``recorded``: the case's context when the caller has just recorded its keys
    (``recurrence_for`` does), so they are not read and written twice."""
    context = recorded
    if context is None:
        context = context_for(uow, case)
        record_keys(uow, case, context=context)
    key = incident_key(context)
    case.incident_key = key.key if key else None
    if key is None:
        return None
    uow.session.flush()
    incident = open_incident(uow, key.key)
    if incident is not None:
        _attach(uow, incident, [case], now=now)
        return incident
    peers = _ungrouped_open(uow, key.key, since=now - rule.window)
    if len(peers) < rule.min_cases:
        return None
    incident = _open(uow, key, case.exception_type, now=now)
    _attach(uow, incident, peers, now=now)
    return incident


def release_from_incident(uow: UnitOfWork, case: Case, *, now: datetime) -> bool:
    """Call when a case closes: its incident closes with its last open case. True when
    the incident closed."""
    if case.incident_id is None:
        return False
    incident = uow.session.get(Incident, case.incident_id)
    if incident is None or incident.closed_at is not None:
        return False
    uow.session.flush()
    if _open_cases(uow, incident.id):
        return False
    _close(uow, incident, now=now)
    return True


def close_finished_incidents(
    sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock
) -> int:
    """Worker sweep: close every open incident whose cases are all closed, however they
    closed (a person, a detector, an approval). Returns how many closed."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        still_open = exists().where(
            Case.tenant_id == tenant_id,
            Case.incident_id == Incident.id,
            Case.status.not_in(_CLOSED),
        )
        finished = uow.session.scalars(
            select(Incident)
            .where(Incident.tenant_id == tenant_id, Incident.closed_at.is_(None), ~still_open)
            .order_by(Incident.opened_at)
        ).all()
        for incident in finished:
            _close(uow, incident, now=clock.now())
        uow.commit()
    return len(finished)


def open_incident(uow: UnitOfWork, key: str) -> Incident | None:
    return uow.session.scalar(
        select(Incident).where(
            Incident.tenant_id == uow.tenant_id, Incident.key == key, Incident.closed_at.is_(None)
        )
    )


def list_incidents(
    uow: UnitOfWork,
    *,
    open_only: bool,
    limit: int,
    offset: int,
    incident_id: str | None = None,
    after: Sequence[object] | None = None,
) -> tuple[Sequence[tuple[Incident, int, int]], int]:
    """Incidents newest first, each with its open cases and all its cases, and the total.

    Read by a unit of work bound to a scope, both counts are of the cases in that scope
    (the guard scopes every ``Case`` here, and an incident with none in scope is not
    listed); the stored ``case_count`` counts every case ever grouped, wherever it sits,
    so it is for the unscoped only. ``after`` (opened_at, id) starts the page after that row."""
    cases = (
        select(func.count(Case.id))
        .where(Case.tenant_id == uow.tenant_id, Case.incident_id == Incident.id)
        .correlate(Incident)
    )
    open_count = cases.where(Case.status.not_in(_CLOSED)).scalar_subquery()
    every_count = Incident.case_count if uow.scope.unrestricted else cases.scalar_subquery()
    query = select(Incident, open_count, every_count).where(Incident.tenant_id == uow.tenant_id)
    if open_only:
        query = query.where(Incident.closed_at.is_(None))
    if incident_id is not None:
        query = query.where(Incident.id == incident_id)
    total = uow.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    order = (keyset.SortPart(Incident.opened_at, descending=True), keyset.SortPart(Incident.id))
    if after is not None:
        query = query.where(keyset.after(order, after))
    rows = uow.session.execute(
        query.order_by(*keyset.ordering(order)).limit(limit).offset(offset)
    ).all()
    return [(row[0], int(row[1] or 0), int(row[2] or 0)) for row in rows], total


def _ungrouped_open(uow: UnitOfWork, key: str, *, since: datetime) -> Sequence[Case]:
    return uow.session.scalars(
        select(Case)
        .where(
            Case.tenant_id == uow.tenant_id,
            Case.incident_key == key,
            Case.incident_id.is_(None),
            Case.status.not_in(_CLOSED),
            Case.opened_at >= since,
        )
        .order_by(Case.opened_at, Case.id)
    ).all()


def _open_cases(uow: UnitOfWork, incident_id: str) -> int:
    return (
        uow.session.scalar(
            select(func.count(Case.id)).where(
                Case.tenant_id == uow.tenant_id,
                Case.incident_id == incident_id,
                Case.status.not_in(_CLOSED),
            )
        )
        or 0
    )


def _open(uow: UnitOfWork, key: IncidentKey, exception_type: str, *, now: datetime) -> Incident:
    """A new open incident; a racing worker's incident for the same key wins instead."""
    incident = Incident(
        tenant_id=uow.tenant_id,
        key=key.key,
        type=exception_type,
        dimension=str(key.dimension),
        summary=key.summary(exception_type),
        opened_at=now,
        case_count=0,
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(incident)
    except IntegrityError:
        racer = open_incident(uow, key.key)
        assert racer is not None  # the unique index said it exists
        return racer
    uow.audit.append(
        at=now,
        actor=INCIDENT_ACTOR,
        action="incident.opened",
        entity_type="incident",
        entity_id=incident.id,
        data={"key": incident.key, "type": incident.type, "summary": incident.summary},
    )
    return incident


def _attach(uow: UnitOfWork, incident: Incident, cases: Sequence[Case], *, now: datetime) -> None:
    for case in cases:
        if case.incident_id == incident.id:
            continue
        case.incident_id, case.updated_at = incident.id, now
        incident.case_count += 1
        record(
            uow,
            case,
            at=now,
            actor=INCIDENT_ACTOR,
            kind="incident_attached",
            summary=f"Grouped under incident: {incident.summary}",
            data={"incident_id": incident.id, "key": incident.key},
        )
    uow.session.flush()


def _close(uow: UnitOfWork, incident: Incident, *, now: datetime) -> None:
    incident.closed_at = now
    uow.audit.append(
        at=now,
        actor=INCIDENT_ACTOR,
        action="incident.closed",
        entity_type="incident",
        entity_id=incident.id,
        data={"key": incident.key, "case_count": incident.case_count},
    )
