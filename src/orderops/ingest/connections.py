"""Connecting a tenant's provider account: its signing secret and its webhook URL.

The secret is what proves a webhook came from the retailer's own Shopify, Stripe,
carrier or desk account, so it is stored encrypted (Fernet, with a key derived from
``Settings.secret_key``) and shown only once, when OrderOps generated it. The endpoint
token in the URL only routes a delivery to its tenant; the signature is still what
authenticates it. Every change is audited, without the secret.

A rotation can keep the replaced secret valid for an overlap: a provider switches to a new
secret when someone pastes it into its dashboard, and deliveries it signed before (or
retries of them) still carry the old signature. Until the overlap ends, a delivery signed
with either secret verifies; after it, only the new one does. One previous secret is
kept: rotating again during an overlap replaces it with the secret just retired.
"""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import ConfigurationError, IllegalTransition, NotFound, OrderOpsError
from orderops.ingest.webhook_sources import WebhookSource as WebhookSource
from orderops.storage.tables.sources import SourceConnection
from orderops.storage.tenant_lookups import tenant_of_endpoint
from orderops.storage.uow import UnitOfWork

KEY_INFO = b"orderops/webhook-signing-secrets/v1"
"""HKDF context: a key derived for these secrets is useless for anything else."""

MIN_SECRET_LENGTH = 32
"""Bytes of secret material (UTF-8) a signing secret needs at least: HMAC-SHA256 is only
as strong as its key, and a short one can be guessed offline from a single captured,
signed delivery. Generated secrets have 43 characters (32 random bytes, base64url);
providers' own secrets already meet it (a Shopify app secret is 32 hex characters, or
``shpss_`` and 32; Stripe's ``whsec_`` secrets are longer)."""


class EndpointNotFound(NotFound):
    """No enabled connection has this token for this source (one answer for all three)."""

    code = "webhook-endpoint-not-found"


class SourceNotConnected(NotFound):
    code = "source-not-connected"


class SourceAlreadyConnected(IllegalTransition):
    """Connecting twice would silently replace a secret the provider still signs with."""

    code = "source-already-connected"


class InvalidSecret(OrderOpsError):
    """A secret too short to resist guessing (the API maps it to 400)."""

    code = "invalid-secret"


class SecretUnreadable(ConfigurationError):
    """The stored secret does not decrypt: ``ORDEROPS_SECRET_KEY`` changed since it was set."""

    code = "secret-unreadable"


class SecretBox:
    """Encrypts signing secrets with a Fernet key derived from the app's secret key.

    HKDF-SHA256 turns any length of ``secret_key`` into the 32 bytes Fernet needs, and
    the ``info`` label keeps this key apart from any other key derived from it later.
    """

    def __init__(self, secret_key: str) -> None:
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEY_INFO).derive(
            secret_key.encode("utf-8")
        )
        self._fernet = Fernet(base64.urlsafe_b64encode(derived))

    def seal(self, plaintext: str, *, now: datetime) -> str:
        """Encrypt; the token's embedded time is the injected clock's, not the wall clock."""
        return self._fernet.encrypt_at_time(plaintext.encode("utf-8"), int(now.timestamp())).decode(
            "ascii"
        )

    def open(self, ciphertext: str) -> str:
        try:
            return self._fernet.decrypt(ciphertext.encode("ascii")).decode("utf-8")
        except (InvalidToken, UnicodeError) as exc:
            raise SecretUnreadable(
                "a webhook signing secret does not decrypt with the current "
                "ORDEROPS_SECRET_KEY; restore the old key or rotate the secret"
            ) from exc


@dataclass(frozen=True, kw_only=True)
class ConnectionInfo:
    """A connection as shells show it: never the secret."""

    id: str
    tenant_id: str
    source: WebhookSource
    endpoint_token: str
    created_at: datetime
    rotated_at: datetime | None
    disabled_at: datetime | None
    previous_secret_until: datetime | None = None
    """Until when the secret a rotation replaced still verifies (None: it does not)."""

    @property
    def enabled(self) -> bool:
        return self.disabled_at is None

    def url(self, base_url: str) -> str:
        return webhook_url(base_url, self.source, self.endpoint_token)


@dataclass(frozen=True, kw_only=True)
class SecretChange:
    """The result of connect or rotate. ``generated_secret`` is set only when OrderOps made
    the secret up, because then it must be shown once for pasting into the provider."""

    connection: ConnectionInfo
    generated_secret: str | None


@dataclass(frozen=True, kw_only=True)
class Endpoint:
    """A resolved, enabled endpoint: whose deliveries these are and how to check them."""

    connection_id: str
    tenant_id: str
    source: WebhookSource
    secret: str
    previous_secret: str | None = None
    """The secret a rotation replaced, valid until ``previous_secret_until``."""
    previous_secret_until: datetime | None = None

    def secrets_at(self, now: datetime) -> tuple[str, ...]:
        """The secrets a delivery may be signed with at ``now``: the current one first."""
        until = self.previous_secret_until
        if self.previous_secret is None or until is None or now >= until:
            return (self.secret,)
        return (self.secret, self.previous_secret)


def webhook_url(base_url: str, source: str, endpoint_token: str) -> str:
    return f"{base_url.rstrip('/')}/v1/webhooks/{source}/{endpoint_token}"


