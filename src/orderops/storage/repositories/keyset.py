"""Keyset ("seek") paging: the rows that come after a given row in a multi-column order.

An offset makes the database read and throw away every earlier row, and a row inserted
between two requests shifts every later page by one (a row shown twice, another never).
A keyset page starts right after the last row's sort key instead, so the thousandth
page costs what the first one does and concurrent inserts neither repeat nor skip rows.
The orders here mix directions and put NULLs last, which a row-value comparison
``(a, b) < (x, y)`` cannot say, so the predicate is spelled out column by column.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, SQLColumnExpression, and_, false, or_


@dataclass(frozen=True)
class SortPart:
    """One column of an order. The last part of an order must be unique (an id)."""

    column: SQLColumnExpression[Any]
    descending: bool = False
    nullable: bool = False
    """NULLs sort last whatever the direction, as the list's orders want."""

    def ordering(self) -> ColumnElement[Any]:
        ordered = self.column.desc() if self.descending else self.column.asc()
        return ordered.nulls_last() if self.nullable else ordered

    def tied(self, value: Any) -> ColumnElement[bool]:
        return self.column.is_(None) if value is None else self.column == value

    def beyond(self, value: Any) -> ColumnElement[bool]:
        """Rows strictly after ``value`` in this column alone."""
        if value is None:
            return false()  # NULLs come last: nothing sorts after them in this column
        past = self.column < value if self.descending else self.column > value
        return or_(past, self.column.is_(None)) if self.nullable else past


def ordering(parts: Sequence[SortPart]) -> list[ColumnElement[Any]]:
    return [part.ordering() for part in parts]


def after(parts: Sequence[SortPart], values: Sequence[Any]) -> ColumnElement[bool]:
    """Rows that sort after the row whose key is ``values`` (one value per part)."""
    if len(parts) != len(values) or not parts:
        raise ValueError(f"a key of {len(parts)} values was expected, got {len(values)}")
    alternatives = [
        and_(*(p.tied(v) for p, v in zip(parts[:n], values[:n], strict=True)), part.beyond(value))
        for n, (part, value) in enumerate(zip(parts, values, strict=True))
    ]
    predicate = or_(*alternatives)
    lead, first = parts[0], values[0]
    if first is not None and not lead.nullable:
        # Implied by the alternatives, but only a plain bound lets an index on the
        # leading column start its range scan at the key instead of at the top.
        bound = lead.column <= first if lead.descending else lead.column >= first
        predicate = and_(bound, predicate)
    return predicate
