"""Console sign-in: setting a person's password and checking it.

Passwords are for people only (services use API keys), are hashed with scrypt, and every
change is audited without the secret. A failed sign-in says nothing about which part was
wrong, so the form cannot be used to find out who has an account.
"""

from __future__ import annotations

from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.console.security import MIN_PASSWORD_LENGTH, hash_password, verify_password
from orderops.domain.clock import Clock
from orderops.domain.errors import NotFound, Unauthorized
from orderops.domain.roles import Role
from orderops.storage.tables.access import User
from orderops.storage.uow import UnitOfWork
from orderops.workflow.users import InvalidUser, UserInfo, UserKind, get_user, list_users

LOGIN_REFUSED = "unknown tenant, email or password"


def set_password(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    user_ref: str,
    password: str,
    clock: Clock,
    actor: str,
) -> UserInfo:
    """Set the console password of the person named by id or email."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidUser(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        user = _find(uow, user_ref)
        if user.kind != UserKind.HUMAN:
            raise InvalidUser("service identities sign in with API keys, not passwords")
        user.password_hash = hash_password(password)
        uow.audit.append(
            at=clock.now(),
            actor=actor,
            action="user.password_set",
            entity_type="user",
            entity_id=user.id,
            data={"email": user.email},
        )
        uow.commit()
        user_id = user.id
    (info,) = [u for u in list_users(sessions, tenant_id=tenant_id) if u.id == user_id]
    return info


def check_login(
    sessions: sessionmaker[Session], *, tenant_id: str, email: str, password: str
) -> UserInfo:
    """The active person with these credentials; Unauthorized otherwise (one message)."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        user = uow.session.scalar(
            select(User).where(
                User.tenant_id == tenant_id, func.lower(User.email) == email.strip().lower()
            )
        )
        stored = user.password_hash if user is not None else None
        # Hash even for unknown users, so timing does not reveal who exists.
        valid = verify_password(password, stored or _dummy_hash())
        if user is None or stored is None or not valid or user.disabled_at is not None:
            raise Unauthorized(LOGIN_REFUSED)
        user_id = user.id
    (info,) = [u for u in list_users(sessions, tenant_id=tenant_id) if u.id == user_id]
    return info


def active_user(sessions: sessionmaker[Session], *, tenant_id: str, user_id: str) -> UserInfo:
    """The session's user as of now; Unauthorized once disabled or gone."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        try:
            user = get_user(uow, user_id)
        except NotFound as exc:
            raise Unauthorized("your account no longer exists") from exc
        if user.disabled_at is not None:
            raise Unauthorized("your account is disabled")
        return UserInfo(
            id=user.id,
            kind=UserKind(user.kind),
            email=user.email,
            display_name=user.display_name,
            role=Role(user.role),
            created_at=user.created_at,
            disabled_at=user.disabled_at,
        )


def _find(uow: UnitOfWork, user_ref: str) -> User:
    user = uow.session.scalar(
        select(User).where(
            User.tenant_id == uow.tenant_id,
            (User.id == user_ref) | (func.lower(User.email) == user_ref.strip().lower()),
        )
    )
    if user is None:
        raise NotFound(f"no user {user_ref}")
    return user


@cache
def _dummy_hash() -> str:
    """A hash to check unknown users against, so refusals take as long as real checks."""
    return hash_password("not-a-real-password", salt=b"0123456789abcdef")
