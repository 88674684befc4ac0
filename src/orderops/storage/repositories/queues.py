"""Queries for the work around cases: queues, members, routing rules and timers.

Like every repository, each query is scoped to the unit of work's tenant.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, func, select, true
from sqlalchemy import case as sql_case
from sqlalchemy.orm import Session

from orderops.domain.cases import CLOSED_STATUSES, CaseStatus
from orderops.storage.repositories.queue_scopes import queue_scopes, shown_in_queues
from orderops.storage.tables import Case
from orderops.storage.tables.queues import CaseTimer, Queue, QueueMember, RoutingRuleRecord
from orderops.storage.uow import UnitOfWork

_CLOSED = [str(s) for s in CLOSED_STATUSES]


@dataclass(frozen=True)
class QueueCounts:
    name: str
    kind: str
    escalation_queue: str | None
    open: int
    unassigned: int
    escalated: int
    snoozed: int
    members: int


class QueueRepository:
    def __init__(self, session: Session, tenant_id: str) -> None:
        self._session = session
        self._tenant = tenant_id

    # queues and members ----------------------------------------------------------

    def get(self, name: str, *, for_update: bool = False) -> Queue | None:
        query = select(Queue).where(Queue.tenant_id == self._tenant, Queue.name == name)
        if for_update:
            query = query.with_for_update()
        return self._session.scalar(query)

    def add(self, queue: Queue) -> Queue:
        queue.tenant_id = self._tenant
        self._session.add(queue)
        self._session.flush()
        return queue

    def all(self) -> Sequence[Queue]:
        return self._session.scalars(
            select(Queue).where(Queue.tenant_id == self._tenant).order_by(Queue.name)
        ).all()

    def members(self, queue: Queue) -> list[str]:
        return list(
            self._session.scalars(
                select(QueueMember.member)
                .where(QueueMember.tenant_id == self._tenant, QueueMember.queue_id == queue.id)
                .order_by(QueueMember.member)
            )
        )

    def member(self, queue: Queue, member: str) -> QueueMember | None:
        return self._session.scalar(
            select(QueueMember).where(
                QueueMember.tenant_id == self._tenant,
                QueueMember.queue_id == queue.id,
                QueueMember.member == member,
            )
        )

    def add_member(self, row: QueueMember) -> None:
        row.tenant_id = self._tenant
        self._session.add(row)
        self._session.flush()

    def remove_member(self, row: QueueMember) -> None:
        self._session.delete(row)
        self._session.flush()

    def open_loads(self, members: Sequence[str]) -> dict[str, int]:
        """Open cases held by each member (across all queues), zero for the idle."""
        rows = self._session.execute(
            select(Case.assignee, func.count())
            .where(
                Case.tenant_id == self._tenant,
                Case.assignee.in_(list(members)),
                Case.status.not_in(_CLOSED),
            )
            .group_by(Case.assignee)
        ).all()
        counted = {str(assignee): int(count) for assignee, count in rows}
        return {m: counted.get(m, 0) for m in members}

    def counts(self) -> list[QueueCounts]:
        """Every queue with its open work, for the queue overview (a scoped queue counts
        only its cases in scope)."""
        open_ = Case.status.not_in(_CLOSED)
        shown = shown_in_queues(queue_scopes(self._session, self._tenant))
        stats = {
            queue: (int(total), int(unassigned or 0), int(escalated or 0), int(snoozed or 0))
            for queue, total, unassigned, escalated, snoozed in self._session.execute(
                select(
                    Case.queue,
                    func.count(),
                    func.sum(_flag(Case.assignee.is_(None))),
                    func.sum(_flag(Case.status == CaseStatus.ESCALATED)),
                    func.sum(_flag(Case.status == CaseStatus.SNOOZED)),
                )
                .where(Case.tenant_id == self._tenant, open_, Case.queue.is_not(None))
                .where(true() if shown is None else shown)
                .group_by(Case.queue)
            ).all()
        }
        members = dict(
            self._session.execute(
                select(QueueMember.queue_id, func.count())
                .where(QueueMember.tenant_id == self._tenant)
                .group_by(QueueMember.queue_id)
            ).all()
        )
        return [
            QueueCounts(
                q.name,
                q.kind,
                q.escalation_queue,
                *stats.get(q.name, (0, 0, 0, 0)),
                members=int(members.get(q.id, 0)),
            )
            for q in self.all()
        ]

    # routing rules ---------------------------------------------------------------

    def latest_rules_version(self) -> int:
        version = self._session.scalar(
            select(func.max(RoutingRuleRecord.version)).where(
                RoutingRuleRecord.tenant_id == self._tenant
            )
        )
        return int(version or 0)

    def rules(self, version: int) -> Sequence[RoutingRuleRecord]:
        return self._session.scalars(
            select(RoutingRuleRecord)
            .where(
                RoutingRuleRecord.tenant_id == self._tenant, RoutingRuleRecord.version == version
            )
            .order_by(RoutingRuleRecord.position)
        ).all()

    def add_rule(self, row: RoutingRuleRecord) -> None:
        row.tenant_id = self._tenant
        self._session.add(row)

    # timers ----------------------------------------------------------------------

    def pending_timer(self, case_id: str, kind: str) -> CaseTimer | None:
        return self._session.scalar(
            select(CaseTimer).where(
                CaseTimer.tenant_id == self._tenant,
                CaseTimer.case_id == case_id,
                CaseTimer.kind == kind,
                CaseTimer.fired_at.is_(None),
            )
        )

    def pending_timers(self, case_id: str) -> Sequence[CaseTimer]:
        return self._session.scalars(
            select(CaseTimer).where(
                CaseTimer.tenant_id == self._tenant,
                CaseTimer.case_id == case_id,
                CaseTimer.fired_at.is_(None),
            )
        ).all()

    def add_timer(self, timer: CaseTimer) -> None:
        timer.tenant_id = self._tenant
        self._session.add(timer)
        self._session.flush()

    def due_timer_ids(self, *, now: datetime, limit: int) -> Sequence[str]:
        return self._session.scalars(
            select(CaseTimer.id)
            .where(
                CaseTimer.tenant_id == self._tenant,
                CaseTimer.fired_at.is_(None),
                CaseTimer.due_at <= now,
            )
            .order_by(CaseTimer.due_at, CaseTimer.id)
            .limit(limit)
        ).all()

    def claim_timer(self, timer_id: str) -> CaseTimer | None:
        """Lock one still-pending timer; None when another worker holds it or it already fired."""
        return self._session.scalar(
            select(CaseTimer)
            .where(
                CaseTimer.tenant_id == self._tenant,
                CaseTimer.id == timer_id,
                CaseTimer.fired_at.is_(None),
            )
            .with_for_update(skip_locked=True)
        )

    def timers_for(self, case_id: str) -> Sequence[CaseTimer]:
        return self._session.scalars(
            select(CaseTimer)
            .where(CaseTimer.tenant_id == self._tenant, CaseTimer.case_id == case_id)
            .order_by(CaseTimer.created_at, CaseTimer.id)
        ).all()


def queues_of(uow: UnitOfWork) -> QueueRepository:
    """The queue repository on ``uow``'s transaction and tenant."""
    return QueueRepository(uow.session, uow.tenant_id)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return sql_case((condition, 1), else_=0)
