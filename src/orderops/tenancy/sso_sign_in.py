"""Signing a person in through their tenant's identity provider, and back out of it.

Start: a row for this sign-in (hashed state and nonce, sealed PKCE verifier) and a browser
token for a short-lived cookie, then the provider's authorization URL. Finish, on the
provider's redirect back: the cookie must name a row of its tenant whose browser secret and
state both match, that is unexpired and unused; the row is marked used in a transaction of
its own before anything else happens, so a replayed callback is refused even when the first
one failed later. Then the code is exchanged with the verifier, the ID token checked
(``tenancy/oidc.py``), the claims mapped to a role (``domain/sso.py``), the person found by
(tenant, issuer, ``sub``) or linked or provisioned, and a console session opened exactly as
a password sign-in opens one, with its audit record, in one transaction.

The tenant comes from the cookie set when this browser started, never from anything the
provider sends, so one tenant's provider cannot sign anyone into another tenant: the token
must also name this tenant's issuer and client.

A person already known by email (an account from before single sign-on) is linked only when
the provider vouches for the address (``email_verified``); otherwise anyone able to set an
email at the provider could take over the account that has it. Every outcome is audited in
the tenant's chain: sign-ins, provisioning, links, role changes and refusals with their
reason; tokens, codes and secrets never are.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.approver_provenance import IdentityActKind
from orderops.domain.clock import Clock
from orderops.domain.errors import Forbidden, OrderOpsError
from orderops.domain.roles import Role
from orderops.domain.sso import SsoSettings, role_for
from orderops.ingest.connections import SecretBox, SecretUnreadable
from orderops.storage.tables import ApiKey, Tenant
from orderops.storage.tables.access import User
from orderops.storage.tables.sso import SsoLogin, UserIdentity
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.console_sessions import (
    LiveSession,
    SessionPolicy,
    revoke_sessions_for_user,
    start_session,
)
from orderops.tenancy.identity_acts import record_act
from orderops.tenancy.oidc import (
    AuthorizationRequest,
    CodeRefused,
    OidcClient,
    ProviderUnavailable,
    TokenRejected,
    digest,
    end_session_url,
    same_digest,
)
from orderops.tenancy.sso_config import SsoNotConfigured, sso_client, sso_settings
from orderops.tenancy.users import UserInfo, UserKind

LOGIN_LIFETIME = timedelta(minutes=10)
KEEP_UNUSED = timedelta(days=1)
"""Sign-ins never finished are deleted this long after they lapsed (when the tenant next
starts one), kept that long so their refusals can still be looked up."""
ACTOR = "system:sso"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class SsoRefused(Forbidden):
    """The provider signed someone in, or tried to, and we do not let them in."""

    code = "sso-refused"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


class SignInNotMatched(SsoRefused):
    """The callback does not belong to a sign-in this browser started (state, cookie,
    expiry, replay): a request to start again, not a verdict on the person."""

    code = "sso-sign-in-not-matched"


@dataclass(frozen=True)
class Started:
    authorization_url: str
    browser_token: str
    """For the HttpOnly cookie that binds the callback to this browser."""


@dataclass(frozen=True)
class SignedIn:
    user: UserInfo
    session: LiveSession
    next_path: str
    provisioned: bool


@dataclass(frozen=True)
class _Login:
    tenant_id: str
    id: str
    issuer: str
    client_id: str
    redirect_uri: str
    next_path: str
    nonce_hash: str
    verifier: str


def start_sign_in(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    next_path: str,
    redirect_uri: str,
    secret_key: str,
    clock: Clock,
    client: OidcClient,
) -> Started:
    """A new sign-in for the tenant: where to send the browser, and its cookie's token."""
    with sessions() as session:
        if not tenant_id or session.get(Tenant, tenant_id) is None:
            raise SsoNotConfigured(f"tenant {tenant_id or '(none)'} has no single sign-on")
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        settings = sso_settings(uow)
    metadata = client.metadata(settings.issuer)
    request = AuthorizationRequest.new()
    browser_secret = secrets.token_urlsafe(32)
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        uow.session.execute(
            delete(SsoLogin).where(
                SsoLogin.tenant_id == tenant_id,
                SsoLogin.expires_at < now - KEEP_UNUSED,
                SsoLogin.console_session_id.is_(None),
            )
        )
        row = SsoLogin(
            tenant_id=tenant_id,
            browser_hash=digest(browser_secret),
            state_hash=digest(request.state),
            nonce_hash=digest(request.nonce),
            verifier_ciphertext=SecretBox(secret_key).seal(request.verifier, now=now),
            issuer=settings.issuer,
            client_id=settings.client_id,
            redirect_uri=redirect_uri,
            next_path=next_path,
            created_at=now,
            expires_at=now + LOGIN_LIFETIME,
        )
        uow.session.add(row)
        uow.session.flush()
        login_id = row.id
        uow.commit()
    url = client.authorization_url(
        metadata,
        client_id=settings.client_id,
        redirect_uri=redirect_uri,
        scopes=settings.scopes,
        request=request,
    )
    return Started(url, _browser_token(tenant_id, login_id, browser_secret))


