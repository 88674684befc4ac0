"""Tenants and API keys. Keys are shown once and stored only as SHA-256 hashes.

Keys carry 32 random bytes, so a plain SHA-256 is enough: there is nothing to
brute-force, and lookup by hash stays one indexed query per request.

A key acts as a user or service identity (``workflow/users.py``): the caller's role is
the identity's role *now*, and a disabled identity's keys stop working at once. Keys from
before identities existed act with the role stored on the key. Maker-checker compares
``Principal.subject`` (who), never the role (what they may do).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.approver_provenance import IdentityActKind
from orderops.domain.clock import Clock
from orderops.domain.errors import Unauthorized
from orderops.domain.roles import Role
from orderops.storage.tables import ApiKey, Tenant
from orderops.storage.tables.access import User
from orderops.storage.tenant_lookups import tenant_of_api_key
from orderops.storage.uow import UnitOfWork
from orderops.workflow.identity_acts import record_act

KEY_PREFIX = "oo"
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is refreshed at most this often, so reads do not each become a write."""


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    role: Role
    name: str
    subject: str = ""
    """Who acts: ``user:<id>`` or, for a key without an identity, ``key:<id>``."""
    key_id: str | None = None

    @property
    def identity(self) -> str:
        return self.subject or f"name:{self.name}"


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    secret: str


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def ensure_tenant(
    sessions: sessionmaker[Session], *, tenant_id: str, name: str, clock: Clock
) -> bool:
    """Create the tenant if absent; True when created (audited as the chain's first record)."""
    with sessions() as session:
        if session.get(Tenant, tenant_id) is not None:
            return False
        session.add(Tenant(id=tenant_id, name=name, created_at=clock.now()))
        session.commit()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        uow.audit.append(
            at=clock.now(),
            actor="system",
            action="tenant.created",
            entity_type="tenant",
            entity_id=tenant_id,
            data={"name": name},
        )
        uow.commit()
    return True


def issue_key(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    name: str,
    role: Role,
    clock: Clock,
    secret: str | None = None,
    user_id: str | None = None,
    actor: str = "system",
) -> IssuedKey:
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        issued = add_key(
            uow, name=name, role=role, clock=clock, secret=secret, user_id=user_id, actor=actor
        )
        uow.commit()
        return issued


def add_key(
    uow: UnitOfWork,
    *,
    name: str,
    role: Role,
    clock: Clock,
    secret: str | None = None,
    user_id: str | None = None,
    actor: str = "system",
) -> IssuedKey:
    """Store a new key's hash in the caller's transaction, audited (never the secret), and
    note who issued it: whoever holds a key's secret can act as its identity."""
    secret = secret or f"{KEY_PREFIX}_{secrets.token_urlsafe(32)}"
    key = ApiKey(
        tenant_id=uow.tenant_id,
        name=name,
        prefix=secret[:10],
        key_hash=hash_key(secret),
        role=role,
        created_at=clock.now(),
        user_id=user_id,
    )
    uow.session.add(key)
    uow.session.flush()
    uow.audit.append(
        at=clock.now(),
        actor=actor,
        action="api_key.issued",
        entity_type="api_key",
        entity_id=key.id,
        data={"name": name, "role": role, "prefix": key.prefix, "user_id": user_id},
    )
    record_act(
        uow,
        act=IdentityActKind.KEY_ISSUED,
        actor=actor,
        at=clock.now(),
        user_id=user_id,
        key_id=key.id,
    )
    return IssuedKey(key_id=key.id, secret=secret)


def authenticate(
    sessions: sessionmaker[Session], secret: str, *, clock: Clock | None = None
) -> Principal:
    """The caller behind a key; with a clock, also note when the key was last used."""
    hashed = hash_key(secret)
    tenant_id = tenant_of_api_key(sessions, hashed)
    if tenant_id is None:
        raise Unauthorized("unknown or revoked API key")
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        key = uow.session.scalar(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.key_hash == hashed)
        )
        if key is None or key.revoked_at is not None:
            raise Unauthorized("unknown or revoked API key")
        user = uow.session.get(User, key.user_id) if key.user_id else None
        uow.session.expunge_all()  # read on after the unit of work, whose rollback expires
    if user is not None and (user.disabled_at is not None or user.tenant_id != key.tenant_id):
        raise Unauthorized("the identity behind this API key is disabled")
    if clock is not None:
        _touch(sessions, key, clock)
    if user is None:
        return Principal(
            tenant_id=key.tenant_id,
            role=Role(key.role),
            name=key.name,
            subject=f"key:{key.id}",
            key_id=key.id,
        )
    return Principal(
        tenant_id=key.tenant_id,
        role=Role(user.role),
        name=user.display_name,
        subject=f"user:{user.id}",
        key_id=key.id,
    )


def _touch(sessions: sessionmaker[Session], key: ApiKey, clock: Clock) -> None:
    now = clock.now()
    if key.last_used_at is not None and now - key.last_used_at < LAST_USED_RESOLUTION:
        return
    with UnitOfWork(sessions, tenant_id=key.tenant_id) as uow:
        uow.session.execute(
            update(ApiKey)
            .where(
                ApiKey.tenant_id == key.tenant_id,
                ApiKey.id == key.id,
                or_(
                    ApiKey.last_used_at.is_(None),
                    ApiKey.last_used_at < now - LAST_USED_RESOLUTION,
                ),
            )
            .values(last_used_at=now)
        )
        uow.commit()
