"""Console sign-in: setting a person's password, checking it, and signing in and out.

Passwords are for people only (services use API keys), are hashed with scrypt, and every
change is audited without the secret; a change ends the person's sessions. A failed
sign-in says nothing about which part was wrong, so the form cannot be used to find out
who has an account. Sign-in is throttled (``console/throttle.py``); failures and
lock-outs are audited in the tenant's chain when the tenant exists.

A person who uses an authenticator (``tenancy/totp.py``) also gives its code; a wrong code
is a failure like a wrong password. A tenant whose single sign-on allows no passwords
(``tenancy/sso_config.py``) refuses every password before one is checked, so none can be
guessed there. Signing out of a session that single sign-on opened also answers where the
provider ends its own session (``tenancy/sso_sign_in.py``).
"""

from __future__ import annotations

from datetime import timedelta
from functools import cache

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.config import Settings
from orderops.console.security import MIN_PASSWORD_LENGTH, hash_password, verify_password
from orderops.console.throttle import Attempt, SignInThrottle
from orderops.domain.approver_provenance import IdentityActKind
from orderops.domain.clock import Clock
from orderops.domain.errors import NotFound, Unauthorized
from orderops.domain.roles import Role
from orderops.storage.tables import Tenant
from orderops.storage.tables.access import User
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.console_sessions import (
    LiveSession,
    SessionPolicy,
    end_session,
    revoke_sessions_for_user,
    start_session,
)
from orderops.tenancy.identity_acts import record_act
from orderops.tenancy.sso_config import passwords_allowed
from orderops.tenancy.sso_sign_in import issuer_sign_out_url
from orderops.tenancy.totp import CodeRefused, CodeRequired, check_code, disable_totp
from orderops.tenancy.users import InvalidUser, UserInfo, UserKind, get_user, list_users

LOGIN_REFUSED = "unknown tenant, email or password"


