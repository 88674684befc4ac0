"""Backtests requested over the API or the console: queued, then run by a worker.

A replay takes seconds to minutes, so a request never runs one: ``request_run`` checks the
window and the candidate as strictly as the CLI does, stores a ``backtest_runs`` row
``queued`` (audited ``backtest.requested``) and answers its id. The worker's backtest loop
(``workflow/worker.py``) calls ``run_next``: it claims the oldest queued run of a tenant
and runs it with ``workflow/backtest.run_backtest`` (the CLI's code, default pace), then
writes the report (``done``, audited ``backtest.run``) or the reason it failed
(``failed``) on the same row, which ``GET /v1/backtests/{id}`` shows.

The claim is the outbox's (``writeback/claims.py``): the row is selected ``FOR UPDATE SKIP
LOCKED`` on PostgreSQL (on SQLite the claiming transaction begins IMMEDIATE, so claimers
take turns) and leased to the worker (``running``, ``leased_by``, ``leased_until``) in a
short transaction of its own, so two workers never run the same run. While it runs, the
worker renews the lease every ``RENEW_EVERY``; a run whose worker stopped (its lease ran
out) is claimed again, at most ``MAX_ATTEMPTS`` times in all, then failed with that reason.
Only the worker holding the lease may finish a run. Leases are kept in real seconds
(``App.wall_clock``): the demo runs business time 1,800 times faster, where a ten-minute
lease on it ran out a third of a second into a replay renewed once a minute.

A request names its pace as ``orderops backtest`` does (minutes between sweeps, 5 to
1,440, a whole number of ticks; minutes of events fed together, 1 to 1,440), stored on
the row: 60 and 5 unless it says otherwise.

The window of a request: ``from`` before ``to``, at most ``MAX_WINDOW`` (92 days, the
CLI's limit), and not in the future (``to`` at most now: a replay of events not yet
received would report on a part of the window only).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.bootstrap import App
from orderops.domain.clock import Clock
from orderops.domain.errors import InvalidEvent, OrderOpsError
from orderops.domain.policy import InvalidPolicy
from orderops.storage.tables import BacktestRun
from orderops.storage.uow import UnitOfWork, tenant_ids
from orderops.workflow.backtest import InvalidWindow, audit_run, check_window, run_backtest
from orderops.workflow.backtest_replay import Pace
from orderops.workflow.candidate_policy import parse_candidate

log = logging.getLogger(__name__)

LEASE = timedelta(minutes=10)
RENEW_EVERY = 60.0
"""Seconds between lease renewals while a run replays."""
MAX_ATTEMPTS = 3
WORKER_ACTOR = "backtest-worker"
FAILURE_LENGTH = 2_000
DEFAULT_PACE = Pace()
DEFAULT_SWEEP_MINUTES = DEFAULT_PACE.sweep_every // timedelta(minutes=1)
DEFAULT_TICK_MINUTES = DEFAULT_PACE.tick // timedelta(minutes=1)
SWEEP_MINUTES = (5, 1440)
"""Bounds of a pace, here and over the API (``orderops backtest`` writes the same numbers
itself: importing this module would slow every command's start): minutes between sweeps
and (below) minutes of events fed together."""
TICK_MINUTES = (1, 1440)


class RunStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class ClaimedRun:
    id: str
    tenant_id: str
    worker_id: str
    window_from: datetime
    window_to: datetime
    candidate_text: str
    requested_by: str
    pace: Pace


def moment(text: str, name: str) -> datetime:
    """A window bound as a form gives it: an ISO date (midnight UTC) or time (UTC unless
    it names a zone), as ``orderops backtest`` reads ``--from`` and ``--to``."""
    text = text.strip()
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        found = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidWindow(f"{name}: not an ISO date or time: {text[:40]!r}") from exc
    return found if found.tzinfo is not None else found.replace(tzinfo=UTC)


class InvalidPace(InvalidEvent):
    code = "invalid-pace"


def pace_from(sweep_minutes: str, tick_minutes: str) -> Pace:
    """The pace a form gives (a blank field: the default), held to the CLI's bounds."""
    try:
        sweep = int(sweep_minutes.strip() or DEFAULT_SWEEP_MINUTES)
        tick = int(tick_minutes.strip() or DEFAULT_TICK_MINUTES)
    except ValueError as exc:
        raise InvalidPace("the pace is whole minutes") from exc
    if not (
        SWEEP_MINUTES[0] <= sweep <= SWEEP_MINUTES[1] and TICK_MINUTES[0] <= tick <= TICK_MINUTES[1]
    ):
        raise InvalidPace(
            f"sweeps every {SWEEP_MINUTES[0]} to {SWEEP_MINUTES[1]} minutes, "
            f"ticks of {TICK_MINUTES[0]} to {TICK_MINUTES[1]} minutes"
        )
    try:
        return Pace(sweep_every=timedelta(minutes=sweep), tick=timedelta(minutes=tick))
    except ValueError as exc:
        raise InvalidPace(str(exc)) from exc


def check_requested_window(start: datetime, end: datetime, *, now: datetime) -> None:
    """``InvalidWindow`` unless the window is one the worker can replay in full."""
    check_window(start, end)
    if end > now:
        raise InvalidWindow(
            f"the window ends in the future ({end.isoformat()}; now {now.isoformat()}): "
            "only recorded events can be replayed"
        )


def request_run(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    start: datetime,
    end: datetime,
    candidate_text: str,
    actor: str,
    clock: Clock,
    pace: Pace = DEFAULT_PACE,
) -> str:
    """Queue a run replayed at ``pace`` and answer its id; ``InvalidWindow`` or
    ``InvalidPolicy`` (naming each problem) first, storing nothing."""
    now = clock.now()
    check_requested_window(start, end, now=now)
    if "\x00" in candidate_text:
        raise InvalidPolicy(["(root): holds a NUL character"])
    parse_candidate(candidate_text)
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = BacktestRun(
            tenant_id=tenant_id,
            created_by=actor,
            created_at=now,
            window_from=start,
            window_to=end,
            events=0,
            changed_cases=0,
            candidate_text=candidate_text,
            policy_diff=[],
            report={},
            status=str(RunStatus.QUEUED),
            attempts=0,
            sweep_minutes=pace.sweep_every // timedelta(minutes=1),
            tick_minutes=pace.tick // timedelta(minutes=1),
        )
        uow.session.add(row)
        uow.session.flush()
        uow.audit.append(
            at=now,
            actor=actor,
            action="backtest.requested",
            entity_type="backtest_run",
            entity_id=row.id,
            data={"window": {"from": start.isoformat(), "to": end.isoformat()}},
        )
        run_id = row.id
        uow.commit()
        return run_id


def run_next(app: App, *, worker_id: str) -> str | None:
    """Claim one queued run (the first tenant with one, oldest first) and run it to its
    end; the run's id, or None when nothing waits."""
    for tenant in tenant_ids(app.sessions):
        if not _waiting(app.sessions, tenant_id=tenant, now=app.wall_clock.now()):
            continue  # a read, so an idle desk takes no write lock (SQLite) to look
        claimed = claim_next(
            app.sessions,
            tenant_id=tenant,
            worker_id=worker_id,
            clock=app.clock,
            wall_clock=app.wall_clock,
        )
        if claimed is not None:
            run_claimed(app, claimed)
            return claimed.id
    return None


def _claimable(now: datetime) -> ColumnElement[bool]:
    return or_(
        BacktestRun.status == str(RunStatus.QUEUED),
        and_(BacktestRun.status == str(RunStatus.RUNNING), BacktestRun.leased_until <= now),
    )


def _waiting(sessions: sessionmaker[Session], *, tenant_id: str, now: datetime) -> bool:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        found = uow.session.scalar(
            select(BacktestRun.id)
            .where(BacktestRun.tenant_id == tenant_id, _claimable(now))
            .limit(1)
        )
    return found is not None


def claim_next(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    worker_id: str,
    clock: Clock,
    wall_clock: Clock | None = None,
) -> ClaimedRun | None:
    """Lease the tenant's oldest claimable run to ``worker_id``, in a transaction of its
    own; runs whose worker stopped too often are failed on the way. The lease runs on
    ``wall_clock`` (``clock`` when not given), the run's start and end on ``clock``."""
    now = clock.now()
    real_now = (wall_clock or clock).now()
    claimable = _claimable(real_now)
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        while True:
            row = uow.session.scalar(
                select(BacktestRun)
                .where(BacktestRun.tenant_id == tenant_id, claimable)
                .order_by(BacktestRun.created_at, BacktestRun.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if row is None:
                uow.commit()
                return None
            if row.attempts < MAX_ATTEMPTS:
                break
            _fail(
                uow,
                row,
                f"the worker running it stopped {row.attempts} times before it finished",
                now,
            )
        row.status = str(RunStatus.RUNNING)
        row.attempts += 1
        row.leased_by = worker_id
        row.leased_until = real_now + LEASE
        row.started_at = now
        claimed = ClaimedRun(
            id=row.id,
            tenant_id=tenant_id,
            worker_id=worker_id,
            window_from=row.window_from,
            window_to=row.window_to,
            candidate_text=row.candidate_text,
            requested_by=row.created_by,
            pace=Pace(
                sweep_every=timedelta(minutes=row.sweep_minutes),
                tick=timedelta(minutes=row.tick_minutes),
            ),
        )
        uow.commit()
        return claimed


def run_claimed(app: App, claimed: ClaimedRun) -> None:
    """Replay a claimed run with the CLI's code and write its end on the row."""
    try:
        with _renewing(app, claimed):
            outcome = run_backtest(
                app,
                tenant_id=claimed.tenant_id,
                start=claimed.window_from,
                end=claimed.window_to,
                candidate=parse_candidate(claimed.candidate_text),
                actor=claimed.requested_by,
                store=False,
                pace=claimed.pace,
            )
    except OrderOpsError as exc:
        _finish_failed(app, claimed, f"{exc.code}: {exc.message}")
        return
    except Exception as exc:
        log.exception("backtest %s of %s failed", claimed.id, claimed.tenant_id)
        _finish_failed(app, claimed, f"internal error ({type(exc).__name__}); see the logs")
        return
    now = app.clock.now()
    with UnitOfWork(app.sessions, tenant_id=claimed.tenant_id) as uow:
        row = _held(uow, claimed)
        if row is None:
            return
        row.status = str(RunStatus.DONE)
        row.events = outcome.report["events"]
        row.changed_cases = outcome.report["changed_cases"]
        row.policy_diff = outcome.policy_diff
        row.report = outcome.report
        row.finished_at = now
        row.leased_until = None
        audit_run(
            uow,
            run_id=row.id,
            actor=WORKER_ACTOR,
            at=now,
            diff=outcome.policy_diff,
            report=outcome.report,
            requested_by=claimed.requested_by,
        )
        uow.commit()


def _held(uow: UnitOfWork, claimed: ClaimedRun) -> BacktestRun | None:
    """The run, if this worker still holds its lease (else another worker took it over)."""
    row = uow.session.scalar(
        select(BacktestRun)
        .where(
            BacktestRun.tenant_id == claimed.tenant_id,
            BacktestRun.id == claimed.id,
            BacktestRun.status == str(RunStatus.RUNNING),
            BacktestRun.leased_by == claimed.worker_id,
        )
        .with_for_update()
    )
    if row is None:
        log.warning("backtest %s: the lease was lost; its end is not written", claimed.id)
    return row


def _finish_failed(app: App, claimed: ClaimedRun, reason: str) -> None:
    with UnitOfWork(app.sessions, tenant_id=claimed.tenant_id) as uow:
        row = _held(uow, claimed)
        if row is not None:
            _fail(uow, row, reason, app.clock.now())
        uow.commit()


def _fail(uow: UnitOfWork, row: BacktestRun, reason: str, now: datetime) -> None:
    row.status = str(RunStatus.FAILED)
    row.failure = reason[:FAILURE_LENGTH]
    row.finished_at = now
    row.leased_until = None
    uow.audit.append(
        at=now,
        actor=WORKER_ACTOR,
        action="backtest.failed",
        entity_type="backtest_run",
        entity_id=row.id,
        data={"reason": row.failure, "attempts": row.attempts},
    )


@contextmanager
def _renewing(app: App, claimed: ClaimedRun) -> Iterator[None]:
    """Keep the lease while the body runs: renewed every ``RENEW_EVERY`` seconds."""
    stop = threading.Event()

    def renew() -> None:
        while not stop.wait(RENEW_EVERY):
            try:
                with UnitOfWork(app.sessions, tenant_id=claimed.tenant_id) as uow:
                    uow.session.execute(
                        update(BacktestRun)
                        .where(
                            BacktestRun.tenant_id == claimed.tenant_id,
                            BacktestRun.id == claimed.id,
                            BacktestRun.leased_by == claimed.worker_id,
                            BacktestRun.status == str(RunStatus.RUNNING),
                        )
                        .values(leased_until=app.wall_clock.now() + LEASE)
                        .execution_options(synchronize_session=False)
                    )
                    uow.commit()
            except Exception:
                log.exception("backtest %s: the lease could not be renewed", claimed.id)

    thread = threading.Thread(target=renew, name=f"orderops-backtest-{claimed.id}", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