def finish_sign_in(
    sessions: sessionmaker[Session],
    *,
    browser_token: str | None,
    state: str | None,
    code: str | None,
    provider_error: str | None,
    post_logout_redirect_uri: str,
    secret_key: str,
    clock: Clock,
    client: OidcClient,
    policy: SessionPolicy,
    address: str,
    leeway_seconds: int,
) -> SignedIn:
    """The provider's redirect back: checked, then a console session for the person.

    Raises ``SignInNotMatched`` for a callback this browser did not start (or already
    used), ``SsoRefused`` for a person we do not let in, ``CodeRefused``/``TokenRejected``
    when the provider's answer fails a check, ``ProviderUnavailable`` when it cannot be
    reached; every one of them after an audit record when the tenant is known."""
    parsed = _parse_browser_token(browser_token)
    if parsed is None:
        raise SignInNotMatched(
            "no-sign-in",
            "This sign-in was not started in this browser, or its cookie has expired. Start again.",
        )
    tenant_id, login_id, browser_secret = parsed
    login = _use_login(sessions, tenant_id, login_id, browser_secret, state, clock, secret_key)
    facts: dict[str, Any] = {"issuer": login.issuer, "address": address}
    try:
        if provider_error:
            raise SsoRefused(
                "provider-error",
                f"The identity provider did not sign you in ({provider_error[:80]}).",
            )
        if not code:
            raise SsoRefused("no-code", "The identity provider sent no authorization code.")
        with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
            configured = sso_client(uow, secret_key=secret_key)
        settings = configured.settings
        if (settings.issuer, settings.client_id) != (login.issuer, login.client_id):
            raise SsoRefused(
                "settings-changed",
                "Single sign-on was reconfigured while you were signing in. Start again.",
            )
        metadata = client.metadata(settings.issuer)
        id_token = client.exchange_code(
            metadata,
            client_id=settings.client_id,
            client_secret=configured.client_secret,
            code=code,
            redirect_uri=login.redirect_uri,
            verifier=login.verifier,
        )
        claims = client.verify_id_token(
            metadata,
            id_token,
            client_id=settings.client_id,
            nonce_digest=login.nonce_hash,
            now=clock.now(),
            leeway_seconds=leeway_seconds,
        )
        facts |= {"subject": str(claims["sub"])[:255], "email": _email_of(claims)}
        sealed_token = SecretBox(secret_key).seal(id_token, now=clock.now())
        return _admit(
            sessions,
            login,
            settings,
            claims,
            sealed_token=sealed_token,
            end_session_endpoint=metadata.end_session_endpoint,
            post_logout_redirect_uri=post_logout_redirect_uri,
            clock=clock,
            policy=policy,
            address=address,
        )
    except (SsoRefused, CodeRefused, TokenRejected, ProviderUnavailable, SsoNotConfigured) as exc:
        _refused(sessions, login, exc, facts, clock)
        raise


