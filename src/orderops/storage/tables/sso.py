"""Single sign-on: a tenant's OpenID Connect client, sign-ins in flight, and who is whom.

``sso_configs`` holds at most one client per tenant; its secret is a Fernet token
(``ingest/connections.py``'s ``SecretBox``), never plaintext.

``sso_logins`` is one row per sign-in a browser starts. The state, nonce and the browser's
cookie secret are kept as SHA-256 hashes (each is compared, never read back) and the PKCE
verifier sealed, since it must be sent to the provider once. A row is good for ten minutes
and for one callback (``used_at`` is set by a conditional UPDATE, so two callbacks racing
with the same state cannot both win). When the sign-in succeeds the row also keeps what
RP-initiated logout needs for the console session it opened: the sealed ID token (the
``id_token_hint``), the provider's end-session endpoint and where to come back to.

``user_identities`` links a provider's subject to a user. ``sub`` is unique only per issuer
(OpenID Connect Core 1.0, section 2), so the link is keyed by tenant, issuer and subject;
a tenant moving to another provider starts new links rather than trusting old subjects.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, JsonType, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class SsoConfig(Base):
    __tablename__ = "sso_configs"
    __table_args__ = (tenant_primary_key(), UniqueConstraint("tenant_id"))

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    display_name: Mapped[str] = mapped_column(String(100))
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_ciphertext: Mapped[str] = mapped_column(Text)
    scopes: Mapped[str] = mapped_column(String(500))
    """Space-separated, as OAuth sends them."""
    role_rules: Mapped[list[str]] = mapped_column(JsonType)
    """``claim=value:role`` texts in the order they are tried (``domain/sso.py``)."""
    provision: Mapped[bool]
    allow_passwords: Mapped[bool]
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class SsoLogin(Base):
    __tablename__ = "sso_logins"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "console_session_id", "console_sessions", ondelete="CASCADE"),
        tenant_fk(__tablename__, "user_id", "users", ondelete="CASCADE"),
        Index("ix_sso_logins_tenant_console_session", "tenant_id", "console_session_id"),
        Index("ix_sso_logins_tenant_expires", "tenant_id", "expires_at"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    browser_hash: Mapped[str] = mapped_column(String(64))
    state_hash: Mapped[str] = mapped_column(String(64))
    nonce_hash: Mapped[str] = mapped_column(String(64))
    verifier_ciphertext: Mapped[str] = mapped_column(Text)
    issuer: Mapped[str] = mapped_column(String(500))
    client_id: Mapped[str] = mapped_column(String(255))
    redirect_uri: Mapped[str] = mapped_column(String(1000))
    """Sent again, unchanged, with the code (RFC 6749, section 4.1.3)."""
    next_path: Mapped[str] = mapped_column(String(1000))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(32))
    user_id: Mapped[str | None] = mapped_column(String(32))
    console_session_id: Mapped[str | None] = mapped_column(String(32))
    id_token_ciphertext: Mapped[str | None] = mapped_column(Text)
    end_session_endpoint: Mapped[str | None] = mapped_column(String(1000))
    post_logout_redirect_uri: Mapped[str | None] = mapped_column(String(1000))

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class UserIdentity(Base):
    __tablename__ = "user_identities"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "user_id", "users", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "issuer", "subject"),
        Index("ix_user_identities_tenant_user", "tenant_id", "user_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    user_id: Mapped[str] = mapped_column(String(32))
    issuer: Mapped[str] = mapped_column(String(500))
    subject: Mapped[str] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(320))
    """The email the provider sent at the latest sign-in."""
    created_at: Mapped[datetime]
    last_signed_in_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
