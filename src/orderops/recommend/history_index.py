"""Each tenant's similar-case index, kept in the process and updated as cases change.

The index (``recommend.similar.SimilarCaseIndex``) is built once per process and tenant
from the window of resolved cases (``history.resolved_window`` + ``read_resolved``:
a few set-based queries per 500 cases), then kept up to date before every query by
asking only what changed:

- ``history.changed_since``: the cases stamped since the last look (``updated_at``, a
  range read of ``ix_cases_tenant_updated``, migration 0043), looked at again with an
  ``OVERLAP`` so that a transaction committing a little late is not missed. A case that
  resolved (or closed again) is read and joins; one that reopened leaves; one whose
  outcome changed is relabelled. Nothing is refitted.
- ``history.erasures_since``: an erasure recorded since the last look. The cases of the
  erased customer's orders, and of any order whose ticket subject erasure overwrote,
  leave the index at once and are read again from the scrubbed tables: the index forgets
  with the erasure, in every process, not at the next restart.
- every ``FULL_CHECK_SECONDS`` (and on ``refresh(full=True)``), the whole window once
  more, in one statement: a re-contact (a ticket opened after a case closed, which does
  not stamp the case) relabels its case then, and cases past ``limit`` leave.

So a query with nothing new costs two short statements; a resolution costs reading that
one case. What a case was like when it closed is read once and kept; a later change to
its order (a parcel delivered after the case closed) is not seen until it closes again.

Indexes are kept per database engine and tenant (and embedder); an engine that is
garbage collected takes its indexes with it.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine

from orderops.recommend.history import (
    HISTORY_LIMIT,
    Member,
    changed_since,
    erased_order_refs,
    erasures_since,
    last_change,
    read_resolved,
    resolved_window,
)
from orderops.recommend.settings import RecommendSettings
from orderops.recommend.similar import SimilarCaseIndex, make_embedder
from orderops.storage.uow import UnitOfWork

OVERLAP = timedelta(minutes=10)
"""How far back each look repeats the last one: a transaction stamped before the last
look but committed after it is still seen. Repeating costs only re-checking those rows."""
FULL_CHECK_SECONDS = 300.0


class KeptIndex:
    """One tenant's index and what it was built from; ``refresh`` brings it up to date."""

    def __init__(
        self,
        embedder: str = "tfidf",
        *,
        limit: int = HISTORY_LIMIT,
        full_check_seconds: float = FULL_CHECK_SECONDS,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.embedder_name = embedder
        self.limit = limit
        self.full_check_seconds = full_check_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._index: SimilarCaseIndex | None = None
        self._known: dict[str, Member] = {}
        """Resolved cases looked at, with the closing they were read at (a case with no
        approved action is known but not in the index)."""
        self._since: datetime | None = None
        self._erasures: set[str] = set()
        self._erasures_since: datetime | None = None
        self._checked_at = 0.0
        self.loads = 0
        """Whole-window reads: one per process and tenant, never one per case."""
        self.reads = 0
        """Cases read since the load (joined, closed again, or erased and read back)."""

    def refresh(self, uow: UnitOfWork, *, full: bool = False) -> SimilarCaseIndex:
        """The index as of ``uow``'s view of the database."""
        with self._lock:
            if self._index is None:
                return self._load(uow)
            if full or self._monotonic() - self._checked_at >= self.full_check_seconds:
                self._full_check(uow, self._index)
            else:
                self._delta(uow, self._index)
            self._forget_erased(uow, self._index)
            return self._index

    def _load(self, uow: UnitOfWork) -> SimilarCaseIndex:
        self._since = last_change(uow)
        erasures = erasures_since(uow, None)
        members = resolved_window(uow, limit=self.limit)
        read = read_resolved(uow, members)
        index = SimilarCaseIndex(
            [case for case in read.values() if case is not None],
            make_embedder(self.embedder_name),
        )
        self._known = {m.case_id: m for m in members}
        self._erasures = {e[0] for e in erasures}
        self._erasures_since = max((e[2] for e in erasures), default=None)
        self._checked_at = self._monotonic()
        self._index = index
        self.loads += 1
        return index

    def _delta(self, uow: UnitOfWork, index: SimilarCaseIndex) -> None:
        if self._since is None:
            since = last_change(uow)
            if since is None:
                return  # no case yet at all
            changes = changed_since(uow, since)
        else:
            changes = changed_since(uow, self._since - OVERLAP)
        self._apply(uow, index, changes.resolved, gone=changes.left)
        if changes.latest is not None and (self._since is None or changes.latest > self._since):
            self._since = changes.latest

    def _full_check(self, uow: UnitOfWork, index: SimilarCaseIndex) -> None:
        latest = last_change(uow)
        members = resolved_window(uow, limit=self.limit)
        window = {m.case_id for m in members}
        self._apply(uow, index, members, gone=[c for c in self._known if c not in window])
        if latest is not None:
            self._since = latest
        self._checked_at = self._monotonic()

    def _apply(
        self,
        uow: UnitOfWork,
        index: SimilarCaseIndex,
        members: Sequence[Member],
        *,
        gone: Sequence[str],
    ) -> None:
        for case_id in gone:
            if self._known.pop(case_id, None) is not None:
                index.remove([case_id])
        unseen: list[Member] = []
        for member in members:
            known = self._known.get(member.case_id)
            if known is None or known.closed_at != member.closed_at:
                unseen.append(member)
                continue
            self._known[member.case_id] = member
            index.relabel(member.case_id, reopened=member.reopened, recontacted=member.recontacted)
        self._read(uow, index, unseen)

    def _read(self, uow: UnitOfWork, index: SimilarCaseIndex, members: Sequence[Member]) -> None:
        if not members:
            return
        read = read_resolved(uow, members)
        index.remove([case_id for case_id, case in read.items() if case is None])
        index.add([case for case in read.values() if case is not None])
        for member in members:
            self._known[member.case_id] = member
        self.reads += len(members)

    def _forget_erased(self, uow: UnitOfWork, index: SimilarCaseIndex) -> None:
        since = None if self._erasures_since is None else self._erasures_since - OVERLAP
        new = [e for e in erasures_since(uow, since) if e[0] not in self._erasures]
        if not new:
            return
        refs = erased_order_refs(uow, sorted({c for _, c, _ in new if c}))
        affected = [m for m in self._known.values() if m.order_ref in refs]
        index.remove([m.case_id for m in affected])
        self._read(uow, index, affected)
        self._erasures.update(e[0] for e in new)
        latest = max(e[2] for e in new)
        if self._erasures_since is None or latest > self._erasures_since:
            self._erasures_since = latest


_kept: weakref.WeakKeyDictionary[Engine, dict[tuple[str, str], KeptIndex]] = (
    weakref.WeakKeyDictionary()
)
_kept_lock = threading.Lock()


def kept_index(uow: UnitOfWork, embedder: str = "tfidf") -> KeptIndex:
    """The process's kept index for ``uow``'s database and tenant (made empty the first time)."""
    bind = uow.session.get_bind()
    engine = bind.engine if isinstance(bind, Connection) else bind
    with _kept_lock:
        per_engine = _kept.setdefault(engine, {})
        key = (uow.tenant_id, embedder)
        if key not in per_engine:
            per_engine[key] = KeptIndex(embedder)
        return per_engine[key]


def similar_cases(uow: UnitOfWork, settings: RecommendSettings | None = None) -> SimilarCaseIndex:
    """The tenant's similar-case index, up to date as ``uow`` sees the database."""
    settings = settings or RecommendSettings()
    return kept_index(uow, settings.embedder).refresh(uow)