class PasswordsNotAllowed(Unauthorized):
    code = "passwords-not-allowed"


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
        ended = revoke_sessions_for_user(uow, user.id, now=clock.now(), reason="password set")
        uow.audit.append(
            at=clock.now(),
            actor=actor,
            action="user.password_set",
            entity_type="user",
            entity_id=user.id,
            data={"email": user.email, "sessions_ended": ended},
        )
        record_act(
            uow, act=IdentityActKind.PASSWORD_SET, actor=actor, at=clock.now(), user_id=user.id
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


def sign_in_throttle(
    sessions: sessionmaker[Session], settings: Settings, clock: Clock
) -> SignInThrottle:
    """The configured throttle every proof of who someone is spends (sign-in, and turning
    the authenticator off)."""
    return SignInThrottle(
        sessions,
        clock,
        per_account=settings.sign_in_limit_per_account,
        per_address=settings.sign_in_limit_per_address,
        per_tenant=settings.sign_in_limit_per_tenant,
    )


def session_policy(settings: Settings) -> SessionPolicy:
    return SessionPolicy(
        lifetime=timedelta(hours=settings.console_session_hours),
        idle=timedelta(minutes=settings.console_session_idle_minutes),
    )


def sign_in(
    sessions: sessionmaker[Session],
    *,
    settings: Settings,
    clock: Clock,
    tenant_id: str,
    email: str,
    password: str,
    address: str,
    code: str = "",
) -> tuple[UserInfo, LiveSession]:
    """Throttle, check the password (and the authenticator code of a person who uses one),
    open a server-side session (audited).

    Raises ``SignInThrottled`` (even for the right password) while the account or the
    address has spent its failures, and Unauthorized (one message) for a wrong password;
    ``CodeRequired``/``CodeRefused`` after a right password without a good code.
    """
    if tenant_id and not passwords_allowed(sessions, tenant_id=tenant_id):
        raise PasswordsNotAllowed(
            f"{tenant_id} signs in with single sign-on only; use its sign-in button instead."
        )
    throttle = sign_in_throttle(sessions, settings, clock)
    attempt = Attempt(tenant_id, email, address)
    throttle.reserve(attempt)
    try:
        user = check_login(sessions, tenant_id=tenant_id, email=email, password=password)
        check_code(
            sessions,
            tenant_id=tenant_id,
            user_id=user.id,
            code=code,
            secret_key=settings.secret_key,
            clock=clock,
        )
    except Unauthorized as exc:
        failures = throttle.failures(attempt)
        reason = "code" if isinstance(exc, CodeRequired | CodeRefused) else "password"
        _audit_failure(
            sessions,
            attempt,
            clock=clock,
            failures=failures,
            limit=throttle.account_limit,
            reason=reason,
        )
        raise
    throttle.succeeded(attempt)
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        live = start_session(
            uow,
            user_id=user.id,
            now=clock.now(),
            policy=session_policy(settings),
            address=address,
        )
        uow.audit.append(
            at=clock.now(),
            actor=user.subject,
            action="user.signed_in",
            entity_type="user",
            entity_id=user.id,
            data={"session_id": live.id, "address": address},
        )
        uow.commit()
    return user, live


def sign_out(
    sessions: sessionmaker[Session],
    live: LiveSession,
    *,
    clock: Clock,
    secret_key: str | None = None,
) -> str | None:
    """End the session; the identity provider's logout URL when single sign-on opened it
    and the provider has one (given ``secret_key``, which opens the ID token it hints with)."""
    with UnitOfWork(sessions, tenant_id=live.tenant_id) as uow:
        issuer_logout = None
        if end_session(uow, live, now=clock.now(), reason="signed out"):
            if secret_key is not None:
                issuer_logout = issuer_sign_out_url(uow, live.id, secret_key=secret_key)
            uow.audit.append(
                at=clock.now(),
                actor=f"user:{live.user_id}",
                action="user.signed_out",
                entity_type="user",
                entity_id=live.user_id,
                data={"session_id": live.id, "issuer_logout": issuer_logout is not None},
            )
        uow.commit()
    return issuer_logout


TOTP_PROOF_REFUSED = "Give your password, or a current code from your app, to turn it off."


class TotpProofRefused(Unauthorized):
    code = "totp-proof-refused"


def disable_own_totp(
    sessions: sessionmaker[Session],
    *,
    settings: Settings,
    clock: Clock,
    tenant_id: str,
    user: UserInfo,
    password: str,
    code: str,
    address: str,
) -> bool:
    """A signed-in person turns their own authenticator off, proving it is them with their
    password or a current code (a session left open is not enough: whoever sits at it
    could otherwise strip the second factor). Guesses spend the sign-in throttle of the
    account, like failed sign-ins. False when they had none."""
    throttle = sign_in_throttle(sessions, settings, clock)
    attempt = Attempt(tenant_id, user.email or user.id, address)
    throttle.reserve(attempt)
    if not _proves(sessions, settings, clock, tenant_id, user, password, code):
        raise TotpProofRefused(TOTP_PROOF_REFUSED)
    throttle.succeeded(attempt)
    return disable_totp(
        sessions, tenant_id=tenant_id, user_ref=user.id, clock=clock, actor=user.subject
    )


def _proves(
    sessions: sessionmaker[Session],
    settings: Settings,
    clock: Clock,
    tenant_id: str,
    user: UserInfo,
    password: str,
    code: str,
) -> bool:
    if password:
        with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
            stored = _find(uow, user.id).password_hash
        return verify_password(password, stored or _dummy_hash()) and stored is not None
    if not code.strip():
        return False
    try:
        check_code(
            sessions,
            tenant_id=tenant_id,
            user_id=user.id,
            code=code,
            secret_key=settings.secret_key,
            clock=clock,
        )
    except (CodeRequired, CodeRefused):
        return False
    return True


def _audit_failure(
    sessions: sessionmaker[Session],
    attempt: Attempt,
    *,
    clock: Clock,
    failures: int,
    limit: int,
    reason: str = "password",
) -> None:
    """A failure in the tenant's chain (none for an unknown tenant: there is no chain),
    naming the person only when the email is theirs, never what was typed otherwise."""
    with sessions() as session:
        if session.get(Tenant, attempt.tenant) is None:
            return
    with UnitOfWork(sessions, tenant_id=attempt.tenant) as uow:
        user = uow.session.scalar(
            select(User).where(
                User.tenant_id == attempt.tenant,
                func.lower(User.email) == attempt.email.strip().lower(),
            )
        )
        subject = user.id if user is not None else "unknown"
        facts = {
            "address": attempt.address,
            "failures": failures,
            "limit": limit,
            "reason": reason,
        }
        uow.audit.append(
            at=clock.now(),
            actor="system:sign-in",
            action="user.sign_in_failed",
            entity_type="user",
            entity_id=subject,
            data=facts,
        )
        if failures == limit:
            uow.audit.append(
                at=clock.now(),
                actor="system:sign-in",
                action="user.sign_in_locked",
                entity_type="user",
                entity_id=subject,
                data=facts,
            )
        uow.commit()


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
