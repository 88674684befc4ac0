"""Each tenant's similar-case index, kept in the process and brought up to date, not rebuilt.

Rebuilding the index for every recommendation read every past case again (a dozen queries
each, up to 2,000 cases) and refitted TF-IDF each time. A ``KeptIndex`` instead:

- asks once per refresh which cases are in the window (``history.resolved_window``: one
  statement) - this is also how it notices a reopened case leaving and a re-contact;
- reads only the cases it has not seen, or that closed again since (``read_resolved``:
  a few set-based queries), and forgets those that left the window, so it never holds
  more than ``HISTORY_LIMIT`` cases;
- refits the embedder only when the set of texts changed; when only outcomes changed
  it relabels the index it has.

What a case was like when it closed is read once and kept; a later change to its order
(a parcel delivered after the case closed) is not seen until the case closes again.

Indexes are kept per database engine and tenant (and embedder); an engine that is
garbage collected takes its indexes with it. The worker's pass shares one refresh across
all its cases; a single recommendation (API, console, CLI) refreshes before it answers.
"""

from __future__ import annotations

import threading
import weakref
from dataclasses import replace
from datetime import datetime

from sqlalchemy import Connection, Engine

from orderops.recommend.history import HISTORY_LIMIT, read_resolved, resolved_window
from orderops.recommend.settings import RecommendSettings
from orderops.recommend.similar import (
    ResolvedCase,
    SimilarCaseIndex,
    TextEmbedder,
    make_embedder,
)
from orderops.storage.uow import UnitOfWork


class KeptIndex:
    """One tenant's index and what it was built from; ``refresh`` brings it up to date."""

    def __init__(self, embedder: str = "tfidf", *, limit: int = HISTORY_LIMIT) -> None:
        self.embedder_name = embedder
        self.limit = limit
        self._lock = threading.Lock()
        self._embedder: TextEmbedder | None = None
        self._known: dict[str, tuple[datetime, ResolvedCase | None]] = {}
        """Case id -> (the closed_at it was read at, the case; None: no approved action)."""
        self._index: SimilarCaseIndex | None = None
        self.refits = 0
        """How many times the embedder was fitted: once per change of texts, never per case."""

    def refresh(self, uow: UnitOfWork) -> SimilarCaseIndex:
        """The index as of ``uow``'s view of the database; built again only if texts changed."""
        members = resolved_window(uow, limit=self.limit)
        with self._lock:
            unseen = [m for m in members if self._seen_at(m.case_id) != m.closed_at]
            if unseen:
                read = read_resolved(uow, unseen)
                for member in unseen:
                    self._known[member.case_id] = (member.closed_at, read[member.case_id])
            in_window = {m.case_id for m in members}
            gone = [case_id for case_id in self._known if case_id not in in_window]
            for case_id in gone:
                del self._known[case_id]
            changed = bool(unseen or gone)
            cases: list[ResolvedCase] = []
            for member in members:
                kept = self._known[member.case_id][1]
                if kept is None:
                    continue
                if (kept.reopened, kept.recontacted) != (member.reopened, member.recontacted):
                    kept = replace(kept, reopened=member.reopened, recontacted=member.recontacted)
                    self._known[member.case_id] = (member.closed_at, kept)
                    changed = True
                cases.append(kept)
            if self._index is None or changed:
                self._index = self._rebuilt(self._index, cases)
            return self._index

    def _seen_at(self, case_id: str) -> datetime | None:
        known = self._known.get(case_id)
        return known[0] if known else None

    def _rebuilt(
        self, current: SimilarCaseIndex | None, cases: list[ResolvedCase]
    ) -> SimilarCaseIndex:
        texts = [(c.case_id, c.summary) for c in cases]
        if current is not None and [(c.case_id, c.summary) for c in current.cases] == texts:
            return current.relabelled(cases)
        if self._embedder is None:
            self._embedder = make_embedder(self.embedder_name)
        self.refits += 1
        return SimilarCaseIndex(cases, self._embedder.blank())


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
