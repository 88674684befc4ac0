"""Rows a processing chunk already holds, so a repeated read is answered without a query.

The inbox is processed in chunks, one transaction each (workflow/pipeline.py), and the
events of a chunk keep asking about the same few orders: the order by its ref, its
payments, its parcels, its cases, the stock of its SKUs, the policy in force. Most of
those answers are already in the session. ``LoadedRows`` keeps a strong reference to
every row of the tables below that enters the session (loaded by any query, or added)
and remembers each question a query answered in full ("every payment of order 1001")
with the rows that answered it. Asked again, the answer is those rows and the rows
written since, as they are now: what the query would return after its autoflush,
without the round trip.

Why it never serves stale state:

* only this session writes the tenant's commerce state during a chunk (the pipeline
  holds the tenant's processing lock; relinks and sweeps take it too), and it writes
  through the ORM: a row that comes to match a question after it was asked is a row
  written since, which every flush notes (by the values the question names) and which,
  until then, is in the session's new or changed rows; each candidate is checked
  against the question on its current attributes, so an event's writes are what the
  next event reads;
* a question never asked is asked with a query, as before;
* a rollback (an event's savepoint, or a race the caller caught) forgets every answer,
  because the database went back and rows added since were thrown away: the registry is
  rebuilt from what the session still holds and questions are asked again;
* rows added but not flushed yet are flushed before an answer that involves their
  table, as a query's autoflush would have done (defaults filled in, constraints
  checked inside the event that wrote them).

Rows already loaded are never refreshed by a later query either (the identity map keeps
the first copy), so holding them for the chunk changes nothing a chunk could see.
Nothing outside a chunk uses this: without ``remember_rows`` every read is a query.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from itertools import chain, combinations
from typing import Any, TypeVar

from sqlalchemy import event
from sqlalchemy.orm import Session

from orderops.storage.tables import (
    Case,
    Customer,
    CustomerIdentity,
    FraudSignal,
    InventoryPosition,
    LinkSuggestion,
    Order,
    OrderRefund,
    Payment,
    RecordLink,
    Shipment,
    SupportTicket,
)
from orderops.storage.tables.resolve import FulfillmentHold

T = TypeVar("T")

NATURAL_KEYS: Mapping[type[Any], tuple[str, ...]] = {
    Order: ("order_ref",),
    Payment: ("provider", "payment_ref"),
    Shipment: ("carrier", "tracking_number"),
    SupportTicket: ("source", "ticket_ref"),
    InventoryPosition: ("sku", "location"),
    CustomerIdentity: ("source", "external_ref"),
    Customer: (),
    FraudSignal: (),
    OrderRefund: ("source", "refund_ref"),
    FulfillmentHold: ("source", "fulfillment_order_ref"),
    Case: (),
    RecordLink: (),
    LinkSuggestion: ("record_type", "record_ref"),
}
"""The tables whose rows are kept, each with its unique key within a tenant (if any),
for answering single-row reads from an index."""

TRACKED = tuple(NATURAL_KEYS)

ASKED_BY: Mapping[type[Any], tuple[str, ...]] = {
    Order: ("order_ref",),
    Payment: ("order_ref", "payment_ref"),
    Shipment: ("order_ref", "tracking_number"),
    SupportTicket: ("order_ref", "ticket_ref"),
    InventoryPosition: ("sku",),
    CustomerIdentity: ("external_ref",),
    Customer: ("email",),
    FraudSignal: ("order_ref",),
    OrderRefund: ("order_ref", "refund_ref"),
    FulfillmentHold: ("order_ref", "fulfillment_order_ref"),
    Case: ("order_id",),
    RecordLink: ("record_ref",),
    LinkSuggestion: ("record_ref",),
}
"""The columns questions name, by which rows written in the chunk are found again."""
_INFO_KEY = "orderops.loaded_rows"

Where = tuple[tuple[str, Any], ...]


class LoadedRows:
    """The registry of one session's rows, and the questions they answer in full."""

    def __init__(self, session: Session, tenant_id: str) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self._rows: dict[type[Any], dict[int, Any]] = {model: {} for model in TRACKED}
        self._by_key: dict[tuple[type[Any], Hashable], Any] = {}
        self._by_id: dict[tuple[type[Any], str], Any] = {}
        self._pending: dict[type[Any], set[int]] = {model: set() for model in TRACKED}
        self._answered: dict[tuple[type[Any], Where], list[Any]] = {}
        """Questions asked in full, with the rows that answered them then."""
        self._touched: dict[type[Any], dict[int, Any]] = {model: {} for model in TRACKED}
        """Rows written (inserted or updated) since the chunk began: the only rows whose
        answers may have changed since a question was asked."""
        self._written: dict[tuple[type[Any], str, Any], dict[int, Any]] = {}
        """The same rows by each value they were written with, per column in ``ASKED_BY``."""
        self._values: dict[str, Any] = {}
        self._created: set[tuple[type[Any], str]] = set()
        self._listeners: list[tuple[str, Callable[..., None]]] = [
            ("loaded_as_persistent", self._on_loaded),
            ("transient_to_pending", self._on_added),
            ("pending_to_persistent", self._on_inserted),
            ("after_soft_rollback", self._on_rollback),
            ("before_flush", self._on_flush),
            ("pending_to_transient", self._on_gone),
            ("persistent_to_transient", self._on_gone),
            ("persistent_to_detached", self._on_gone),
            ("persistent_to_deleted", self._on_gone),
        ]

    # -- lifecycle ---------------------------------------------------------------------

    def start(self) -> None:
        for name, listener in self._listeners:
            event.listen(self.session, name, listener)
        self.session.info[_INFO_KEY] = self
        self._take_in_session()

    def stop(self) -> None:
        for name, listener in self._listeners:
            event.remove(self.session, name, listener)
        self.session.info.pop(_INFO_KEY, None)

    def _take_in_session(self) -> None:
        for instance in list(self.session.identity_map.values()):
            self._keep(instance)
        for instance in list(self.session.new):
            self._keep(instance, pending=True)

    def _on_loaded(self, session: Session, instance: object) -> None:
        self._keep(instance)

    def _on_added(self, session: Session, instance: object) -> None:
        self._keep(instance, pending=True)

    def _on_inserted(self, session: Session, instance: object) -> None:
        model = type(instance)
        if model not in self._pending:
            return
        self._pending[model].discard(id(instance))
        self._index(instance)
        self._created.add((model, instance.id))  # type: ignore[attr-defined]
        if model is Order:
            # A fresh id: no case in the database can belong to it yet.
            self._answered[(Case, (("order_id", instance.id),))] = []  # type: ignore[attr-defined]

    def _on_gone(self, session: Session, instance: object) -> None:
        """Expunged or deleted: no longer a row any query of this session returns."""
        model = type(instance)
        rows = self._rows.get(model)
        if rows is None:
            return
        rows.pop(id(instance), None)
        self._pending[model].discard(id(instance))
        for key in [k for k, v in self._by_id.items() if v is instance]:
            del self._by_id[key]
        for other in [k for k, v in self._by_key.items() if v is instance]:
            del self._by_key[other]

    def _on_flush(self, session: Session, context: object, instances: object) -> None:
        for instance in chain(session.new, session.dirty):
            model = type(instance)
            touched = self._touched.get(model)
            if touched is None:
                continue
            touched[id(instance)] = instance
            for column in ASKED_BY[model]:
                value = getattr(instance, column)
                self._written.setdefault((model, column, value), {})[id(instance)] = instance

    def _on_rollback(self, session: Session, previous: object) -> None:
        """The database went back: forget every answer and hold what the session holds."""
        for rows in self._rows.values():
            rows.clear()
        for pending in self._pending.values():
            pending.clear()
        for touched in self._touched.values():
            touched.clear()
        self._written.clear()
        self._by_key.clear()
        self._by_id.clear()
        self._answered.clear()
        self._values.clear()
        self._created.clear()
        self._take_in_session()

    def _keep(self, instance: object, *, pending: bool = False) -> None:
        model = type(instance)
        rows = self._rows.get(model)
        if rows is None:
            return
        rows[id(instance)] = instance
        if pending:
            self._pending[model].add(id(instance))
        self._index(instance)

    def _index(self, instance: object) -> None:
        model = type(instance)
        row_id = instance.__dict__.get("id")
        if row_id is not None:
            self._by_id[(model, row_id)] = instance
        names = NATURAL_KEYS[model]
        if names:
            key = tuple(instance.__dict__.get(name) for name in names)
            if None not in key:
                self._by_key[(model, key)] = instance

    def _settle(self, model: type[Any]) -> None:
        """Flush rows of ``model`` added (or rows deleted) and not yet written, as a query
        would have."""
        if self.session.autoflush and (self._pending[model] or self.session.deleted):
            self.session.flush()

    def _mine(self, row: Any) -> bool:
        return bool(row.tenant_id == self.tenant_id)

    # -- answers -------------------------------------------------------------------------

    def rows(
        self,
        model: type[T],
        where: Mapping[str, Any],
        *,
        order_by: Sequence[str],
        fetch: Callable[[], Iterable[T]],
    ) -> list[T]:
        """Every row of ``model`` matching ``where`` (equality on columns), ordered by
        ``order_by``; ``fetch`` is the query that answers it when the rows cannot."""
        answered = self._answer(model, where)
        if answered is None:
            found = list(fetch())
            self.learn(model, where, found)
            return found
        self._settle(model)
        candidates = self._candidates(model, where, answered)
        matching = [row for row in candidates if self._matches(row, where)]
        matching.sort(key=lambda row: tuple(getattr(row, name) for name in order_by))
        return matching

    def one(
        self, model: type[T], where: Mapping[str, Any], *, fetch: Callable[[], T | None]
    ) -> T | None:
        """The row of ``model`` with the unique key ``where``, or None."""
        answered = self._answer(model, where)
        if answered is None:
            found = fetch()
            self.learn(model, where, [found] if found is not None else [])
            return found
        self._settle(model)
        names = NATURAL_KEYS[model]
        if names and set(names) == set(where):
            row = self._by_key.get((model, tuple(where[name] for name in names)))
            if row is not None and id(row) in self._rows[model] and self._matches(row, where):
                return row  # type: ignore[no-any-return]
        candidates = self._candidates(model, where, answered)
        return next((row for row in candidates if self._matches(row, where)), None)

    def by_id(self, model: type[T], row_id: str, *, fetch: Callable[[], T | None]) -> T | None:
        """The row with this id: held already, else the query's answer."""
        row = self._by_id.get((model, row_id))
        if row is not None and self._mine(row):
            self._settle(model)
            return row  # type: ignore[no-any-return]
        return fetch()

    def _matches(self, row: Any, where: Mapping[str, Any]) -> bool:
        return self._mine(row) and all(getattr(row, n) == v for n, v in where.items())

    def _candidates(
        self, model: type[Any], where: Mapping[str, Any], answered: list[Any]
    ) -> list[Any]:
        """Rows that may match ``where``, answered by ``answered`` when it was asked:
        those, and the rows written since (flushed with a value ``where`` names, or
        changed and not yet flushed), still in the session."""
        held = self._rows[model]
        found = {id(row): row for row in answered}
        column = next((c for c in ASKED_BY[model] if c in where), None)
        if column is None:
            found.update(self._touched[model])
        else:
            found.update(self._written.get((model, column, where[column]), {}))
        for instance in chain(self.session.new, self.session.dirty):
            if type(instance) is model:
                found[id(instance)] = instance
        return [row for key, row in found.items() if key in held]

    def learn(self, model: type[T], where: Mapping[str, Any], rows: Iterable[T]) -> None:
        """``rows`` are every row of ``model`` matching ``where``: hold them and the answer.

        Only for a question a query just answered in full in this session (which flushed
        first), never for a guess.
        """
        found = list(rows)
        for row in found:
            self._keep(row)
        self._answered[(model, _where(where))] = found

    def _answer(self, model: type[Any], where: Mapping[str, Any]) -> list[Any] | None:
        """The rows that answered ``where``, or a part of it, asked in full ("the
        payments with ref pi_1" answers "the stripe payment pi_1"); None if never asked."""
        items = _where(where)
        for size in range(len(items), 0, -1):
            for part in combinations(items, size):
                found = self._answered.get((model, part))
                if found is not None:
                    return found
        return None

    def knows(self, model: type[Any], where: Mapping[str, Any]) -> bool:
        """Whether the rows answer ``where`` without a query."""
        return self._answer(model, where) is not None

    def created(self, model: type[Any], row_id: str) -> bool:
        """Whether this chunk inserted the row (so nothing before it refers to its id)."""
        return (model, row_id) in self._created

    def value(self, name: str, load: Callable[[], T]) -> T:
        """A value read once per chunk (the policy in force), forgotten on rollback."""
        if name not in self._values:
            self._values[name] = load()
        return self._values[name]  # type: ignore[no-any-return]

    def values(self) -> dict[str, Any]:
        """Per-chunk memos of other modules (alias keys, waits), forgotten on rollback."""
        return self._values


def _where(where: Mapping[str, Any]) -> Where:
    return tuple(sorted(where.items()))


def loaded_rows(session: Session) -> LoadedRows | None:
    """The registry of the chunk this session is processing, if it is processing one."""
    found = session.info.get(_INFO_KEY)
    return found if isinstance(found, LoadedRows) else None


@contextmanager
def remember_rows(session: Session, tenant_id: str) -> Iterator[LoadedRows]:
    """Keep the session's rows and answers until the block ends (one chunk)."""
    rows = LoadedRows(session, tenant_id)
    rows.start()
    try:
        yield rows
    finally:
        rows.stop()
