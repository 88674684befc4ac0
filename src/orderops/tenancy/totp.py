"""Time-based one-time codes (RFC 6238) as a second step of password sign-in.

Optional per person and for local passwords only: people who sign in through their
tenant's identity provider get whatever second factor the provider enforces. Enabling
makes a new random secret, seals it with the same Fernet facility as other secrets at
rest (``ingest/connections.py``) and answers the ``otpauth://`` URI once, for an
authenticator app; it cannot be shown again, only replaced by disabling and enabling.

A code is accepted for the current 30-second step or one step either side (clocks drift,
people type slowly), and only for a step later than the last one accepted: the step is
stored with a conditional UPDATE, so a code seen over a shoulder, or sent twice at once,
signs in once. A wrong code is a failed sign-in like a wrong password
(``console/accounts.py``), so guessing codes spends the same throttle.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass
from datetime import datetime

import pyotp
from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import Conflict, NotFound, Unauthorized
from orderops.ingest.connections import SecretBox, SecretUnreadable
from orderops.storage.tables.access import User
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.users import InvalidUser, UserKind

STEP_SECONDS = 30
DIGITS = 6
WINDOW = 1
"""Steps accepted either side of the current one."""
ISSUER = "OrderOps"
_CODE = re.compile(rf"^\d{{{DIGITS}}}$")


class TotpAlreadyEnabled(Conflict):
    code = "totp-already-enabled"


class CodeRequired(Unauthorized):
    """The password was right and the person uses codes: ask for one."""

    code = "totp-required"


class CodeRefused(Unauthorized):
    code = "totp-refused"


CODE_REQUIRED = "Enter the 6-digit code from your authenticator app as well."
CODE_REFUSED = "That code is wrong or was already used; wait for the next one."


@dataclass(frozen=True)
class Enrollment:
    user_id: str
    email: str | None
    uri: str
    """``otpauth://totp/...``: shown once, for the person's authenticator app."""


def accepted_step(secret: str, code: str, *, now: datetime, last_step: int | None) -> int | None:
    """The step ``code`` belongs to, within the window and after ``last_step``; None when
    it belongs to none (wrong, stale, or already used)."""
    code = code.strip()
    if not _CODE.match(code):
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS)
    current = totp.timecode(int(now.timestamp()))
    for step in range(current - WINDOW, current + WINDOW + 1):
        if last_step is not None and step <= last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), code):
            return step
    return None


def enable_totp(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    user_ref: str,
    secret_key: str,
    clock: Clock,
    actor: str,
) -> Enrollment:
    """Give the person (by id or email) a new secret; refused while one is enabled, so a
    secret an authenticator holds is never replaced behind the person's back."""
    secret = pyotp.random_base32()
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        user = _find(uow, user_ref)
        if user.kind != UserKind.HUMAN:
            raise InvalidUser("service identities sign in with API keys, not codes")
        if user.totp_secret_ciphertext is not None:
            raise TotpAlreadyEnabled(
                f"{user.email} already uses an authenticator; disable it first to enrol again"
            )
        user.totp_secret_ciphertext = SecretBox(secret_key).seal(secret, now=now)
        user.totp_enabled_at = now
        user.totp_last_step = None
        uow.audit.append(
            at=now,
            actor=actor,
            action="user.totp_enabled",
            entity_type="user",
            entity_id=user.id,
            data={"email": user.email},
        )
        uow.commit()
        uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
            name=user.email or user.id, issuer_name=f"{ISSUER} ({tenant_id})"
        )
        return Enrollment(user.id, user.email, uri)


@dataclass(frozen=True)
class PendingEnrollment:
    """A secret offered to a person, not yet theirs: it becomes theirs once they confirm it
    with a code their app computed from it (``confirm_totp``), so a secret they never
    scanned cannot lock them out."""

    secret: str
    """Base32, for typing into an app that cannot read the URI."""
    uri: str
    sealed: str
    """The secret and the person it was offered to, encrypted for the confirming form."""


class EnrollmentUnusable(InvalidUser):
    code = "totp-enrollment-unusable"


