"""Users and service identities of a tenant, and the API keys that act as them.

Decisions are attributed to identities, not keys: a person with two keys is still one
approver, and disabling the person stops every key at once. Every change is audited in
the same transaction; secrets are shown once and never stored or logged.

Acts that hand the actor power over an identity (creating it, changing its role, issuing
it a key; passwords in ``console/accounts.py``) are also noted in ``identity_acts``, so
approver eligibility can tell an admin's second identity from a second person. Actors are
stable ids (``user:<id>``, ``key:<id>``, ``cli``), never display names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.approver_provenance import IdentityActKind
from orderops.domain.clock import Clock
from orderops.domain.errors import DuplicateEvent, Forbidden, InvalidEvent, NotFound
from orderops.domain.roles import Role
from orderops.domain.scopes import UNRESTRICTED, AccessScope
from orderops.storage.tables import ApiKey
from orderops.storage.tables.access import User
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.console_sessions import revoke_sessions_for_user
from orderops.tenancy.identity_acts import record_act
from orderops.tenancy.tenants import IssuedKey, add_key

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class UserKind(StrEnum):
    HUMAN = "human"
    SERVICE = "service"


class UserExists(DuplicateEvent):
    code = "user-exists"


class InvalidUser(InvalidEvent):
    code = "invalid-user"


@dataclass(frozen=True, kw_only=True)
class UserInfo:
    id: str
    kind: UserKind
    email: str | None
    display_name: str
    role: Role
    created_at: datetime
    disabled_at: datetime | None

    @property
    def subject(self) -> str:
        return f"user:{self.id}"


@dataclass(frozen=True, kw_only=True)
class KeyInfo:
    id: str
    name: str
    prefix: str
    role: Role
    user_id: str | None
    created_at: datetime
    revoked_at: datetime | None
    last_used_at: datetime | None


def add_user(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    display_name: str,
    role: Role,
    clock: Clock,
    actor: str,
    email: str | None = None,
    kind: UserKind = UserKind.HUMAN,
) -> UserInfo:
    """A person needs an email (their one identity per tenant); a service needs none."""
    display_name = display_name.strip()
    email = email.strip().lower() if email else None
    if not display_name:
        raise InvalidUser("a display name is required")
    if kind is UserKind.HUMAN and (email is None or not _EMAIL.match(email)):
        raise InvalidUser(f"a person needs a valid email, got {email!r}")
    if kind is UserKind.SERVICE and role is not Role.SERVICE and email is None:
        raise InvalidUser("a service identity acting with a human role needs an owner email")
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        user = User(
            tenant_id=tenant_id,
            kind=kind,
            email=email,
            display_name=display_name,
            role=role,
            created_at=clock.now(),
        )
        try:
            with uow.session.begin_nested():
                uow.session.add(user)
        except IntegrityError as exc:
            raise UserExists(f"a user with email {email} already exists") from exc
        uow.audit.append(
            at=clock.now(),
            actor=actor,
            action="user.added",
            entity_type="user",
            entity_id=user.id,
            data={"kind": kind, "email": email, "display_name": display_name, "role": role},
        )
        record_act(uow, act=IdentityActKind.CREATED, actor=actor, at=clock.now(), user_id=user.id)
        uow.commit()
        return _info(user)


def list_users(sessions: sessionmaker[Session], *, tenant_id: str) -> list[UserInfo]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.scalars(
            select(User).where(User.tenant_id == tenant_id).order_by(User.created_at, User.id)
        )
        return [_info(u) for u in rows]


def get_user(uow: UnitOfWork, user_id: str) -> User:
    user = uow.session.scalar(
        select(User).where(User.tenant_id == uow.tenant_id, User.id == user_id)
    )
    if user is None:
        raise NotFound(f"no user {user_id}")
    return user


def disable_user(
    sessions: sessionmaker[Session], *, tenant_id: str, user_id: str, clock: Clock, actor: str
) -> UserInfo:
    """Stop the identity (and so all its keys) from acting; its past decisions remain."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        user = get_user(uow, user_id)
        if user.disabled_at is None:
            user.disabled_at = clock.now()
            revoke_sessions_for_user(uow, user.id, now=clock.now(), reason="user disabled")
            uow.audit.append(
                at=clock.now(),
                actor=actor,
                action="user.disabled",
                entity_type="user",
                entity_id=user.id,
                data={"email": user.email, "role": user.role},
            )
        uow.commit()
        return _info(user)