def connect_source(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    source: WebhookSource,
    box: SecretBox,
    clock: Clock,
    actor: str,
    secret: str | None = None,
) -> SecretChange:
    """Connect a source, or reconnect a disconnected one under a new URL.

    A reconnect issues a new endpoint token, so anything still posting to the old URL
    keeps getting 404 instead of being let back in.
    """
    chosen, generated = _choose_secret(secret)
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _find(uow.session, tenant_id, source)
        reconnected = row is not None
        if row is None:
            row = SourceConnection(tenant_id=tenant_id, source=source, created_at=now)
            uow.session.add(row)
        elif row.disabled_at is None:
            raise SourceAlreadyConnected(
                f"{source} is already connected for tenant {tenant_id}; rotate its secret "
                "or disconnect it first"
            )
        else:
            row.disabled_at = None
            row.rotated_at = now
        row.secret_ciphertext = box.seal(chosen, now=now)
        row.previous_secret_ciphertext = None  # a reconnect trusts no earlier secret
        row.previous_secret_until = None
        row.endpoint_token = secrets.token_urlsafe(24)
        uow.session.flush()
        _audit(
            uow,
            row,
            "source.connected",
            actor=actor,
            at=now,
            generated=generated,
            reconnected=reconnected,
        )
        uow.commit()
        return SecretChange(connection=_info(row), generated_secret=chosen if generated else None)


def rotate_secret(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    source: WebhookSource,
    box: SecretBox,
    clock: Clock,
    actor: str,
    secret: str | None = None,
    overlap: timedelta = timedelta(0),
) -> SecretChange:
    """Replace the signing secret; the URL stays. Signatures with the old secret verify
    until ``overlap`` has passed (none: they fail at once, as after a leak)."""
    if overlap < timedelta(0):
        raise InvalidSecret("a rotation's overlap cannot be negative")
    chosen, generated = _choose_secret(secret)
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _enabled(uow.session, tenant_id, source)
        until = now + overlap if overlap > timedelta(0) else None
        row.previous_secret_ciphertext = row.secret_ciphertext if until else None
        row.previous_secret_until = until
        row.secret_ciphertext = box.seal(chosen, now=now)
        row.rotated_at = now
        _audit(
            uow,
            row,
            "source.secret_rotated",
            actor=actor,
            at=now,
            generated=generated,
            previous_valid_until=until.isoformat() if until else None,
        )
        uow.commit()
        return SecretChange(connection=_info(row), generated_secret=chosen if generated else None)


def disconnect_source(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    source: WebhookSource,
    clock: Clock,
    actor: str,
) -> ConnectionInfo:
    """Stop accepting deliveries; the row stays, so history and audit keep their subject."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _enabled(uow.session, tenant_id, source)
        row.disabled_at = now
        _audit(uow, row, "source.disconnected", actor=actor, at=now)
        uow.commit()
        return _info(row)


def list_connections(sessions: sessionmaker[Session], *, tenant_id: str) -> list[ConnectionInfo]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.scalars(
            select(SourceConnection)
            .where(SourceConnection.tenant_id == tenant_id)
            .order_by(SourceConnection.source)
        )
        return [_info(row) for row in rows]


def resolve_endpoint(
    sessions: sessionmaker[Session], *, source: str, endpoint_token: str, box: SecretBox
) -> Endpoint:
    """Find the tenant from the URL alone (``tenant_of_endpoint``, which crosses tenants),
    then the connection within it.

    Unknown token, a token of another source, and a disconnected source all get the same
    answer, so probing the URL space teaches nothing.
    """
    tenant_id = tenant_of_endpoint(sessions, endpoint_token)
    if tenant_id is None:
        raise EndpointNotFound("no webhook endpoint at this address")
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        row = uow.session.scalar(
            select(SourceConnection).where(
                SourceConnection.tenant_id == tenant_id,
                SourceConnection.endpoint_token == endpoint_token,
            )
        )
        if row is None or row.source != source or row.disabled_at is not None:
            raise EndpointNotFound("no webhook endpoint at this address")
        previous = row.previous_secret_ciphertext
        return Endpoint(
            connection_id=row.id,
            tenant_id=row.tenant_id,
            source=WebhookSource(row.source),
            secret=box.open(row.secret_ciphertext),
            previous_secret=box.open(previous) if previous is not None else None,
            previous_secret_until=row.previous_secret_until,
        )


def _choose_secret(secret: str | None) -> tuple[str, bool]:
    if secret is None:
        return secrets.token_urlsafe(32), True
    secret = secret.strip()
    size = len(secret.encode("utf-8"))
    if size < MIN_SECRET_LENGTH:
        raise InvalidSecret(
            f"a signing secret must have at least {MIN_SECRET_LENGTH} bytes of secret material; "
            f"this one has {size}. Paste the provider's full secret, or omit it to have "
            "OrderOps generate one"
        )
    return secret, False


def _find(session: Session, tenant_id: str, source: WebhookSource) -> SourceConnection | None:
    return session.scalar(
        select(SourceConnection).where(
            SourceConnection.tenant_id == tenant_id, SourceConnection.source == str(source)
        )
    )


def _enabled(session: Session, tenant_id: str, source: WebhookSource) -> SourceConnection:
    row = _find(session, tenant_id, source)
    if row is None or row.disabled_at is not None:
        raise SourceNotConnected(f"{source} is not connected for tenant {tenant_id}")
    return row


def _audit(
    uow: UnitOfWork,
    row: SourceConnection,
    action: str,
    *,
    actor: str,
    at: datetime,
    **data: bool | str | None,
) -> None:
    uow.audit.append(
        at=at,
        actor=actor,
        action=action,
        entity_type="source_connection",
        entity_id=row.id,
        data={"source": row.source, "endpoint_token_prefix": row.endpoint_token[:6], **data},
    )


def _info(row: SourceConnection) -> ConnectionInfo:
    return ConnectionInfo(
        id=row.id,
        tenant_id=row.tenant_id,
        source=WebhookSource(row.source),
        endpoint_token=row.endpoint_token,
        created_at=row.created_at,
        rotated_at=row.rotated_at,
        disabled_at=row.disabled_at,
        previous_secret_until=row.previous_secret_until,
    )
