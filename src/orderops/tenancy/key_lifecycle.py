"""An API key's life after issue: expiry, rotation with an overlap, and how keys are listed.

Rotation replaces a key without an outage: the successor acts as the same identity (or,
for a key without one, with the same role and name), within the same access scope, and is
shown once; the old key keeps
working until the overlap ends, long enough to roll the new secret out, and is then
refused with a message naming its successor. Issuing the successor is an identity act
(``key_issued``) like any issue, since whoever rotates holds the identity's new secret;
the rotation itself is audited with both keys' prefixes, never a secret, and recorded as
an identity act of its own (``key_rotated``, on the old key), so the identity's history
says who replaced which key whether the CLI, the API or the console did it: all three
call ``rotate_key``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain import api_keys
from orderops.domain.api_keys import KeyLifetime, KeyNotRotatable, KeyState
from orderops.domain.approver_provenance import IdentityActKind
from orderops.domain.clock import Clock
from orderops.domain.durations import describe, parse_duration
from orderops.domain.environments import Environment
from orderops.domain.errors import Forbidden, NotFound
from orderops.domain.roles import Role
from orderops.domain.scopes import UNRESTRICTED, AccessScope
from orderops.storage.tables import ApiKey, Tenant
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.identity_acts import record_act
from orderops.tenancy.tenants import IssuedKey, add_key
from orderops.tenancy.users import InvalidUser, get_user

DEFAULT_OVERLAP = timedelta(hours=24)


@dataclass(frozen=True, kw_only=True)
class KeyDetails:
    """A key as listings show it: never its secret or hash."""

    id: str
    name: str
    prefix: str
    role: Role
    user_id: str | None
    environment: Environment
    state: KeyState
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    rotated_at: datetime | None
    successor_id: str | None
    last_used_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Rotation:
    successor: IssuedKey
    """The new key; its secret is shown once."""
    rotated: KeyDetails
    """The old key, accepted until ``rotated.expires_at``."""


def requested_expiry(
    clock: Clock, *, expires_in: str | None = None, expires_at: datetime | None = None
) -> datetime | None:
    """The expiry an operator asked for, as ``90d`` from now or as a time (or none)."""
    lifetime = parse_duration(expires_in) if expires_in is not None else None
    return api_keys.expiry(clock.now(), expires_in=lifetime, expires_at=expires_at)


def issue_scoped_key(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    name: str,
    role: Role,
    scope: AccessScope,
    clock: Clock,
    actor: str,
    expires_at: datetime | None = None,
    granted_by: AccessScope = UNRESTRICTED,
) -> IssuedKey:
    """A key with no person behind it, acting with ``role`` within ``scope`` (shown once).

    Issued and limited in one transaction, so the key never exists, even for a moment,
    wider than asked; a scoped administrator may give only a scope within their own."""
    if not scope.within(granted_by):
        raise Forbidden(
            f"a principal limited to {granted_by.describe()} may not grant {scope.describe()}"
        )
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        issued = add_key(uow, name=name, role=role, clock=clock, actor=actor, expires_at=expires_at)
        if not scope.unrestricted:
            _key(uow, issued.key_id).scope = scope.to_json()
            uow.audit.append(
                at=clock.now(),
                actor=actor,
                action="api_key.scope_changed",
                entity_type="api_key",
                entity_id=issued.key_id,
                data={"from": UNRESTRICTED.to_json(), "to": scope.to_json()},
            )
        uow.commit()
        return issued


def rotate_key(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    key_id: str,
    clock: Clock,
    actor: str,
    overlap: timedelta = DEFAULT_OVERLAP,
    expires_at: datetime | None = None,
    granted_by: AccessScope = UNRESTRICTED,
) -> Rotation:
    """Issue the key's successor and let the key work until ``overlap`` has passed.

    The successor expires at ``expires_at`` when given, else lives as long as the old key
    was issued for (``api_keys.successor_expiry``). A revoked key, or one already rotated,
    is refused: its successor is the key to rotate. So is a key that sees more than
    ``granted_by`` (the rotator's scope), since the rotator is handed its successor."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        key = _key(uow, key_id)
        if key.revoked_at is not None:
            raise KeyNotRotatable(f"key {key.prefix}... is revoked; issue a new key instead")
        if key.successor_id is not None:
            raise KeyNotRotatable(
                f"key {key.prefix}... was already rotated to key {key.successor_id}; "
                "rotate that one"
            )
        role = Role(key.role)
        sees = [AccessScope.from_json(key.scope)]
        if key.user_id is not None:
            user = get_user(uow, key.user_id)
            if user.disabled_at is not None:
                raise InvalidUser(f"user {user.id} is disabled; its keys cannot be rotated")
            role = Role(user.role)
            sees.append(AccessScope.from_json(user.scope))
        if not any(scope.within(granted_by) for scope in sees):
            # Whoever rotates holds the successor's secret: no wider than their own scope.
            raise Forbidden(
                f"a principal limited to {granted_by.describe()} may not rotate key "
                f"{key.prefix}..., which sees more"
            )
        retires_at = api_keys.retirement(now, overlap=overlap, expires_at=key.expires_at)
        successor = add_key(
            uow,
            name=key.name,
            role=role,
            clock=clock,
            user_id=key.user_id,
            actor=actor,
            expires_at=expires_at
            or api_keys.successor_expiry(now, created_at=key.created_at, expires_at=key.expires_at),
        )
        # The successor sees no more than its predecessor did.
        _key(uow, successor.key_id).scope = key.scope
        key.expires_at = retires_at
        key.rotated_at = now
        key.successor_id = successor.key_id
        uow.audit.append(
            at=now,
            actor=actor,
            action="api_key.rotated",
            entity_type="api_key",
            entity_id=key.id,
            data={
                "prefix": key.prefix,
                "user_id": key.user_id,
                "successor_id": successor.key_id,
                "successor_prefix": successor.prefix,
                "overlap": describe(overlap),
                "accepted_until": retires_at.isoformat(),
            },
        )
        record_act(
            uow,
            act=IdentityActKind.KEY_ROTATED,
            actor=actor,
            at=now,
            user_id=key.user_id,
            key_id=key.id,
        )
        rotated = _details(key, _environment(uow), now)
        uow.commit()
    return Rotation(successor=successor, rotated=rotated)


def list_keys(sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock) -> list[KeyDetails]:
    """The tenant's keys, oldest first, each with its state now."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        environment = _environment(uow)
        rows = uow.session.scalars(
            select(ApiKey)
            .where(ApiKey.tenant_id == tenant_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        return [_details(key, environment, now) for key in rows]


def key_details(
    sessions: sessionmaker[Session], *, tenant_id: str, key_id: str, clock: Clock
) -> KeyDetails:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        return _details(_key(uow, key_id), _environment(uow), clock.now())


def _key(uow: UnitOfWork, key_id: str) -> ApiKey:
    key = uow.session.scalar(
        select(ApiKey).where(ApiKey.tenant_id == uow.tenant_id, ApiKey.id == key_id)
    )
    if key is None:
        raise NotFound(f"no API key {key_id}")
    return key


def _environment(uow: UnitOfWork) -> Environment:
    tenant = uow.session.get(Tenant, uow.tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {uow.tenant_id}")
    return Environment(tenant.environment)


def _details(key: ApiKey, environment: Environment, now: datetime) -> KeyDetails:
    lifetime = KeyLifetime(
        prefix=key.prefix,
        revoked_at=key.revoked_at,
        expires_at=key.expires_at,
        rotated_at=key.rotated_at,
    )
    return KeyDetails(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        role=Role(key.role),
        user_id=key.user_id,
        environment=environment,
        state=lifetime.state(now),
        created_at=key.created_at,
        expires_at=key.expires_at,
        revoked_at=key.revoked_at,
        rotated_at=key.rotated_at,
        successor_id=key.successor_id,
        last_used_at=key.last_used_at,
    )