def issuer_sign_out_url(uow: UnitOfWork, session_id: str, *, secret_key: str) -> str | None:
    """Where to send the browser to end the provider's session too, when the console session
    came from single sign-on and the provider publishes an end-session endpoint; the stored
    ID token is dropped (it was kept only as this ``id_token_hint``)."""
    row = uow.session.scalar(
        select(SsoLogin).where(
            SsoLogin.tenant_id == uow.tenant_id, SsoLogin.console_session_id == session_id
        )
    )
    if row is None or row.end_session_endpoint is None:
        return None
    id_token = None
    if row.id_token_ciphertext is not None:
        try:
            id_token = SecretBox(secret_key).open(row.id_token_ciphertext)
        except SecretUnreadable:
            id_token = None  # the secret key changed: log out without the hint
        row.id_token_ciphertext = None
    return end_session_url(
        row.end_session_endpoint,
        id_token=id_token,
        client_id=row.client_id,
        post_logout_redirect_uri=row.post_logout_redirect_uri,
    )


def _use_login(
    sessions: sessionmaker[Session],
    tenant_id: str,
    login_id: str,
    browser_secret: str,
    state: str | None,
    clock: Clock,
    secret_key: str,
) -> _Login:
    """The sign-in the cookie names, marked used (committed) when the callback matches it."""
    now = clock.now()
    with sessions() as session:
        if session.get(Tenant, tenant_id) is None:
            raise SignInNotMatched("no-sign-in", "This sign-in is unknown here. Start again.")
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = uow.session.scalar(
            select(SsoLogin).where(SsoLogin.tenant_id == tenant_id, SsoLogin.id == login_id)
        )
        refusal: SignInNotMatched | None = None
        if row is None or not same_digest(browser_secret, row.browser_hash):
            refusal = SignInNotMatched("no-sign-in", "This sign-in is unknown here. Start again.")
        elif not same_digest(state, row.state_hash):
            refusal = SignInNotMatched(
                "state-mismatch",
                "The identity provider's answer does not belong to the sign-in this browser "
                "started. Start again.",
            )
        elif row.used_at is not None:
            refusal = SignInNotMatched(
                "state-replayed", "This sign-in was already used. Start again."
            )
        elif now >= row.expires_at:
            refusal = SignInNotMatched("expired", "This sign-in took too long. Start again.")
        elif not _claim(uow, row.id, now):
            refusal = SignInNotMatched(
                "state-replayed", "This sign-in was already used. Start again."
            )
        if refusal is not None:
            # A cookie naming no sign-in of this tenant is noise anyone can send: refused
            # without a record. A real sign-in refused (its state, a replay) is recorded.
            if row is not None and refusal.reason != "no-sign-in":
                _audit_refusal(uow, row, refusal.reason, {}, now)
                uow.commit()
            raise refusal
        assert row is not None
        login = _Login(
            tenant_id=tenant_id,
            id=row.id,
            issuer=row.issuer,
            client_id=row.client_id,
            redirect_uri=row.redirect_uri,
            next_path=row.next_path,
            nonce_hash=row.nonce_hash,
            verifier=SecretBox(secret_key).open(row.verifier_ciphertext),
        )
        uow.commit()
    return login


