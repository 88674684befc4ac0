"""The divergence report: live cases against a shadow candidate's decisions over a window.

:func:`divergence` is a pure function of what :func:`load_report` reads, so it is tested
by tables. Per exception type it counts the cases the candidate would have opened that
live did not (a decision with no live case open at that moment) and the reverse (a live
case an event opened in the window, for an order and type the candidate never opened),
and, for cases both open, where the candidate's queue, priority, recommended action,
money or approvers differ from what the live policy gives on the same facts. Each count
keeps a few examples.

Cases opened by events and by the worker's sweeps are compared alike: shadow mode
follows both (``live_by_sweep`` says how many of the live ones a sweep opened). A
decision the candidate took before live opened the same order's case of the same type
counts as both, *earlier* (a tighter deadline, a lower threshold), with the hours it
gained; one taken after live's case opened counts as *later*.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.errors import InvalidEvent
from orderops.domain.scopes import AccessScope
from orderops.storage.tables import Case, CaseTimelineEntry
from orderops.storage.tables.shadow import ShadowDecision
from orderops.storage.uow import UnitOfWork
from orderops.workflow.candidate_policy import live_policy, parse_candidate, policy_diff
from orderops.workflow.shadow import CandidateInfo, latest

EXAMPLES = 5
COMPARED = ("queue", "priority", "action", "amount_minor", "approvals")


@dataclass(frozen=True, kw_only=True)
class LiveCase:
    case_id: str
    order_id: str
    order_ref: str
    exception_type: str
    opened_at: datetime
    by_event: bool
    """Opened while an event was applied (else by a sweep)."""
    queue: str | None
    priority: str | None


@dataclass(frozen=True, kw_only=True)
class Decision:
    order_id: str
    order_ref: str
    exception_type: str
    opened_at: datetime
    cleared_at: datetime | None
    live_case_id: str | None
    currency: str | None
    candidate: dict[str, Any]
    live: dict[str, Any]


@dataclass
class TypeDivergence:
    exception_type: str
    candidate_opened: int = 0
    live_opened: int = 0
    live_by_sweep: int = 0
    candidate_cleared: int = 0
    only_candidate: int = 0
    only_live: int = 0
    both: int = 0
    earlier: int = 0
    later: int = 0
    hours_earlier: float = 0.0
    """Summed over ``earlier`` (gained) and ``later`` (lost, negative): the net lead."""
    changed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COMPARED, 0))
    money_minor: dict[str, dict[str, int]] = field(default_factory=dict)
    """Per currency, the money the top recommendations move: ``{"candidate": .., "live": ..}``."""
    examples: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))

    @property
    def divergent(self) -> bool:
        return bool(self.differences)

    @property
    def differences(self) -> int:
        """Cases one side opened alone or at another moment, and outcomes that differ."""
        return (
            self.only_candidate
            + self.only_live
            + self.earlier
            + self.later
            + sum(self.changed.values())
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "exception_type": self.exception_type,
            "candidate_opened": self.candidate_opened,
            "live_opened": self.live_opened,
            "live_by_sweep": self.live_by_sweep,
            "candidate_cleared": self.candidate_cleared,
            "only_candidate": self.only_candidate,
            "only_live": self.only_live,
            "both": self.both,
            "earlier": self.earlier,
            "later": self.later,
            "hours_earlier": round(self.hours_earlier, 2),
            "changed": dict(self.changed),
            "money_minor": self.money_minor,
            "examples": {k: list(v) for k, v in self.examples.items()},
        }


@dataclass(frozen=True)
class DivergenceReport:
    since: datetime
    until: datetime
    types: tuple[TypeDivergence, ...]

    @property
    def divergent(self) -> int:
        """Differences of every kind, all types together (0: the candidate acts as live)."""
        return sum(t.differences for t in self.types)

    def as_json(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "divergent": self.divergent,
            "types": [t.as_json() for t in self.types],
        }


def divergence(
    live: Sequence[LiveCase],
    decisions: Sequence[Decision],
    *,
    since: datetime,
    until: datetime,
    examples: int = EXAMPLES,
) -> DivergenceReport:
    """Compare ``live`` cases and ``decisions`` opened in ``[since, until]``."""
    types: dict[str, TypeDivergence] = {}

    def of(kind: str) -> TypeDivergence:
        return types.setdefault(kind, TypeDivergence(kind))

    def note(row: TypeDivergence, what: str, example: dict[str, Any]) -> None:
        if len(row.examples[what]) < examples:
            row.examples[what].append(example)

    in_window = [c for c in live if since <= c.opened_at <= until]
    by_id = {c.case_id: c for c in in_window}
    by_key: dict[tuple[str, str], list[LiveCase]] = defaultdict(list)
    for case in in_window:
        by_key[(case.order_id, case.exception_type)].append(case)
    shadowed: set[tuple[str, str]] = set()
    matched: set[str] = set()
    for d in decisions:
        shadowed.add((d.order_id, d.exception_type))
        if not since <= d.opened_at <= until:
            continue
        row = of(d.exception_type)
        row.candidate_opened += 1
        row.candidate_cleared += d.cleared_at is not None
        base = {"order_ref": d.order_ref, "at": d.opened_at.isoformat()}
        twin = _twin(d, by_id, by_key.get((d.order_id, d.exception_type), []), matched)
        if twin is None:
            row.only_candidate += 1
            note(row, "only_candidate", {**base, "candidate": d.candidate})
            continue
        matched.add(twin.case_id)
        row.both += 1
        lead = (twin.opened_at - d.opened_at).total_seconds() / 3600
        if lead:
            row.earlier += lead > 0
            row.later += lead < 0
            row.hours_earlier += lead
            note(
                row,
                "earlier" if lead > 0 else "later",
                {**base, "case_id": twin.case_id, "hours": round(lead, 2)},
            )
        money = row.money_minor.setdefault(d.currency or "", {"candidate": 0, "live": 0})
        money["candidate"] += int(d.candidate.get("amount_minor") or 0)
        money["live"] += int(d.live.get("amount_minor") or 0)
        for what in COMPARED:
            if d.candidate.get(what) != d.live.get(what):
                row.changed[what] += 1
                note(
                    row,
                    what,
                    {
                        **base,
                        "case_id": twin.case_id,
                        "candidate": d.candidate.get(what),
                        "live": d.live.get(what),
                    },
                )
    for case in in_window:
        row = of(case.exception_type)
        row.live_opened += 1
        row.live_by_sweep += not case.by_event
        if case.case_id in matched or (case.order_id, case.exception_type) in shadowed:
            continue
        row.only_live += 1
        note(
            row,
            "only_live",
            {
                "order_ref": case.order_ref,
                "at": case.opened_at.isoformat(),
                "case_id": case.case_id,
                "queue": case.queue,
                "priority": case.priority,
            },
        )
    ordered = tuple(types[k] for k in sorted(types))
    return DivergenceReport(since=since, until=until, types=ordered)


def _twin(
    decision: Decision,
    by_id: dict[str, LiveCase],
    same_order_and_type: list[LiveCase],
    matched: set[str],
) -> LiveCase | None:
    """The live case ``decision`` stands beside: the one open when it was taken, else the
    first the live desk opened for the same order and type after it."""
    if decision.live_case_id is not None:
        return by_id.get(decision.live_case_id) or _outside(decision)
    return next(
        (
            c
            for c in same_order_and_type
            if c.opened_at >= decision.opened_at and c.case_id not in matched
        ),
        None,
    )


def _outside(decision: Decision) -> LiveCase:
    """A live case opened before the window: matched, at the decision's own moment."""
    assert decision.live_case_id is not None
    return LiveCase(
        case_id=decision.live_case_id,
        order_id=decision.order_id,
        order_ref=decision.order_ref,
        exception_type=decision.exception_type,
        opened_at=decision.opened_at,
        by_event=True,
        queue=None,
        priority=None,
    )


