"""Recording who created, re-roled, reset or keyed each identity, and reading it back.

Written in the caller's transaction next to the act's audit record, so the two cannot
disagree; the audit log keeps the chained history, ``identity_acts`` the indexed copy that
approver eligibility (``decide/approver_eligibility.py``) queries on every approval.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.approver_provenance import IdentityAct, IdentityActKind
from orderops.domain.errors import NotFound
from orderops.storage.base import new_sortable_id
from orderops.storage.tables.access import IdentityAct as IdentityActRow
from orderops.storage.tables.access import User
from orderops.storage.uow import UnitOfWork


def record_act(
    uow: UnitOfWork,
    *,
    act: IdentityActKind,
    actor: str,
    at: datetime,
    user_id: str | None,
    key_id: str | None = None,
) -> None:
    uow.session.add(
        IdentityActRow(
            id=new_sortable_id(),  # acts sharing a timestamp keep the order they were made in
            tenant_id=uow.tenant_id,
            user_id=user_id,
            key_id=key_id,
            act=act,
            actor=actor,
            at=at,
        )
    )


def acts_on(uow: UnitOfWork, user_id: str, *, since: datetime | None = None) -> list[IdentityAct]:
    """Acts on the user and on every key acting as them, oldest first."""
    query = select(IdentityActRow).where(
        IdentityActRow.tenant_id == uow.tenant_id, IdentityActRow.user_id == user_id
    )
    if since is not None:
        query = query.where(IdentityActRow.at > since)
    rows = uow.session.scalars(query.order_by(IdentityActRow.at, IdentityActRow.id))
    return [_act(r) for r in rows]


def _act(row: IdentityActRow) -> IdentityAct:
    return IdentityAct(
        act=IdentityActKind(row.act),
        actor=row.actor,
        at=row.at,
        user_id=row.user_id,
        key_id=row.key_id,
    )


def list_acts(
    sessions: sessionmaker[Session], *, tenant_id: str, user_id: str
) -> list[IdentityAct]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        exists = uow.session.scalar(
            select(User.id).where(User.tenant_id == tenant_id, User.id == user_id)
        )
        if exists is None:
            raise NotFound(f"no user {user_id}")
        return acts_on(uow, user_id)


def acts_by_user(
    sessions: sessionmaker[Session], *, tenant_id: str
) -> dict[str, list[IdentityAct]]:
    """Every user's acts, oldest first, for the admin listing."""
    found: defaultdict[str, list[IdentityAct]] = defaultdict(list)
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.scalars(
            select(IdentityActRow)
            .where(IdentityActRow.tenant_id == tenant_id, IdentityActRow.user_id.is_not(None))
            .order_by(IdentityActRow.at, IdentityActRow.id)
        )
        for r in rows:
            assert r.user_id is not None
            found[r.user_id].append(_act(r))
    return dict(found)