def change_role(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    user_id: str,
    role: Role,
    clock: Clock,
    actor: str,
) -> UserInfo:
    """Give the identity another role; its keys act with it from their next request."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        user = get_user(uow, user_id)
        if user.disabled_at is not None:
            raise InvalidUser(f"user {user_id} is disabled; enable a new one instead")
        if user.kind == UserKind.SERVICE and role is not Role.SERVICE and user.email is None:
            raise InvalidUser("a service identity acting with a human role needs an owner email")
        before = Role(user.role)
        if before is not role:
            user.role = role
            revoke_sessions_for_user(uow, user.id, now=clock.now(), reason="role changed")
            for key in uow.session.scalars(
                select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.user_id == user.id)
            ):
                key.role = role
            uow.audit.append(
                at=clock.now(),
                actor=actor,
                action="user.role_changed",
                entity_type="user",
                entity_id=user.id,
                data={"from": before, "to": role},
            )
            record_act(
                uow,
                act=IdentityActKind.ROLE_CHANGED,
                actor=actor,
                at=clock.now(),
                user_id=user.id,
            )
        uow.commit()
        return _info(user)


def issue_user_key(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    user_id: str,
    name: str,
    clock: Clock,
    actor: str,
    expires_at: datetime | None = None,
    granted_by: AccessScope = UNRESTRICTED,
) -> IssuedKey:
    """A key acting as the user (until ``expires_at`` when given), shown once.

    Whoever issues it holds its secret, so a scoped administrator may issue keys only for
    people whose scope lies within their own."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        user = get_user(uow, user_id)
        if user.disabled_at is not None:
            raise InvalidUser(f"user {user_id} is disabled; no key can be issued")
        sees = AccessScope.from_json(user.scope)
        if not sees.within(granted_by):
            raise Forbidden(
                f"a principal limited to {granted_by.describe()} may not issue a key for "
                f"{user.display_name}, who sees {sees.describe()}"
            )
        issued = add_key(
            uow,
            name=name,
            role=Role(user.role),
            clock=clock,
            user_id=user.id,
            actor=actor,
            expires_at=expires_at,
        )
        uow.commit()
        return issued


def list_keys(sessions: sessionmaker[Session], *, tenant_id: str) -> list[KeyInfo]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.scalars(
            select(ApiKey)
            .where(ApiKey.tenant_id == tenant_id)
            .order_by(ApiKey.created_at, ApiKey.id)
        )
        return [_key_info(k) for k in rows]


def revoke_key(
    sessions: sessionmaker[Session], *, tenant_id: str, key_id: str, clock: Clock, actor: str
) -> KeyInfo:
    """Revoking is final and immediate: the next request with the key answers 401."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        key = uow.session.scalar(
            select(ApiKey).where(ApiKey.tenant_id == tenant_id, ApiKey.id == key_id)
        )
        if key is None:
            raise NotFound(f"no API key {key_id}")
        if key.revoked_at is None:
            key.revoked_at = clock.now()
            uow.audit.append(
                at=clock.now(),
                actor=actor,
                action="api_key.revoked",
                entity_type="api_key",
                entity_id=key.id,
                data={"name": key.name, "prefix": key.prefix, "user_id": key.user_id},
            )
            record_act(
                uow,
                act=IdentityActKind.KEY_REVOKED,
                actor=actor,
                at=clock.now(),
                user_id=key.user_id,
                key_id=key.id,
            )
        uow.commit()
        return _key_info(key)


def _info(user: User) -> UserInfo:
    return UserInfo(
        id=user.id,
        kind=UserKind(user.kind),
        email=user.email,
        display_name=user.display_name,
        role=Role(user.role),
        created_at=user.created_at,
        disabled_at=user.disabled_at,
    )


def _key_info(key: ApiKey) -> KeyInfo:
    return KeyInfo(
        id=key.id,
        name=key.name,
        prefix=key.prefix,
        role=Role(key.role),
        user_id=key.user_id,
        created_at=key.created_at,
        revoked_at=key.revoked_at,
        last_used_at=key.last_used_at,
    )