def _claim(uow: UnitOfWork, login_id: str, now: datetime) -> bool:
    """Mark the sign-in used unless a concurrent callback already did (one winner)."""
    result = uow.session.execute(
        update(SsoLogin)
        .where(
            SsoLogin.tenant_id == uow.tenant_id,
            SsoLogin.id == login_id,
            SsoLogin.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def _admit(
    sessions: sessionmaker[Session],
    login: _Login,
    settings: SsoSettings,
    claims: dict[str, Any],
    *,
    sealed_token: str,
    end_session_endpoint: str | None,
    post_logout_redirect_uri: str,
    clock: Clock,
    policy: SessionPolicy,
    address: str,
) -> SignedIn:
    now = clock.now()
    subject = str(claims["sub"])
    email = _email_of(claims)
    role = role_for(claims, settings.rules)
    try:
        with UnitOfWork(sessions, tenant_id=login.tenant_id) as uow:
            link = uow.session.scalar(
                select(UserIdentity).where(
                    UserIdentity.tenant_id == login.tenant_id,
                    UserIdentity.issuer == settings.issuer,
                    UserIdentity.subject == subject,
                )
            )
            user = _user(uow, link.user_id) if link is not None else _by_email(uow, email)
            if user is not None and user.kind != UserKind.HUMAN:
                raise SsoRefused("not-a-person", "Single sign-on is for people only.")
            if user is not None and user.disabled_at is not None:
                raise SsoRefused("disabled", "Your account here is disabled. Ask an administrator.")
            if role is None:
                raise SsoRefused(
                    "no-role",
                    f"{settings.display_name} signed you in, but none of this tenant's rules "
                    "gives you a role here. Ask an administrator to add you to a group that "
                    "has one.",
                )
            provisioned = False
            if user is None:
                if not settings.provision:
                    raise SsoRefused(
                        "not-provisioned",
                        "You have no account here yet, and accounts are not created at first "
                        "sign-in. Ask an administrator.",
                    )
                if email is None:
                    raise SsoRefused(
                        "no-email",
                        "The identity provider sent no email address, which an account needs.",
                    )
                user = _provision(uow, claims, email, role, now)
                provisioned = True
            if link is None:
                if not provisioned and claims.get("email_verified") is not True:
                    raise SsoRefused(
                        "unverified-email",
                        "An account with your email exists, but the identity provider has not "
                        "verified that the address is yours. Ask an administrator.",
                    )
                link = _link(uow, user, settings.issuer, subject, now, provisioned=provisioned)
            if Role(user.role) is not role:
                _change_role(uow, user, role, now)
            link.email = email
            link.last_signed_in_at = now
            live = start_session(uow, user_id=user.id, now=now, policy=policy, address=address)
            uow.audit.append(
                at=now,
                actor=f"user:{user.id}",
                action="user.signed_in",
                entity_type="user",
                entity_id=user.id,
                data={
                    "session_id": live.id,
                    "address": address,
                    "method": "sso",
                    "issuer": settings.issuer,
                    "subject": subject,
                },
            )
            uow.session.execute(
                update(SsoLogin)
                .where(SsoLogin.tenant_id == login.tenant_id, SsoLogin.id == login.id)
                .values(
                    outcome="signed_in",
                    user_id=user.id,
                    console_session_id=live.id,
                    id_token_ciphertext=sealed_token if end_session_endpoint else None,
                    end_session_endpoint=end_session_endpoint,
                    post_logout_redirect_uri=post_logout_redirect_uri,
                )
            )
            info = _info(user)
            uow.commit()
    except IntegrityError as exc:
        raise SsoRefused(
            "conflict", "Another sign-in of yours was being set up at the same time. Try again."
        ) from exc
    return SignedIn(info, live, login.next_path, provisioned)


def _user(uow: UnitOfWork, user_id: str) -> User | None:
    return uow.session.scalar(
        select(User).where(User.tenant_id == uow.tenant_id, User.id == user_id)
    )


def _by_email(uow: UnitOfWork, email: str | None) -> User | None:
    if email is None:
        return None
    return uow.session.scalar(
        select(User).where(User.tenant_id == uow.tenant_id, func.lower(User.email) == email)
    )


def _provision(
    uow: UnitOfWork, claims: dict[str, Any], email: str, role: Role, now: datetime
) -> User:
    name = next(
        (
            str(claims[key]).strip()
            for key in ("name", "preferred_username")
            if isinstance(claims.get(key), str) and str(claims[key]).strip()
        ),
        email,
    )[:200]
    user = User(
        tenant_id=uow.tenant_id,
        kind=UserKind.HUMAN,
        email=email,
        display_name=name,
        role=role,
        created_at=now,
    )
    uow.session.add(user)
    uow.session.flush()
    uow.audit.append(
        at=now,
        actor=ACTOR,
        action="user.added",
        entity_type="user",
        entity_id=user.id,
        data={
            "kind": UserKind.HUMAN,
            "email": email,
            "display_name": name,
            "role": role,
            "provisioned_by": "sso",
        },
    )
    record_act(uow, act=IdentityActKind.CREATED, actor=ACTOR, at=now, user_id=user.id)
    return user


def _link(
    uow: UnitOfWork, user: User, issuer: str, subject: str, now: datetime, *, provisioned: bool
) -> UserIdentity:
    link = UserIdentity(
        tenant_id=uow.tenant_id,
        user_id=user.id,
        issuer=issuer,
        subject=subject,
        created_at=now,
        last_signed_in_at=now,
    )
    uow.session.add(link)
    uow.session.flush()
    uow.audit.append(
        at=now,
        actor=ACTOR,
        action="user.sso_linked",
        entity_type="user",
        entity_id=user.id,
        data={"issuer": issuer, "subject": subject, "provisioned": provisioned},
    )
    return link


def _change_role(uow: UnitOfWork, user: User, role: Role, now: datetime) -> None:
    """The provider's groups decide the role of a person who signs in through it; a change
    applies as ``tenancy/users.change_role`` applies one (keys too, sessions ended)."""
    before = user.role
    user.role = role
    revoke_sessions_for_user(uow, user.id, now=now, reason="role changed")
    for key in uow.session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == uow.tenant_id, ApiKey.user_id == user.id)
    ):
        key.role = role
    uow.audit.append(
        at=now,
        actor=ACTOR,
        action="user.role_changed",
        entity_type="user",
        entity_id=user.id,
        data={"from": before, "to": role, "by": "sso claims"},
    )
    record_act(uow, act=IdentityActKind.ROLE_CHANGED, actor=ACTOR, at=now, user_id=user.id)


