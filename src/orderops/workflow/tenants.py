"""Tenants and API keys. Keys are shown once and stored only as SHA-256 hashes.

Keys carry 32 random bytes, so a plain SHA-256 is enough: there is nothing to
brute-force, and lookup by hash stays one indexed query per request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import Unauthorized
from orderops.domain.roles import Role
from orderops.storage.tables import ApiKey, Tenant
from orderops.storage.uow import UnitOfWork

KEY_PREFIX = "oo"


@dataclass(frozen=True)
class Principal:
    tenant_id: str
    role: Role
    name: str


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
) -> IssuedKey:
    secret = secret or f"{KEY_PREFIX}_{secrets.token_urlsafe(32)}"
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        key = ApiKey(
            tenant_id=tenant_id,
            name=name,
            prefix=secret[:10],
            key_hash=hash_key(secret),
            role=role,
            created_at=clock.now(),
        )
        uow.session.add(key)
        uow.session.flush()
        uow.audit.append(
            at=clock.now(),
            actor="system",
            action="api_key.issued",
            entity_type="api_key",
            entity_id=key.id,
            data={"name": name, "role": role, "prefix": key.prefix},
        )
        uow.commit()
        return IssuedKey(key_id=key.id, secret=secret)


def authenticate(sessions: sessionmaker[Session], secret: str) -> Principal:
    with sessions() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == hash_key(secret)))
    if key is None or key.revoked_at is not None:
        raise Unauthorized("unknown or revoked API key")
    return Principal(tenant_id=key.tenant_id, role=Role(key.role), name=key.name)