def offer_totp(
    *, tenant_id: str, user_id: str, email: str | None, secret_key: str, clock: Clock
) -> PendingEnrollment:
    """A new secret for the person to scan; nothing is stored until they confirm it."""
    secret = pyotp.random_base32()
    uri = pyotp.TOTP(secret, digits=DIGITS, interval=STEP_SECONDS).provisioning_uri(
        name=email or user_id, issuer_name=f"{ISSUER} ({tenant_id})"
    )
    sealed = SecretBox(secret_key).seal(f"{tenant_id}:{user_id}:{secret}", now=clock.now())
    return PendingEnrollment(secret=secret, uri=uri, sealed=sealed)


def confirm_totp(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    user_id: str,
    sealed: str,
    code: str,
    secret_key: str,
    clock: Clock,
    actor: str,
) -> None:
    """Make the offered secret the person's, given a current code from it (audited).

    The offer must be one made to this person in this tenant (it is sealed with both);
    the confirming code's step counts as used, so it cannot also sign in."""
    try:
        owner_tenant, owner, secret = SecretBox(secret_key).open(sealed).split(":", 2)
    except (SecretUnreadable, ValueError) as exc:
        raise EnrollmentUnusable("that setup is not readable; start again") from exc
    if (owner_tenant, owner) != (tenant_id, user_id):
        raise EnrollmentUnusable("that setup was made for someone else; start again")
    now = clock.now()
    step = accepted_step(secret, code, now=now, last_step=None)
    if step is None:
        raise CodeRefused("That code does not match the new secret; check the app's clock.")
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        user = _find(uow, user_id)
        if user.kind != UserKind.HUMAN:
            raise InvalidUser("service identities sign in with API keys, not codes")
        if user.totp_secret_ciphertext is not None:
            raise TotpAlreadyEnabled("you already use an authenticator; disable it first")
        user.totp_secret_ciphertext = SecretBox(secret_key).seal(secret, now=now)
        user.totp_enabled_at = now
        user.totp_last_step = step
        uow.audit.append(
            at=now,
            actor=actor,
            action="user.totp_enabled",
            entity_type="user",
            entity_id=user.id,
            data={"email": user.email, "confirmed_with_code": True},
        )
        uow.commit()


def uses_totp(sessions: sessionmaker[Session], *, tenant_id: str, user_id: str) -> bool:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        return _find(uow, user_id).totp_secret_ciphertext is not None


def disable_totp(
    sessions: sessionmaker[Session], *, tenant_id: str, user_ref: str, clock: Clock, actor: str
) -> bool:
    """Drop the person's secret; False when they had none (nothing changes, nothing audited)."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        user = _find(uow, user_ref)
        if user.totp_secret_ciphertext is None:
            return False
        user.totp_secret_ciphertext = None
        user.totp_enabled_at = None
        user.totp_last_step = None
        uow.audit.append(
            at=clock.now(),
            actor=actor,
            action="user.totp_disabled",
            entity_type="user",
            entity_id=user.id,
            data={"email": user.email},
        )
        uow.commit()
        return True


def check_code(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    user_id: str,
    code: str,
    secret_key: str,
    clock: Clock,
) -> None:
    """Nothing for a person without codes; otherwise the code must be good and unused.

    Raises CodeRequired for a missing code and CodeRefused for a wrong or reused one."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        user = _find(uow, user_id)
        if user.totp_secret_ciphertext is None:
            return
        if not code.strip():
            raise CodeRequired(CODE_REQUIRED)
        secret = SecretBox(secret_key).open(user.totp_secret_ciphertext)
        step = accepted_step(secret, code, now=clock.now(), last_step=user.totp_last_step)
        if step is None:
            raise CodeRefused(CODE_REFUSED)
        spent = uow.session.execute(
            update(User)
            .where(
                User.tenant_id == tenant_id,
                User.id == user.id,
                or_(User.totp_last_step.is_(None), User.totp_last_step < step),
            )
            .values(totp_last_step=step)
        )
        if not spent.rowcount:  # type: ignore[attr-defined]
            raise CodeRefused(CODE_REFUSED)  # the same code, accepted a moment ago
        uow.commit()


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
