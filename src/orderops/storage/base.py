"""Declarative base, naming convention and the column types every table shares.

Constraint names are fixed by the naming convention so Alembic migrations stay stable
on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, MetaData, String, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC on the way in and out, on every backend.

    SQLite stores no zone, so a naive value read back would silently mean local time;
    this type refuses naive input and always returns aware UTC.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime refused by UtcDateTime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


JsonType = JSON().with_variant(JSONB(), "postgresql")


def new_id() -> str:
    return uuid.uuid4().hex


_last_ns = 0
_sortable_lock = threading.Lock()


def new_sortable_id() -> str:
    """32 hex characters that sort in creation order within a process.

    For rows that share a timestamp but must keep the order they were written in
    (timeline entries written in one transaction): nanoseconds, forced strictly
    increasing, then random bits.
    """
    global _last_ns
    with _sortable_lock:
        _last_ns = max(time.time_ns(), _last_ns + 1)
        stamp = _last_ns
    return f"{stamp:016x}{uuid.uuid4().hex[:16]}"


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: dict[Any, Any] = {datetime: UtcDateTime(), dict[str, Any]: JsonType}  # noqa: RUF012


def id_column() -> Mapped[str]:
    return mapped_column(String(32), primary_key=True, default=new_id)


def tenant_column() -> Mapped[str]:
    return mapped_column(String(64), ForeignKey("tenants.id", ondelete="RESTRICT"))
