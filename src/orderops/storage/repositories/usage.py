"""Adding to usage counters: in the transaction that stores what is counted, once per commit.

``tally`` notes a quantity on the session; the notes are added to ``usage_counters`` just
before the session commits, by one ``INSERT .. ON CONFLICT DO UPDATE SET quantity =
quantity + excluded.quantity`` given a parameter set per counter. So a count commits with
the row it counts or not at all (a crash neither loses nor doubles it), and a transaction
that counts many things (a processing chunk opening cases, a batch of writebacks, an
import batch) costs one statement, not one per thing counted.

A savepoint that rolls back takes its notes with it (a failing event in a processing
chunk counts nothing), as a rollback of the whole transaction does. The rows are written
in key order, so two transactions adding to the same counters lock them in the same order
and cannot deadlock; and they are written last, so a counter row is locked only for the
commit, not for the transaction's whole work.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import Executable, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, SessionTransaction

from orderops.storage.tables.usage import UsageCounter

COUNTERS: Table = UsageCounter.__table__  # type: ignore[assignment]
TALLY_KEY = "orderops.usage_tally"


@dataclass(frozen=True, order=True)
class CounterKey:
    tenant_id: str
    meter: str
    day: str
    environment: str
    dimension: str


@dataclass(frozen=True)
class _Note:
    key: CounterKey
    quantity: int
    transaction: SessionTransaction | None
    """The innermost transaction open when it was noted: its rollback forgets the note."""


def add_to_counters(session: Session, amounts: Mapping[CounterKey, int]) -> None:
    """Add each amount to its counter now, in the session's transaction (one statement)."""
    rows = [
        {
            "tenant_id": key.tenant_id,
            "meter": key.meter,
            "day": key.day,
            "environment": key.environment,
            "dimension": key.dimension,
            "quantity": quantity,
        }
        for key, quantity in sorted(amounts.items())
        if quantity
    ]
    if rows:
        session.execute(_upsert(session.get_bind().dialect.name), rows)


@cache
def _upsert(dialect: str) -> Executable:
    """One statement per dialect, given the rows as parameter sets: compiled once and
    cached (rows inlined with ``values()`` made a new statement to compile every time)."""
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(COUNTERS)
    return statement.on_conflict_do_update(
        index_elements=[c.name for c in COUNTERS.primary_key.columns],
        set_={"quantity": COUNTERS.c.quantity + statement.excluded.quantity},
    )


def tally(session: Session, key: CounterKey, quantity: int) -> None:
    """Note ``quantity`` for ``key``, to be added when the session's transaction commits."""
    if quantity == 0:
        return
    notes: list[_Note] = session.info.setdefault(TALLY_KEY, [])
    innermost = session.get_nested_transaction() or session.get_transaction()
    notes.append(_Note(key, quantity, innermost))


def pending(session: Session) -> dict[CounterKey, int]:
    """What the session has noted and not yet written, summed by counter."""
    summed: dict[CounterKey, int] = {}
    for note in session.info.get(TALLY_KEY, ()):
        summed[note.key] = summed.get(note.key, 0) + note.quantity
    return summed


@event.listens_for(Session, "before_commit")
def _write_notes(session: Session) -> None:
    if session.in_nested_transaction() or not session.info.get(TALLY_KEY):
        return  # a savepoint's release: its notes wait for the real commit
    amounts = pending(session)
    session.info[TALLY_KEY] = []
    add_to_counters(session, amounts)


@event.listens_for(Session, "after_soft_rollback")
def _forget_rolled_back(session: Session, previous: SessionTransaction) -> None:
    notes: list[_Note] = session.info.get(TALLY_KEY, [])
    if notes:
        session.info[TALLY_KEY] = [n for n in notes if not _within(n.transaction, previous)]


@event.listens_for(Session, "after_transaction_end")
def _forget_at_the_end(session: Session, transaction: SessionTransaction) -> None:
    if transaction.parent is None:
        session.info.pop(TALLY_KEY, None)  # written at the commit, or rolled back with it


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    if ended.parent is None:
        return True
    current: Any = transaction
    while current is not None:
        if current is ended:
            return True
        current = current.parent
    return False
