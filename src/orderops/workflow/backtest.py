"""Backtest: replay a tenant's recorded window under a candidate policy, beside the live one.

The tenant's recorded inbox for the window (hot and archived rows, by the time the desk
received them) is replayed twice, each time into a scratch desk of its own
(``workflow/backtest_scratch.py``): once under the live policy (the *baseline*), once with
the candidate's sections stored over it. Each replay runs the worker's intake, pipeline
and sweeps on a clock that follows the recorded times (``workflow/backtest_replay.py``).
The two results are compared by a pure function (``workflow/backtest_report.py``) and the
report is stored in the live desk's ``backtest_runs`` with who ran it, the window, the
candidate file and its diff from the live policy, audited.

Nothing is written to the live desk but that row and its audit record: the scratch desks
have no vendor connections and no writeback worker, and each replay checks before it is
thrown away that none of its outbox rows was attempted (``NothingDelivered``).
"""

from __future__ import annotations

import heapq
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select

from orderops.bootstrap import App
from orderops.domain.errors import InvalidEvent, NotFound, OrderOpsError
from orderops.domain.scopes import AccessScope
from orderops.storage.tables import BacktestRun, InboxArchive, InboxEvent, WritebackAttempt
from orderops.storage.uow import UnitOfWork
from orderops.workflow.backtest_replay import Pace, Recorded, drive
from orderops.workflow.backtest_report import RunResult, collect, compare
from orderops.workflow.backtest_scratch import scratch_desk
from orderops.workflow.candidate_policy import (
    CandidatePolicy,
    live_policy,
    policy_diff,
    resolved,
)

MAX_WINDOW = timedelta(days=92)
PAGE = 2_000


class InvalidWindow(InvalidEvent):
    code = "invalid-window"


class NothingDelivered(OrderOpsError):
    """A scratch desk attempted a delivery: never expected, so the run is refused."""

    code = "backtest-delivered"


@dataclass(frozen=True)
class Outcome:
    run_id: str | None
    report: dict[str, Any]
    policy_diff: list[dict[str, Any]]
    baseline: RunResult
    candidate: RunResult


def check_window(start: datetime, end: datetime) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise InvalidWindow("the window's times must carry a time zone")
    if end <= start:
        raise InvalidWindow(f"the window ends before it starts ({start} .. {end})")
    if end - start > MAX_WINDOW:
        raise InvalidWindow(f"the window is longer than {MAX_WINDOW.days} days")


def run_backtest(
    live: App,
    *,
    tenant_id: str,
    start: datetime,
    end: datetime,
    candidate: CandidatePolicy,
    actor: str,
    pace: Pace = Pace(),
    store: bool = True,
) -> Outcome:
    """Replay the window twice and compare; store the report unless ``store`` is False."""
    check_window(start, end)
    began = time.perf_counter()
    with UnitOfWork(live.sessions, tenant_id=tenant_id, write=False) as uow:
        diff = policy_diff(live_policy(uow), resolved(uow, candidate))
    baseline, events = replay(live, tenant_id=tenant_id, start=start, end=end, pace=pace)
    proposed, _ = replay(
        live, tenant_id=tenant_id, start=start, end=end, pace=pace, candidate=candidate
    )
    report = compare(baseline, proposed) | {
        "window": {"from": start.isoformat(), "to": end.isoformat()},
        "events": events,
        "pace": {
            "sweep_minutes": pace.sweep_every / timedelta(minutes=1),
            "tick_minutes": pace.tick / timedelta(minutes=1),
            "recommendations_accepted": pace.accept_recommendations,
        },
        "policy_changes": len(diff),
        "seconds": round(time.perf_counter() - began, 2),
    }
    run_id = (
        store_run(
            live, tenant_id=tenant_id, actor=actor, candidate=candidate, diff=diff, report=report
        )
        if store
        else None
    )
    return Outcome(
        run_id=run_id, report=report, policy_diff=diff, baseline=baseline, candidate=proposed
    )


def replay(
    live: App,
    *,
    tenant_id: str,
    start: datetime,
    end: datetime,
    pace: Pace = Pace(),
    candidate: CandidatePolicy | None = None,
) -> tuple[RunResult, int]:
    """One replay into a fresh scratch desk; what it did and how many events it fed."""
    with scratch_desk(live, tenant_id=tenant_id, start=start, candidate=candidate) as (
        desk,
        clock,
        timeline,
    ):
        fed = drive(
            desk,
            tenant_id=tenant_id,
            recorded=recorded_events(live, tenant_id=tenant_id, start=start, end=end),
            clock=clock,
            until=end,
            pace=pace,
            timeline=timeline,
        )
        with UnitOfWork(desk.sessions, tenant_id=tenant_id, write=False) as uow:
            attempts = uow.session.scalar(
                select(func.count())
                .select_from(WritebackAttempt)
                .where(WritebackAttempt.tenant_id == tenant_id)
            )
            if attempts:
                raise NothingDelivered(f"a scratch desk made {attempts} delivery attempts")
            return collect(uow), fed