def _refused(
    sessions: sessionmaker[Session],
    login: _Login,
    error: OrderOpsError,
    facts: dict[str, Any],
    clock: Clock,
) -> None:
    reason = getattr(error, "reason", error.code)
    with UnitOfWork(sessions, tenant_id=login.tenant_id) as uow:
        row = uow.session.scalar(
            select(SsoLogin).where(SsoLogin.tenant_id == login.tenant_id, SsoLogin.id == login.id)
        )
        _audit_refusal(uow, row, str(reason), facts, clock.now())
        uow.commit()


def _audit_refusal(
    uow: UnitOfWork, row: SsoLogin | None, reason: str, facts: dict[str, Any], now: datetime
) -> None:
    if row is None:
        return
    row.outcome = reason[:32]
    uow.audit.append(
        at=now,
        actor=ACTOR,
        action="user.sso_refused",
        entity_type="sso_login",
        entity_id=row.id,
        data={"reason": reason, **facts},
    )


def _email_of(claims: dict[str, Any]) -> str | None:
    email = claims.get("email")
    if not isinstance(email, str):
        return None
    email = email.strip().lower()
    return email if _EMAIL.match(email) and len(email) <= 320 else None


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


def _browser_token(tenant_id: str, login_id: str, secret: str) -> str:
    tenant = base64.urlsafe_b64encode(tenant_id.encode("utf-8")).decode("ascii").rstrip("=")
    return f"{login_id}.{secret}.{tenant}"


def _parse_browser_token(token: str | None) -> tuple[str, str, str] | None:
    if not token or len(token) > 400 or token.count(".") != 2:
        return None
    login_id, secret, tenant = token.split(".")
    try:
        tenant_id = base64.urlsafe_b64decode(tenant + "=" * (-len(tenant) % 4)).decode("utf-8")
    except (ValueError, UnicodeError):
        return None
    if not login_id or not secret or not tenant_id:
        return None
    return tenant_id, login_id, secret