def load_report(
    uow: UnitOfWork, *, candidate_id: str, since: datetime, until: datetime
) -> DivergenceReport:
    """Read the window's live cases and the candidate's decisions, and compare them."""
    decisions = [
        Decision(
            order_id=r.order_id,
            order_ref=r.order_ref,
            exception_type=r.exception_type,
            opened_at=r.opened_at,
            cleared_at=r.cleared_at,
            live_case_id=r.live_case_id,
            currency=r.currency,
            candidate=dict(r.outcome.get("candidate") or {}),
            live=dict(r.outcome.get("live") or {}),
        )
        for r in uow.session.scalars(
            select(ShadowDecision)
            .where(
                ShadowDecision.tenant_id == uow.tenant_id,
                ShadowDecision.candidate_id == candidate_id,
                ShadowDecision.opened_at <= until,
            )
            .order_by(ShadowDecision.opened_at, ShadowDecision.id)
        )
    ]
    rows = uow.session.execute(
        select(
            Case.id,
            Case.order_id,
            Case.order_ref,
            Case.exception_type,
            Case.opened_at,
            Case.queue,
            Case.priority,
        )
        .where(Case.tenant_id == uow.tenant_id, Case.opened_at >= since, Case.opened_at <= until)
        .order_by(Case.opened_at, Case.id)
    ).all()
    ids = [r.id for r in rows]
    by_event: set[str] = set()
    for start in range(0, len(ids), 500):
        by_event.update(
            uow.session.scalars(
                select(CaseTimelineEntry.case_id).where(
                    CaseTimelineEntry.tenant_id == uow.tenant_id,
                    CaseTimelineEntry.case_id.in_(ids[start : start + 500]),
                    CaseTimelineEntry.kind == "opened",
                    CaseTimelineEntry.inbox_id.is_not(None),
                )
            )
        )
    live = [
        LiveCase(
            case_id=r.id,
            order_id=r.order_id,
            order_ref=r.order_ref,
            exception_type=r.exception_type,
            opened_at=r.opened_at,
            by_event=r.id in by_event,
            queue=r.queue,
            priority=r.priority,
        )
        for r in rows
    ]
    return divergence(live, decisions, since=since, until=until)


@dataclass(frozen=True)
class ShadowView:
    """What the API and the console show: the candidate, its report, its policy diff."""

    candidate: CandidateInfo
    report: DivergenceReport
    diff: list[dict[str, Any]]


def read_view(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    scope: AccessScope,
    now: datetime,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ShadowView | None:
    """The running candidate (else the latest) with its report over ``[since, until]``
    (default: from its start to now, or to when it stopped), or None when the tenant never
    ran one. The report spans the whole tenant, so a caller limited to part of it (an
    access scope) is answered as if there were none."""
    if not scope.unrestricted:
        return None
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        row = latest(uow)
        if row is None:
            return None
        end = until or row.stopped_at or row.promoted_at or now
        start = since or row.started_at
        if start > end:
            raise InvalidWindow("the window's start is after its end")
        report = load_report(uow, candidate_id=row.id, since=start, until=end)
        diff = policy_diff(live_policy(uow), parse_candidate(row.text))
        return ShadowView(CandidateInfo.of(row), report, diff)


class InvalidWindow(InvalidEvent):
    code = "invalid-window"