def recorded_events(
    live: App, *, tenant_id: str, start: datetime, end: datetime
) -> Iterator[Recorded]:
    """The tenant's stored events received in [start, end), hot and archived, in the order
    received (ties in replay order), read a page at a time."""
    merged = heapq.merge(
        _pages(live, InboxEvent, tenant_id, start, end),
        _pages(live, InboxArchive, tenant_id, start, end),
        key=lambda pair: pair[0],
    )
    return (recorded for _, recorded in merged)


def _pages(
    live: App, table: Any, tenant_id: str, start: datetime, end: datetime
) -> Iterator[tuple[tuple[Any, ...], Recorded]]:
    after: tuple[Any, ...] | None = None
    order = (table.received_at, table.event_time, table.source, table.event_id)
    while True:
        with UnitOfWork(live.sessions, tenant_id=tenant_id, write=False) as uow:
            query = select(*order, table.envelope).where(
                table.tenant_id == tenant_id, table.received_at >= start, table.received_at < end
            )
            if after is not None:
                query = query.where(_after(order, after))
            rows = uow.session.execute(query.order_by(*order).limit(PAGE)).all()
        for row in rows:
            key = tuple(row[:4])
            yield key, Recorded(envelope=row[4], received_at=row[0])
        if len(rows) < PAGE:
            return
        after = tuple(rows[-1][:4])


def _after(columns: tuple[Any, ...], key: tuple[Any, ...]) -> Any:
    """``columns > key`` in lexicographic order, spelled so both databases can use it."""
    clauses = []
    for index, column in enumerate(columns):
        equal = [columns[i] == key[i] for i in range(index)]
        clauses.append(and_(*equal, column > key[index]))
    return or_(*clauses)


def store_run(
    live: App,
    *,
    tenant_id: str,
    actor: str,
    candidate: CandidatePolicy,
    diff: list[dict[str, Any]],
    report: dict[str, Any],
) -> str:
    """Store one run's report as a ``backtest_runs`` row, audited; return its id."""
    now = live.clock.now()
    window = report["window"]
    with UnitOfWork(live.sessions, tenant_id=tenant_id) as uow:
        row = BacktestRun(
            tenant_id=tenant_id,
            created_by=actor,
            created_at=now,
            window_from=datetime.fromisoformat(window["from"]),
            window_to=datetime.fromisoformat(window["to"]),
            events=report["events"],
            changed_cases=report["changed_cases"],
            candidate_text=candidate.text,
            policy_diff=diff,
            report=report,
        )
        uow.session.add(row)
        uow.session.flush()
        audit_run(uow, run_id=row.id, actor=actor, at=now, diff=diff, report=report)
        uow.commit()
        return row.id


def audit_run(
    uow: UnitOfWork,
    *,
    run_id: str,
    actor: str,
    at: datetime,
    diff: list[dict[str, Any]],
    report: dict[str, Any],
    **extra: Any,
) -> None:
    """The ``backtest.run`` record of a finished run's report."""
    uow.audit.append(
        at=at,
        actor=actor,
        action="backtest.run",
        entity_type="backtest_run",
        entity_id=run_id,
        data={
            "window": report["window"],
            "events": report["events"],
            "policy_changes": [c["path"] for c in diff],
            "changed_cases": report["changed_cases"],
            **extra,
        },
    )


def require_whole_tenant(scope: AccessScope) -> None:
    """A report spans every order of the tenant: a caller limited to part of it is
    answered as if there were none."""
    if not scope.unrestricted:
        raise NotFound("backtests are for callers who see the whole tenant")


def get_run(uow: UnitOfWork, run_id: str) -> BacktestRun:
    """One stored run of this unit of work's tenant; another tenant's is not found."""
    row = uow.session.scalar(
        select(BacktestRun).where(BacktestRun.tenant_id == uow.tenant_id, BacktestRun.id == run_id)
    )
    if row is None:
        raise NotFound("no such backtest run")
    return row


def list_runs(uow: UnitOfWork, *, limit: int = 50) -> list[BacktestRun]:
    return list(
        uow.session.scalars(
            select(BacktestRun)
            .where(BacktestRun.tenant_id == uow.tenant_id)
            .order_by(BacktestRun.created_at.desc(), BacktestRun.id.desc())
            .limit(limit)
        )
    )
