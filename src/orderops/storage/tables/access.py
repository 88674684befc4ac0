"""Who acts (users and service identities), under which approval policy version.

Policies are never edited in place: each change is a new row with the next version, so
an old decision can always be re-read under the exact rules it was taken with. A case's
pin says which version its actions are decided under until someone re-evaluates it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, tenant_column
from orderops.storage.tables.keys import row_id, tenant_fk, tenant_primary_key


class User(Base):
    """A person (kind ``human``, with an email) or a service identity (kind ``service``)."""

    __tablename__ = "users"
    __table_args__ = (tenant_primary_key(), UniqueConstraint("tenant_id", "email"))

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    kind: Mapped[str] = mapped_column(String(16))
    email: Mapped[str | None] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]
    password_hash: Mapped[str | None] = mapped_column(String(255))
    """scrypt hash for console sign-in (``console/accounts.py``); None: no console login."""
    totp_secret_ciphertext: Mapped[str | None] = mapped_column(Text)
    """Sealed TOTP secret (``tenancy/totp.py``); set: password sign-in also needs a code."""
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(BigInteger)
    """The 30-second step of the last code accepted: a code is good once."""
    scope: Mapped[dict[str, Any] | None]
    """The brands, stores, channels and regions the user may see (``domain/scopes.py``,
    as ``AccessScope.to_json``); None: the whole tenant."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class IdentityAct(Base):
    """One administrative act on a user or key: who did it to which identity, and when.

    Approver eligibility reads these (``decide/approver_eligibility.py``): an identity
    the proposer created, re-roled, reset or keyed recently is the proposer's, not a
    second person. The audit log holds the same acts, chained; this table is the indexed
    copy a decision can query. ``user_id`` is None only for a key with no identity.
    """

    __tablename__ = "identity_acts"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "user_id", "users"),
        tenant_fk(__tablename__, "key_id", "api_keys"),
        Index("ix_identity_acts_tenant_user_at", "tenant_id", "user_id", "at"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    user_id: Mapped[str | None] = mapped_column(String(32))
    key_id: Mapped[str | None] = mapped_column(String(32))
    act: Mapped[str] = mapped_column(String(32))
    actor: Mapped[str] = mapped_column(String(200))
    """A stable id (``user:<id>``, ``key:<id>``, ``cli``, ``system``), never a display name."""
    at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class ApprovalPolicyVersion(Base):
    __tablename__ = "approval_policies"
    __table_args__ = (tenant_primary_key(), UniqueConstraint("tenant_id", "version"))

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    version: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]]
    note: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012


class CasePolicyPin(Base):
    """The policy version a case's actions are decided under (0: the built-in default)."""

    __tablename__ = "case_policy_pins"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases", ondelete="CASCADE"),
        UniqueConstraint("tenant_id", "case_id"),
    )

    id: Mapped[str] = row_id()
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str] = mapped_column(String(32))
    policy_version: Mapped[int] = mapped_column(Integer)
    pinned_at: Mapped[datetime]
    decision_round: Mapped[int] = mapped_column(Integer, default=1)
    """Counts the case's approval rounds: each entry into awaiting approval starts one."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
