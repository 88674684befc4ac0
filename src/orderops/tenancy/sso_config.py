"""A tenant's single sign-on client: set, shown, removed, and read for a sign-in.

The client secret is sealed with the same Fernet facility as webhook signing secrets
(``ingest/connections.py``: a key derived from ``ORDEROPS_SECRET_KEY``) and is never shown
again, logged or put in an audit record; the record says only whether it changed. Changing
the issuer or client does not touch existing identity links: they are keyed by issuer, so
people of a new provider are linked afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import NotFound
from orderops.domain.sso import ClaimRule, InvalidSsoSettings, SsoSettings
from orderops.ingest.connections import SecretBox, SecretUnreadable
from orderops.storage.tables import Tenant
from orderops.storage.tables.sso import SsoConfig
from orderops.storage.uow import UnitOfWork

MIN_CLIENT_SECRET_LENGTH = 8


class SsoNotConfigured(NotFound):
    code = "sso-not-configured"


@dataclass(frozen=True, kw_only=True)
class SsoView:
    """The configuration as shells show it: never the secret."""

    tenant_id: str
    settings: SsoSettings
    updated_at: datetime
    updated_by: str


@dataclass(frozen=True, kw_only=True)
class SsoClient:
    """What a sign-in needs: the settings and the opened secret."""

    settings: SsoSettings
    client_secret: str


def set_sso(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    settings: SsoSettings,
    client_secret: str | None,
    secret_key: str,
    clock: Clock,
    actor: str,
) -> SsoView:
    """Create or replace the tenant's client. A new client needs a secret; an update without
    one keeps the stored secret."""
    if client_secret is not None and len(client_secret.strip()) < MIN_CLIENT_SECRET_LENGTH:
        raise InvalidSsoSettings(
            f"a client secret needs at least {MIN_CLIENT_SECRET_LENGTH} characters"
        )
    with sessions() as session:
        if session.get(Tenant, tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _row(uow)
        if row is None and client_secret is None:
            raise InvalidSsoSettings("a new single sign-on client needs its client secret")
        sealed = (
            SecretBox(secret_key).seal(client_secret.strip(), now=now)
            if client_secret is not None
            else None
        )
        if row is None:
            assert sealed is not None
            row = SsoConfig(tenant_id=tenant_id, created_at=now, client_secret_ciphertext=sealed)
            uow.session.add(row)
        elif sealed is not None:
            row.client_secret_ciphertext = sealed
        row.display_name = settings.display_name.strip()
        row.issuer = settings.issuer
        row.client_id = settings.client_id.strip()
        row.scopes = " ".join(settings.scopes)
        row.role_rules = [str(rule) for rule in settings.rules]
        row.provision = settings.provision
        row.allow_passwords = settings.allow_passwords
        row.updated_at = now
        row.updated_by = actor
        uow.session.flush()
        uow.audit.append(
            at=now,
            actor=actor,
            action="sso.configured",
            entity_type="sso_config",
            entity_id=row.id,
            data={
                "display_name": row.display_name,
                "issuer": row.issuer,
                "client_id": row.client_id,
                "scopes": row.scopes,
                "role_rules": row.role_rules,
                "provision": row.provision,
                "allow_passwords": row.allow_passwords,
                "secret_changed": sealed is not None,
            },
        )
        uow.commit()
        return _view(row)


def show_sso(sessions: sessionmaker[Session], *, tenant_id: str) -> SsoView | None:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        row = _row(uow)
        return None if row is None else _view(row)


def remove_sso(
    sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock, actor: str
) -> None:
    """Stop single sign-on for the tenant; people keep their accounts (and, where allowed,
    their passwords), and sessions already open run their course."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _configured(uow)
        uow.audit.append(
            at=clock.now(),
            actor=actor,
            action="sso.removed",
            entity_type="sso_config",
            entity_id=row.id,
            data={"issuer": row.issuer, "client_id": row.client_id},
        )
        uow.session.execute(
            delete(SsoConfig).where(SsoConfig.tenant_id == tenant_id, SsoConfig.id == row.id)
        )
        uow.commit()


def sso_settings(uow: UnitOfWork) -> SsoSettings:
    """The tenant's settings, in the caller's unit of work; SsoNotConfigured without any."""
    return _settings(_configured(uow))


def sso_client(uow: UnitOfWork, *, secret_key: str) -> SsoClient:
    """The tenant's client for finishing a sign-in, secret opened."""
    row = _configured(uow)
    return SsoClient(settings=_settings(row), client_secret=open_secret(secret_key, row))


def passwords_allowed(sessions: sessionmaker[Session], *, tenant_id: str) -> bool:
    """False only when the tenant signs in through its provider alone."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        allowed = uow.session.scalar(
            select(SsoConfig.allow_passwords).where(SsoConfig.tenant_id == tenant_id)
        )
    return allowed is None or bool(allowed)


def open_secret(secret_key: str, row: SsoConfig) -> str:
    try:
        return SecretBox(secret_key).open(row.client_secret_ciphertext)
    except SecretUnreadable as exc:
        raise SecretUnreadable(
            "the single sign-on client secret does not decrypt with the current "
            "ORDEROPS_SECRET_KEY; restore the old key or set the secret again "
            "(orderops sso set --secret-stdin)"
        ) from exc


def _row(uow: UnitOfWork) -> SsoConfig | None:
    return uow.session.scalar(select(SsoConfig).where(SsoConfig.tenant_id == uow.tenant_id))


def _configured(uow: UnitOfWork) -> SsoConfig:
    row = _row(uow)
    if row is None:
        raise SsoNotConfigured(f"tenant {uow.tenant_id} has no single sign-on")
    return row


def _settings(row: SsoConfig) -> SsoSettings:
    return SsoSettings(
        display_name=row.display_name,
        issuer=row.issuer,
        client_id=row.client_id,
        scopes=tuple(row.scopes.split()),
        rules=tuple(ClaimRule.parse(text) for text in row.role_rules),
        provision=row.provision,
        allow_passwords=row.allow_passwords,
    )


def _view(row: SsoConfig) -> SsoView:
    return SsoView(
        tenant_id=row.tenant_id,
        settings=_settings(row),
        updated_at=row.updated_at,
        updated_by=row.updated_by,
    )
