"""Retention: old processed events leave the hot tables, and nothing is lost.

Every event is read from ``inbox`` while it matters; a year of history there would slow
today's work. So, per tenant, rows past the tenant's window (``tenants.retention_days``,
90 days unless set) move to ``inbox_archive`` and ``webhook_deliveries_archive``, in
batches, each one transaction that copies the rows and deletes them (a crash leaves
either both or neither). A row moves only when nothing still needs it hot:

- it is ``processed`` (pending, deferred and failed rows are work, or may become work
  again) and was processed before the window;
- no dead letter names it (a replay resets that row), no fraud signal came from it (a
  relink finds a signal through its event), no alias wait or open link suggestion holds
  it;
- it is older than the last ``lookback_days`` of its source's events: the silence
  detector judges each source against its own habit over that lookback, and half of it
  archived would look like a source falling quiet.

A webhook delivery moves when it is finished (accepted, ignored or rejected), finished
before the window, its dead letter (if any) is no longer open, and no inbox row that
came from it is still hot. The inbox keeps no delivery id, but the intake stamps a
delivery's events while the request runs, between the delivery's ``received_at`` and
``completed_at`` from the same clock: a delivery whose span holds no hot inbox row has no
events left hot.

Records that outlive the hot row (timeline entries, record links, aliases, refunds,
tracking events) keep its id; ``InboxRepository.get_any`` reads it in either table.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    ColumnElement,
    and_,
    delete,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.cases import ExceptionType
from orderops.domain.clock import Clock
from orderops.domain.errors import InvalidEvent, NotFound
from orderops.evidence.store import FileBlobStore
from orderops.ingest.webhooks import DeliveryStatus
from orderops.resolve.suggestions import SuggestionStatus
from orderops.resolve.waits import DEFERRED
from orderops.storage import idempotency_keys
from orderops.storage.base import UtcDateTime
from orderops.storage.repositories.intake import DeadLetterStatus, InboxStatus
from orderops.storage.tables import (
    AliasWait,
    DeadLetter,
    FraudSignal,
    InboxArchive,
    InboxEvent,
    LinkSuggestion,
    Tenant,
    WebhookDelivery,
    WebhookDeliveryArchive,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow.detection import detector_config
from orderops.workflow.retention_windows import ExpiryReport, expire_content

DEFAULT_BATCH = 1000
MIN_RETENTION_DAYS = 7
"""Providers retry a delivery for a few days at most (Shopify 48 hours, Stripe 3 days);
within a week a retry still finds its delivery and its events hot."""
MAX_RETENTION_DAYS = 3660
RETENTION_INTERVAL = timedelta(hours=1)
"""How often a worker runs retention: more often would only find nothing to move."""

HOT_STATUSES = (InboxStatus.PENDING, DEFERRED, InboxStatus.FAILED, InboxStatus.PROCESSED)
"""Every status an inbox row has; spelled out so the status index answers range queries."""
FINISHED_DELIVERIES = (DeliveryStatus.ACCEPTED, DeliveryStatus.IGNORED, DeliveryStatus.REJECTED)
"""A ``received`` delivery is still in flight (or will be mapped again by a retry)."""
ARCHIVE_OF: dict[Any, Any] = {InboxEvent: InboxArchive, WebhookDelivery: WebhookDeliveryArchive}


@dataclass(frozen=True)
class RetentionReport:
    tenant_id: str
    window_days: int
    cutoff: datetime
    """Rows processed (deliveries finished) before this may move."""
    dry_run: bool
    inbox_moved: int
    """Rows moved, or that would move on a dry run."""
    deliveries_moved: int
    inbox_kept_past_window: int
    """Hot rows received before the cutoff that stay: unprocessed, still needed, or (on
    a run cut short by ``max_batches``) not reached yet."""
    oldest_inbox_kept: datetime | None
    """``received_at`` of the oldest inbox row that stays hot."""
    oldest_delivery_kept: datetime | None
    expired: ExpiryReport | None = None
    """What the content windows removed (``workflow/retention_windows.py``)."""


@dataclass(frozen=True)
class _Rule:
    """Which rows of one tenant may leave the hot tables, as of one moment."""

    tenant_id: str
    cutoff: datetime
    floors: dict[str, datetime]
    """Per source: rows whose event is this recent or newer stay (the silence lookback)."""

    def inbox_movable(self) -> ColumnElement[bool]:
        row = InboxEvent
        per_source = [
            and_(row.source == source, row.event_time < floor)
            for source, floor in sorted(self.floors.items())
        ]
        return and_(
            row.tenant_id == self.tenant_id,
            row.status == InboxStatus.PROCESSED,
            row.processed_at < self.cutoff,
            # Implied by the line above (a row is received before it is processed), and
            # what lets the (tenant, status, received_at) index find the rows.
            row.received_at < self.cutoff,
            or_(*per_source) if per_source else false(),
            ~exists().where(
                DeadLetter.tenant_id == self.tenant_id,
                or_(DeadLetter.inbox_id == row.id, DeadLetter.replay_inbox_id == row.id),
            ),
            ~exists().where(
                FraudSignal.tenant_id == self.tenant_id, FraudSignal.inbox_id == row.id
            ),
            ~exists().where(AliasWait.tenant_id == self.tenant_id, AliasWait.inbox_id == row.id),
            ~exists().where(
                LinkSuggestion.tenant_id == self.tenant_id,
                LinkSuggestion.inbox_id == row.id,
                LinkSuggestion.status == SuggestionStatus.OPEN,
            ),
        )

    def delivery_movable(self, status: str, *, dry_run: bool = False) -> ColumnElement[bool]:
        """A dry run counts the inbox rows that would move as gone already; a real run
        moves a delivery only once its rows really left."""
        delivery, row = WebhookDelivery, InboxEvent
        hot_from_it = [
            row.tenant_id == self.tenant_id,
            row.status.in_(HOT_STATUSES),
            row.received_at >= delivery.received_at,
            row.received_at <= delivery.completed_at,
        ]
        if dry_run:
            hot_from_it.append(~self.inbox_movable())
        return and_(
            delivery.tenant_id == self.tenant_id,
            delivery.status == status,
            delivery.received_at < self.cutoff,
            delivery.completed_at < self.cutoff,
            ~exists().where(
                DeadLetter.tenant_id == self.tenant_id,
                DeadLetter.id == delivery.dead_letter_id,
                DeadLetter.status == DeadLetterStatus.OPEN,
            ),
            ~exists().where(*hot_from_it),
        )

    def kept(self, *, dry_run: bool) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """The inbox rows and the deliveries that stay hot (after a run, all that are
        left; on a dry run, those that would be left)."""
        inbox: ColumnElement[bool] = InboxEvent.tenant_id == self.tenant_id
        deliveries: ColumnElement[bool] = WebhookDelivery.tenant_id == self.tenant_id
        if not dry_run:
            return inbox, deliveries
        return and_(inbox, ~self.inbox_movable()), and_(
            deliveries,
            *(~self.delivery_movable(status, dry_run=True) for status in FINISHED_DELIVERIES),
        )


@dataclass(frozen=True)
class _Pace:
    now: datetime
    """The ``archived_at`` of every row of the run."""
    batch: int
    max_batches: int | None


def run_retention(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    clock: Clock,
    batch: int = DEFAULT_BATCH,
    dry_run: bool = False,
    max_batches: int | None = None,
    evidence: FileBlobStore | None = None,
) -> RetentionReport:
    """Move one tenant's rows past its window to the archive tables (``dry_run``: count
    them and change nothing). ``max_batches`` bounds the transactions per table, so a
    worker pass meeting a year of history does a share of it each time. Then enforce the
    tenant's content windows (archive, raw bodies, messages; evidence when its store is
    given)."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        window = retention_window(uow)
        rule = _Rule(tenant_id, now - timedelta(days=window), _source_floors(uow))
        if dry_run:
            inbox_moved = _count(uow.session, InboxEvent, rule.inbox_movable())
            deliveries_moved = sum(
                _count(uow.session, WebhookDelivery, rule.delivery_movable(status, dry_run=True))
                for status in FINISHED_DELIVERIES
            )
    if not dry_run:
        pace = _Pace(now=now, batch=batch, max_batches=max_batches)
        inbox_moved = _move(sessions, rule, InboxEvent, rule.inbox_movable(), pace)
        deliveries_moved = sum(
            _move(sessions, rule, WebhookDelivery, rule.delivery_movable(status), pace)
            for status in FINISHED_DELIVERIES
        )
    expired = expire_content(
        sessions, tenant_id=tenant_id, clock=clock, evidence=evidence, dry_run=dry_run
    )
    if not dry_run:  # answers kept for idempotent retries live a day (api/idempotency.py)
        idempotency_keys.purge_expired(sessions, tenant_id=tenant_id, now=now)
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        inbox_kept, deliveries_kept = rule.kept(dry_run=dry_run)
        return RetentionReport(
            tenant_id=tenant_id,
            window_days=window,
            cutoff=rule.cutoff,
            dry_run=dry_run,
            inbox_moved=inbox_moved,
            deliveries_moved=deliveries_moved,
            inbox_kept_past_window=_count(
                uow.session,
                InboxEvent,
                and_(
                    inbox_kept,
                    InboxEvent.status.in_(HOT_STATUSES),
                    InboxEvent.received_at < rule.cutoff,
                ),
            ),
            oldest_inbox_kept=_oldest(uow.session, InboxEvent, HOT_STATUSES, inbox_kept),
            oldest_delivery_kept=_oldest(
                uow.session, WebhookDelivery, tuple(DeliveryStatus), deliveries_kept
            ),
            expired=expired,
        )


