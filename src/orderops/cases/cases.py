"""The case lifecycle: open, merge a repeated signal, reopen, auto-resolve.

Every transition writes a timeline entry and an audit record through the caller's unit
of work, so the change and its record commit together.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError

from orderops.detect.rules import Verdict
from orderops.domain.cases import CaseStatus, can_auto_resolve, check_transition, is_open
from orderops.domain.errors import CaseAlreadyOpen
from orderops.domain.scopes import ScopeValues
from orderops.domain.usage import Meter
from orderops.metering import usage
from orderops.outbound.events import on_case_record
from orderops.storage.tables import Case, CaseTimelineEntry, Order
from orderops.storage.uow import UnitOfWork


class CaseChange(StrEnum):
    OPENED = "opened"
    MERGED = "merged"
    REOPENED = "reopened"
    RESOLVED = "resolved"


@dataclass(frozen=True)
class CaseEvent:
    change: CaseChange
    case_id: str
    exception_type: str
    order_ref: str
    summary: str


def record(
    uow: UnitOfWork,
    case: Case,
    *,
    at: datetime,
    actor: str,
    kind: str,
    summary: str,
    data: dict[str, Any] | None = None,
    inbox_id: str | None = None,
) -> None:
    """One timeline entry and its audit record: the two always travel together."""
    payload = data or {}
    uow.cases.add_timeline(
        CaseTimelineEntry(
            case_id=case.id,
            at=at,
            kind=kind,
            summary=summary,
            actor=actor,
            data=payload,
            inbox_id=inbox_id,
        )
    )
    uow.audit.append(
        at=at,
        actor=actor,
        action=f"case.{kind}",
        entity_type="case",
        entity_id=case.id,
        data={"status": case.status, "summary": summary, **payload},
    )
    on_case_record(uow, case, kind=kind, at=at, data=payload)  # outbound webhooks


def raise_exception(
    uow: UnitOfWork,
    *,
    order: Order,
    existing: Case | None,
    verdict: Verdict,
    now: datetime,
    inbox_id: str | None,
) -> CaseEvent | None:
    """Open a case for the verdict, or fold the signal into the case that already covers it.

    ``existing`` is the order's open case of this type, else its latest closed one.
    """
    actor = f"detector:{verdict.exception_type}"
    if existing is not None and is_open(CaseStatus(existing.status)):
        return _merge(uow, existing, verdict=verdict, now=now, actor=actor, inbox_id=inbox_id)
    if existing is not None:
        if existing.facts.get("evidence_key") == verdict.evidence_key:
            return None  # the closed case already covered this very signal
        existing.status = check_transition(CaseStatus(existing.status), CaseStatus.REOPENED)
        existing.reopen_count += 1
        existing.closed_at, existing.close_reason = None, None
        existing.summary, existing.updated_at = verdict.summary, now
        existing.facts = _facts(verdict)
        existing.occurrences += 1
        record(
            uow,
            existing,
            at=now,
            actor=actor,
            kind="reopened",
            summary=verdict.summary,
            data={"evidence_key": verdict.evidence_key},
            inbox_id=inbox_id,
        )
        return _event(CaseChange.REOPENED, existing)
    try:
        case = _insert(uow, order=order, verdict=verdict, now=now)
    except CaseAlreadyOpen:
        racer = uow.cases.latest_for(order.id, verdict.exception_type)
        assert racer is not None
        return _merge(uow, racer, verdict=verdict, now=now, actor=actor, inbox_id=inbox_id)
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="opened",
        summary=verdict.summary,
        data={"facts": verdict.facts},
        inbox_id=inbox_id,
    )
    usage.count(uow, Meter.CASES, str(verdict.exception_type), 1, at=now)
    return _event(CaseChange.OPENED, case)


def clear_exception(
    uow: UnitOfWork, *, case: Case | None, verdict: Verdict, now: datetime, inbox_id: str | None
) -> CaseEvent | None:
    """Resolve the open case when its blocker has cleared, unless a human is mid-decision."""
    if case is None or not is_open(CaseStatus(case.status)):
        return None
    if not can_auto_resolve(CaseStatus(case.status)):
        record(
            uow,
            case,
            at=now,
            actor=f"detector:{verdict.exception_type}",
            kind="blocker_cleared",
            summary=f"Blocker cleared ({verdict.clear_reason}); left for the reviewer",
            inbox_id=inbox_id,
        )
        return None
    case.status = check_transition(CaseStatus(case.status), CaseStatus.RESOLVED)
    case.closed_at, case.close_reason, case.updated_at = now, verdict.clear_reason, now
    record(
        uow,
        case,
        at=now,
        actor=f"detector:{verdict.exception_type}",
        kind="resolved",
        summary=f"Resolved automatically: {verdict.clear_reason}",
        inbox_id=inbox_id,
    )
    return _event(CaseChange.RESOLVED, case, summary=f"{case.summary} -> {verdict.clear_reason}")


def _merge(
    uow: UnitOfWork,
    case: Case,
    *,
    verdict: Verdict,
    now: datetime,
    actor: str,
    inbox_id: str | None,
) -> CaseEvent | None:
    if case.facts.get("evidence_key") == verdict.evidence_key:
        return None
    case.occurrences += 1
    case.facts = _facts(verdict)
    case.summary, case.updated_at = verdict.summary, now
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="signal_merged",
        summary=verdict.summary,
        data={"evidence_key": verdict.evidence_key, "occurrences": case.occurrences},
        inbox_id=inbox_id,
    )
    return _event(CaseChange.MERGED, case)


def _insert(uow: UnitOfWork, *, order: Order, verdict: Verdict, now: datetime) -> Case:
    case = Case(
        order_id=order.id,
        order_ref=order.order_ref,
        exception_type=verdict.exception_type,
        status=CaseStatus.NEW,
        summary=verdict.summary,
        detected_at=verdict.detected_at or now,
        opened_at=now,
        updated_at=now,
        facts=_facts(verdict),
        occurrences=1,
        reopen_count=0,
    )
    ScopeValues.of_row(order).place(case)  # its order's scope; resolve keeps them in step
    try:
        with uow.session.begin_nested():
            uow.cases.add(case)
    except IntegrityError as exc:
        raise CaseAlreadyOpen(
            f"an open {verdict.exception_type} case exists for order {order.order_ref}"
        ) from exc
    return case


def _facts(verdict: Verdict) -> dict[str, Any]:
    return {**verdict.facts, "evidence_key": verdict.evidence_key}


def _event(change: CaseChange, case: Case, *, summary: str | None = None) -> CaseEvent:
    return CaseEvent(change, case.id, case.exception_type, case.order_ref, summary or case.summary)
