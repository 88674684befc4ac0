"""Tenants, the environments of an account, and API keys. Keys are shown once and stored
only as SHA-256 hashes.

Keys carry 32 random bytes, so a plain SHA-256 is enough: there is nothing to
brute-force, and lookup by hash stays one indexed query per request.

A key acts as a user or service identity (``tenancy/users.py``): the caller's role is
the identity's role *now*, and a disabled identity's keys stop working at once. Keys from
before identities existed act with the role stored on the key. Maker-checker compares
``Principal.subject`` (who), never the role (what they may do).

An account's live and test environments are tenants of their own
(``domain/environments.py``): a key belongs to one tenant, so to one environment, and
says which in its prefix (``oo_live_`` / ``oo_test_``, ``domain/api_keys.py``); a key
whose prefix names another environment than its tenant's is refused, whatever its hash.
Expiry, revocation and the end of a rotation's overlap are judged on every request;
rotation itself is ``tenancy/key_lifecycle.py``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain import api_keys
from orderops.domain.api_keys import InvalidKeyRequest, KeyLifetime, KeyWrongEnvironment
from orderops.domain.approver_provenance import IdentityActKind
from orderops.domain.clock import Clock, SystemClock
from orderops.domain.environments import Environment, read_tenant_id, tenant_id_for
from orderops.domain.errors import Conflict, NotFound, Unauthorized
from orderops.domain.roles import Role
from orderops.domain.scopes import UNRESTRICTED, AccessScope
from orderops.storage.tables import ApiKey, Tenant
from orderops.storage.tables.access import User
from orderops.storage.tenant_lookups import tenant_of_api_key
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.identity_acts import record_act

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
    environment: Environment = Environment.LIVE
    """The environment of the key's tenant (``OrderOps-Environment`` on API answers)."""
    scope: AccessScope = UNRESTRICTED
    """What it may see below the tenant (``domain/scopes.py``): its user's scope narrowed by
    the key's own. Units of work acting for it carry this."""

    @property
    def identity(self) -> str:
        return self.subject or f"name:{self.name}"


@dataclass(frozen=True)
class IssuedKey:
    key_id: str
    secret: str
    prefix: str = ""
    expires_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class EnvironmentInfo:
    tenant_id: str
    account_id: str
    environment: Environment
    created: bool


class EnvironmentTaken(Conflict):
    """The tenant id an environment needs belongs to a tenant that is not that environment."""

    code = "environment-taken"