def retention_window(uow: UnitOfWork) -> int:
    """The tenant's window in days."""
    tenant = uow.session.get(Tenant, uow.tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {uow.tenant_id}")
    return tenant.retention_days


def set_retention_window(
    sessions: sessionmaker[Session], *, tenant_id: str, days: int, actor: str, clock: Clock
) -> int:
    """Set the tenant's window (audited); the previous window in days.

    A shorter window takes effect on the next run; a longer one moves nothing back (the
    archive stays readable)."""
    if not MIN_RETENTION_DAYS <= days <= MAX_RETENTION_DAYS:
        raise InvalidEvent(
            f"a retention window is {MIN_RETENTION_DAYS} to {MAX_RETENTION_DAYS} days, not {days}"
        )
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        previous = retention_window(uow)
        tenant = uow.session.get(Tenant, tenant_id)
        assert tenant is not None
        tenant.retention_days = days
        uow.audit.append(
            at=clock.now(),
            actor=actor,
            action="tenant.retention_window_set",
            entity_type="tenant",
            entity_id=tenant_id,
            data={"days": days, "previous_days": previous},
        )
        uow.commit()
    return previous


def retention_due(last_run: datetime | None, *, now: datetime) -> bool:
    """Whether a worker that last ran retention at ``last_run`` should run it again."""
    return last_run is None or now - last_run >= RETENTION_INTERVAL


def _source_floors(uow: UnitOfWork) -> dict[str, datetime]:
    """Per source, the start of the lookback the silence detector reads (ending at the
    source's newest event, as ``workflow/sweeps.source_activity`` reads it)."""
    silence = ExceptionType.INTEGRATION_SILENCE
    thresholds = detector_config(uow).thresholds(silence)
    lookback = timedelta(days=thresholds["lookback_days"])
    newest = uow.session.execute(
        select(InboxEvent.source, func.max(InboxEvent.event_time))
        .where(InboxEvent.tenant_id == uow.tenant_id)
        .group_by(InboxEvent.source)
    )
    return {source: last - lookback for source, last in newest}


def _count(session: Session, table: Any, where: ColumnElement[bool]) -> int:
    return int(session.scalar(select(func.count()).select_from(table).where(where)) or 0)


def _oldest(
    session: Session, table: Any, statuses: Sequence[str], where: ColumnElement[bool]
) -> datetime | None:
    """The oldest ``received_at`` among ``where``, one status at a time: each is the first
    entry of a (tenant, status, received_at) index range, where one query over every
    status would read the tenant's whole hot table, every hour."""
    found = [
        session.scalar(select(func.min(table.received_at)).where(where, table.status == status))
        for status in statuses
    ]
    return min((at for at in found if at is not None), default=None)


def _move(
    sessions: sessionmaker[Session],
    rule: _Rule,
    hot: Any,
    movable: ColumnElement[bool],
    pace: _Pace,
) -> int:
    """Move batches of ``movable`` rows, oldest first, until none is left; how many moved.

    Each batch starts after the last row of the one before, rather than at the oldest
    row left: the rows just deleted stay in the index until vacuum, and walking past them
    again on every batch would make the first run over a year of history quadratic.
    """
    moved = batches = 0
    after: tuple[datetime, str] | None = None
    while pace.max_batches is None or batches < pace.max_batches:
        query = select(hot.id, hot.received_at).where(movable)
        if after is not None:
            last_at, last_id = after
            query = query.where(
                hot.received_at >= last_at,
                or_(hot.received_at > last_at, hot.id > last_id),
            )
        with UnitOfWork(sessions, tenant_id=rule.tenant_id) as uow:
            # Locked until the commit; PostgreSQL skips rows another transaction holds
            # (the next run takes them; SQLite has one writer already).
            rows = uow.session.execute(
                query.order_by(hot.received_at, hot.id)
                .limit(pace.batch)
                .with_for_update(of=hot, skip_locked=True)
            ).all()
            if not rows:
                break
            ids = [row_id for row_id, _ in rows]
            _copy_and_delete(uow.session, hot, rule.tenant_id, ids, now=pace.now)
            uow.commit()
        after = (rows[-1][1], rows[-1][0])
        moved += len(ids)
        batches += 1
    return moved


def _copy_and_delete(
    session: Session, hot: Any, tenant_id: str, ids: Sequence[str], *, now: datetime
) -> None:
    """Copy ``ids`` column for column into the archive, stamped ``now``, then delete them;
    both in the caller's transaction, so the rows are in exactly one table at any time."""
    columns = [column.name for column in hot.__table__.columns]
    chosen = and_(hot.tenant_id == tenant_id, hot.id.in_(list(ids)))
    rows = select(
        *(hot.__table__.c[name] for name in columns),
        literal(now, UtcDateTime()).label("archived_at"),
    ).where(chosen)
    session.execute(insert(ARCHIVE_OF[hot]).from_select([*columns, "archived_at"], rows))
    result = session.execute(delete(hot).where(chosen).execution_options(synchronize_session=False))
    deleted = int(result.rowcount)  # type: ignore[attr-defined]
    if deleted != len(ids):
        raise RuntimeError(
            f"retention copied {len(ids)} {hot.__tablename__} rows but deleted {deleted}"
        )
