"""The audit page: the tenant's records newest first, 50 a page, filtered.

Pages by keyset on the chain's sequence number (``(tenant_id, seq)`` is unique and
indexed): ``before`` shows the records older than a sequence number, ``after`` those
newer, so a page costs one indexed range read however deep it is, and a record appended
while someone pages never shifts a row onto a second page. Filters (entity type, action
and actor by prefix, a date range, one case) narrow the same read; a reader limited to a
scope sees only the records about their cases (``audit/in_scope.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import ColumnElement, and_, exists, or_, select

from orderops.audit.in_scope import about_cases_in_scope
from orderops.domain.errors import InvalidEvent
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork

PAGE = 50


@dataclass(frozen=True, kw_only=True)
class AuditQuery:
    entity_type: str = ""
    action: str = ""
    """Records whose action starts with this (``case.`` finds every case action)."""
    actor: str = ""
    """Records whose actor starts with this (``user:`` finds every person)."""
    since: date | None = None
    until: date | None = None
    """Inclusive, as the form says it."""
    case_id: str | None = None
    before: int | None = None
    after: int | None = None

    def filters(self) -> dict[str, str]:
        """The filter's form fields, without the page position (for next/previous)."""
        fields = {
            "entity": self.entity_type,
            "action": self.action,
            "actor": self.actor,
            "from": self.since.isoformat() if self.since else "",
            "to": self.until.isoformat() if self.until else "",
            "case": self.case_id or "",
        }
        return {k: v for k, v in fields.items() if v}


@dataclass(frozen=True)
class AuditPage:
    records: list[AuditRecord]
    older: int | None
    """``before`` for the next (older) page; None on the last page."""
    newer: int | None
    """``after`` for the previous (newer) page; None on the newest page."""


def query_of(params: Mapping[str, str]) -> AuditQuery:
    def text(name: str) -> str:
        return (params.get(name) or "").strip()[:200]

    try:
        since = date.fromisoformat(text("from")) if text("from") else None
        until = date.fromisoformat(text("to")) if text("to") else None
        before = int(text("before")) if text("before") else None
        after = int(text("after")) if text("after") else None
    except ValueError as exc:
        raise InvalidEvent(f"dates are YYYY-MM-DD and positions numbers: {exc}") from exc
    return AuditQuery(
        entity_type=text("entity"),
        action=text("action"),
        actor=text("actor"),
        since=since,
        until=until,
        case_id=text("case") or None,
        before=before,
        after=after,
    )


def read_page(uow: UnitOfWork, query: AuditQuery, *, size: int = PAGE) -> AuditPage:
    where = _where(uow, query)
    if query.after is not None:
        rows = list(
            uow.session.scalars(
                select(AuditRecord)
                .where(where, AuditRecord.seq > query.after)
                .order_by(AuditRecord.seq.asc())
                .limit(size + 1)
            )
        )
        more_newer = len(rows) > size
        records = rows[:size][::-1]
        newer = records[0].seq if more_newer and records else None
        older = (
            records[-1].seq
            if records and _any(uow, where, AuditRecord.seq < records[-1].seq)
            else None
        )
        return AuditPage(records, older, newer)
    query_rows = select(AuditRecord).where(where)
    if query.before is not None:
        query_rows = query_rows.where(AuditRecord.seq < query.before)
    rows = list(uow.session.scalars(query_rows.order_by(AuditRecord.seq.desc()).limit(size + 1)))
    records = rows[:size]
    older = records[-1].seq if len(rows) > size else None
    newer = (
        records[0].seq
        if records
        and query.before is not None
        and _any(uow, where, AuditRecord.seq > records[0].seq)
        else None
    )
    return AuditPage(records, older, newer)


def entity_types(uow: UnitOfWork) -> list[str]:
    """The kinds of entity the tenant's chain names (read from the entity index)."""
    return sorted(
        uow.session.scalars(
            select(AuditRecord.entity_type).where(AuditRecord.tenant_id == uow.tenant_id).distinct()
        )
    )


def _where(uow: UnitOfWork, query: AuditQuery) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = [AuditRecord.tenant_id == uow.tenant_id]
    if not uow.scope.unrestricted:
        parts.append(about_cases_in_scope(uow))
    if query.entity_type:
        parts.append(AuditRecord.entity_type == query.entity_type)
    if query.action:
        parts.append(AuditRecord.action.startswith(query.action, autoescape=True))
    if query.actor:
        parts.append(AuditRecord.actor.startswith(query.actor, autoescape=True))
    if query.since is not None:
        parts.append(AuditRecord.at >= datetime.combine(query.since, time(), tzinfo=UTC))
    if query.until is not None:
        end = datetime.combine(query.until + timedelta(days=1), time(), tzinfo=UTC)
        parts.append(AuditRecord.at < end)
    if query.case_id is not None:
        parts.append(
            or_(
                and_(AuditRecord.entity_type == "case", AuditRecord.entity_id == query.case_id),
                AuditRecord.data["case_id"].as_string() == query.case_id,
            )
        )
    return and_(*parts)


def _any(uow: UnitOfWork, where: ColumnElement[bool], beyond: ColumnElement[bool]) -> bool:
    return bool(uow.session.scalar(select(exists().where(where, beyond))))