def hash_key(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def ensure_tenant(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    name: str,
    clock: Clock,
    account_id: str | None = None,
    environment: Environment | None = None,
) -> bool:
    """Create the tenant if absent; True when created (audited as the chain's first record).

    Without an account, the id says it (``read_tenant_id``): ``acme.test`` is acme's test
    environment, anything else an account's live one."""
    if account_id is None or environment is None:
        account_id, environment = read_tenant_id(tenant_id)
    with sessions() as session:
        if session.get(Tenant, tenant_id) is not None:
            return False
        session.add(
            Tenant(
                id=tenant_id,
                name=name,
                created_at=clock.now(),
                account_id=account_id,
                environment=environment,
            )
        )
        session.commit()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        uow.audit.append(
            at=clock.now(),
            actor="system",
            action="tenant.created",
            entity_type="tenant",
            entity_id=tenant_id,
            data={"name": name, "account_id": account_id, "environment": environment},
        )
        uow.commit()
    return True


def create_account(
    sessions: sessionmaker[Session],
    *,
    account_id: str,
    name: str,
    clock: Clock,
    environments: tuple[Environment, ...] = (Environment.LIVE, Environment.TEST),
) -> list[EnvironmentInfo]:
    """Create the account's environments that do not exist yet (both, unless told)."""
    made = []
    for environment in environments:
        tenant_id = tenant_id_for(account_id, environment)
        label = name if environment is Environment.LIVE else f"{name} ({environment})"
        created = ensure_tenant(
            sessions,
            tenant_id=tenant_id,
            name=label,
            clock=clock,
            account_id=account_id,
            environment=environment,
        )
        found = tenant_environment(sessions, tenant_id)
        if (found.account_id, found.environment) != (account_id, environment):
            raise EnvironmentTaken(
                f"tenant {tenant_id} already exists as the {found.environment} environment of "
                f"account {found.account_id}, so it cannot be {account_id}'s {environment} one"
            )
        made.append(
            EnvironmentInfo(
                tenant_id=tenant_id,
                account_id=account_id,
                environment=environment,
                created=created,
            )
        )
    return made


def tenant_environment(sessions: sessionmaker[Session], tenant_id: str) -> EnvironmentInfo:
    """Which account and environment a tenant is (``tenants`` has no row-level security:
    it is the registry, read before or outside any tenant's unit of work)."""
    with sessions() as session:
        tenant = session.get(Tenant, tenant_id)
        if tenant is None:
            raise NotFound(f"no tenant {tenant_id}")
        return _environment_info(tenant)


def issue_key(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    name: str,
    role: Role,
    clock: Clock,
    secret: str | None = None,
    user_id: str | None = None,
    service: str | None = None,
    actor: str = "system",
    expires_at: datetime | None = None,
) -> IssuedKey:
    """A key acting as someone: the user ``user_id``, or the service identity named
    ``service`` (the tenant's active one of that name, added with ``role`` when there is
    none; a service identity acts as ``service`` only, so it never approves). A key without
    either is refused: separation of duties compares identities, and a key that is nobody
    would count as a person of its own."""
    if (user_id is None) == (service is None):
        raise InvalidKeyRequest(
            "a key acts as a user or a named service identity: give user_id or service (one)"
        )
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        if service is not None:
            user_id = _service_identity(uow, service, role=role, clock=clock, actor=actor)
        issued = add_key(
            uow,
            name=name,
            role=role,
            clock=clock,
            secret=secret,
            user_id=user_id,
            actor=actor,
            expires_at=expires_at,
        )
        uow.commit()
        return issued


def _service_identity(uow: UnitOfWork, name: str, *, role: Role, clock: Clock, actor: str) -> str:
    """The id of the tenant's active service identity ``name``, added (audited) if new."""
    if role is not Role.SERVICE:
        raise InvalidKeyRequest(
            f"a service identity acts as {Role.SERVICE}, not {role}: a key with a person's "
            "role belongs to a person (user_id)"
        )
    label = name.strip()
    if not label:
        raise InvalidKeyRequest("a service identity needs a name")
    found = uow.session.scalar(
        select(User.id).where(
            User.tenant_id == uow.tenant_id,
            User.kind == "service",
            User.display_name == label,
            User.disabled_at.is_(None),
        )
    )
    if found is not None:
        return found
    user = User(
        tenant_id=uow.tenant_id,
        kind="service",
        email=None,
        display_name=label,
        role=Role.SERVICE,
        created_at=clock.now(),
    )
    uow.session.add(user)
    uow.session.flush()
    uow.audit.append(
        at=clock.now(),
        actor=actor,
        action="user.added",
        entity_type="user",
        entity_id=user.id,
        data={"kind": "service", "email": None, "display_name": label, "role": Role.SERVICE},
    )
    record_act(uow, act=IdentityActKind.CREATED, actor=actor, at=clock.now(), user_id=user.id)
    return user.id


def add_key(
    uow: UnitOfWork,
    *,
    name: str,
    role: Role,
    clock: Clock,
    secret: str | None = None,
    user_id: str | None = None,
    actor: str = "system",
    expires_at: datetime | None = None,
) -> IssuedKey:
    """Store a new key's hash in the caller's transaction, audited (never the secret), and
    note who issued it: whoever holds a key's secret can act as its identity.

    A generated secret names the tenant's environment; a supplied one may name none (a key
    carried over from before environments) but never another."""
    tenant = uow.session.get(Tenant, uow.tenant_id)
    if tenant is None:
        raise NotFound(f"no tenant {uow.tenant_id}")
    environment = Environment(tenant.environment)
    if secret is None:
        short_id = "".join(
            secrets.choice(api_keys.SHORT_ID_ALPHABET) for _ in range(api_keys.SHORT_ID_LENGTH)
        )
        secret = api_keys.compose(environment, short_id, secrets.token_urlsafe(32))
    declared = api_keys.read(secret)
    if declared.environment not in (None, environment):
        raise InvalidKeyRequest(
            f"a key with prefix {declared.prefix} names the {declared.environment} "
            f"environment; tenant {uow.tenant_id} is the {environment} one"
        )
    key = ApiKey(
        tenant_id=uow.tenant_id,
        name=name,
        prefix=declared.prefix,
        key_hash=hash_key(secret),
        role=role,
        created_at=clock.now(),
        user_id=user_id,
        expires_at=expires_at,
    )
    uow.session.add(key)
    uow.session.flush()
    uow.audit.append(
        at=clock.now(),
        actor=actor,
        action="api_key.issued",
        entity_type="api_key",
        entity_id=key.id,
        data={
            "name": name,
            "role": role,
            "prefix": key.prefix,
            "user_id": user_id,
            "environment": environment,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    record_act(
        uow,
        act=IdentityActKind.KEY_ISSUED,
        actor=actor,
        at=clock.now(),
        user_id=user_id,
        key_id=key.id,
    )
    return IssuedKey(key_id=key.id, secret=secret, prefix=key.prefix, expires_at=expires_at)


def authenticate(
    sessions: sessionmaker[Session], secret: str, *, clock: Clock | None = None
) -> Principal:
    """The caller behind a key; with a clock, also note when the key was last used.

    Without one, expiry is judged against the system clock."""
    now = (clock or SystemClock()).now()
    hashed = hash_key(secret)
    tenant_id = tenant_of_api_key(sessions, hashed)
    if tenant_id is None:
        raise Unauthorized("unknown API key")
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        key = uow.session.scalar(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.key_hash == hashed)
        )
        if key is None:
            raise Unauthorized("unknown API key")
        lifetime = KeyLifetime(
            prefix=key.prefix,
            revoked_at=key.revoked_at,
            expires_at=key.expires_at,
            rotated_at=key.rotated_at,
            successor_prefix=_prefix_of(uow, key.successor_id),
        )
        tenant = uow.session.get(Tenant, tenant_id)
        user = uow.session.get(User, key.user_id) if key.user_id else None
        uow.session.expunge_all()  # read on after the unit of work, whose rollback expires
    refusal = lifetime.refusal(now)
    if refusal is not None:
        raise refusal
    assert tenant is not None, "an API key's tenant exists (its reference says so)"
    environment = Environment(tenant.environment)
    declared = api_keys.read(secret).environment
    if declared is not None and declared is not environment:
        raise KeyWrongEnvironment(
            f"key {key.prefix}... names the {declared} environment but belongs to the "
            f"{environment} environment of account {tenant.account_id}"
        )
    if user is not None and (user.disabled_at is not None or user.tenant_id != key.tenant_id):
        raise Unauthorized("the identity behind this API key is disabled")
    if clock is not None:
        _touch(sessions, key, clock)
    key_scope = AccessScope.from_json(key.scope)
    if user is None:
        return Principal(
            tenant_id=key.tenant_id,
            role=Role(key.role),
            name=key.name,
            subject=f"key:{key.id}",
            key_id=key.id,
            environment=environment,
            scope=key_scope,
        )
    return Principal(
        tenant_id=key.tenant_id,
        role=Role(user.role),
        name=user.display_name,
        subject=f"user:{user.id}",
        key_id=key.id,
        environment=environment,
        scope=AccessScope.from_json(user.scope).intersect(key_scope),
    )


def _prefix_of(uow: UnitOfWork, key_id: str | None) -> str | None:
    if key_id is None:
        return None
    return uow.session.scalar(
        select(ApiKey.prefix).where(ApiKey.tenant_id == uow.tenant_id, ApiKey.id == key_id)
    )


def _environment_info(tenant: Tenant) -> EnvironmentInfo:
    return EnvironmentInfo(
        tenant_id=tenant.id,
        account_id=tenant.account_id,
        environment=Environment(tenant.environment),
        created=False,
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
