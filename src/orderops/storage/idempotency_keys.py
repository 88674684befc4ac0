"""Claiming, answering and forgetting idempotency keys (``tables/idempotency.py``).

``claim`` is the one step that decides whether a request with a key executes: it inserts
the key's row, and the primary key lets exactly one of two concurrent requests do so
(PostgreSQL makes the second insert wait for the first's commit; SQLite's writers take
turns). The loser reads the row and learns what to answer: the stored first answer, a
refusal because the key was used for a different request, or "still running".

An expired row, or one whose request has been running for longer than
``ABANDONED_AFTER`` (its process died before answering), is taken over by the next claim
with a compare-and-set on the row, so two claimers cannot both take it over.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from orderops.storage.tables.idempotency import IdempotencyKey as Row
from orderops.storage.uow import UnitOfWork

KEY_LIFETIME = timedelta(hours=24)
"""How long a key's first answer is kept and replayed."""
ABANDONED_AFTER = timedelta(minutes=5)
"""A request still unanswered after this long is taken to have died with its process."""


@dataclass(frozen=True)
class KeyOf:
    """Which key: the tenant's, the owner's (``user:<id>`` / ``key:<id>``), its text."""

    tenant_id: str
    owner: str
    key: str


@dataclass(frozen=True)
class Claimed:
    """This request holds the key: it executes, and its answer is stored."""


@dataclass(frozen=True)
class Answered:
    """The key's first request was answered so; a retry gets the same answer."""

    status: int
    content_type: str | None
    body: bytes


@dataclass(frozen=True)
class Mismatch:
    """The key was first used for a different request (method, path, query or body)."""


@dataclass(frozen=True)
class Running:
    """The key's first request has not been answered yet."""


Claim = Claimed | Answered | Mismatch | Running


def claim(
    sessions: sessionmaker[Session], which: KeyOf, *, fingerprint: str, now: datetime
) -> Claim:
    """Take ``which`` for the request with ``fingerprint``, or say why not."""
    with UnitOfWork(sessions, tenant_id=which.tenant_id) as uow:
        session = uow.session
        dialect = session.get_bind().dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        values = {
            "tenant_id": which.tenant_id,
            "owner": which.owner,
            "idempotency_key": which.key,
            "fingerprint": fingerprint,
            "created_at": now,
            "expires_at": now + KEY_LIFETIME,
        }
        statement = insert(Row).values(**values).on_conflict_do_nothing()
        # RETURNING, not rowcount: an insert that did nothing returns no row on both
        # databases, where rowcount is not reliable through the ORM session.
        if session.execute(statement.returning(Row.owner)).first() is not None:
            uow.commit()
            return Claimed()
        row = session.execute(select(Row).where(*_is(which))).scalar_one()
        if row.expires_at <= now or (
            row.response_status is None and row.created_at <= now - ABANDONED_AFTER
        ):
            taken = session.execute(
                update(Row)
                .where(*_is(which), Row.created_at == row.created_at)
                .values(
                    fingerprint=fingerprint,
                    response_status=None,
                    response_content_type=None,
                    response_body=None,
                    created_at=now,
                    expires_at=now + KEY_LIFETIME,
                )
                .returning(Row.owner)
                .execution_options(synchronize_session=False)
            )
            if taken.first() is not None:
                uow.commit()
                return Claimed()
            return Running()  # another claimer took it over first
        if row.fingerprint != fingerprint:
            return Mismatch()
        if row.response_status is None:
            return Running()
        return Answered(row.response_status, row.response_content_type, row.response_body or b"")


def answer(
    sessions: sessionmaker[Session],
    which: KeyOf,
    *,
    fingerprint: str,
    status: int,
    content_type: str | None,
    body: bytes,
) -> None:
    """Store the first answer of the request that claimed ``which``."""
    with UnitOfWork(sessions, tenant_id=which.tenant_id) as uow:
        uow.session.execute(
            update(Row)
            .where(*_is(which), Row.fingerprint == fingerprint, Row.response_status.is_(None))
            .values(response_status=status, response_content_type=content_type, response_body=body)
            .execution_options(synchronize_session=False)
        )
        uow.commit()


def release(sessions: sessionmaker[Session], which: KeyOf, *, fingerprint: str) -> None:
    """Forget a claim whose request failed without an answer worth repeating (a server
    error): a retry with the key executes again."""
    with UnitOfWork(sessions, tenant_id=which.tenant_id) as uow:
        uow.session.execute(
            delete(Row)
            .where(*_is(which), Row.fingerprint == fingerprint, Row.response_status.is_(None))
            .execution_options(synchronize_session=False)
        )
        uow.commit()


def purge_expired(sessions: sessionmaker[Session], *, tenant_id: str, now: datetime) -> int:
    """Delete the tenant's expired keys; how many."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        purged = uow.session.execute(
            delete(Row)
            .where(Row.tenant_id == tenant_id, Row.expires_at <= now)
            .returning(Row.idempotency_key)
            .execution_options(synchronize_session=False)
        ).all()
        uow.commit()
    return len(purged)


def _is(which: KeyOf) -> tuple[ColumnElement[bool], ...]:
    return (
        Row.tenant_id == which.tenant_id,
        Row.owner == which.owner,
        Row.idempotency_key == which.key,
    )
