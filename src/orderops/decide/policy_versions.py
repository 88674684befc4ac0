"""Storing approval policy versions, and pinning a case to the version it is decided under.

A change is never an edit: it is the next version, audited with the leaf-by-leaf diff
from the one before, so "who changed the refund limit, when, from what" is one audit
query. Version 0 is the built-in ``DEFAULT_POLICY`` and is never stored.

A new version must judge every money-moving kind by amount (``parse_policy`` refuses one
that leaves such a kind to the plain default); a version stored before that rule is read
with the built-in rules for the kinds it lacks (``parse_stored_policy``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.approval_policy import (
    DEFAULT_POLICY,
    ApprovalPolicy,
    PolicyChange,
    diff_bodies,
    parse_policy,
    parse_stored_policy,
)
from orderops.domain.clock import Clock
from orderops.domain.errors import NotFound
from orderops.storage.tables import Case
from orderops.storage.tables.access import ApprovalPolicyVersion, CasePolicyPin
from orderops.storage.uow import UnitOfWork


@dataclass(frozen=True, kw_only=True)
class PolicyVersionInfo:
    version: int
    body: dict[str, Any]
    created_by: str
    created_at: datetime | None
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class PolicyUpdate:
    version: int
    previous_version: int
    changes: tuple[PolicyChange, ...]

    @property
    def changed(self) -> bool:
        return bool(self.changes)


def current_version(uow: UnitOfWork) -> int:
    latest = uow.session.scalar(
        select(func.max(ApprovalPolicyVersion.version)).where(
            ApprovalPolicyVersion.tenant_id == uow.tenant_id
        )
    )
    return int(latest or 0)


def version_info(uow: UnitOfWork, version: int | None = None) -> PolicyVersionInfo:
    """The given version (default: the current one); version 0 is the built-in default."""
    wanted = current_version(uow) if version is None else version
    if wanted == 0:
        return PolicyVersionInfo(
            version=0, body=DEFAULT_POLICY.body(), created_by="built-in", created_at=None
        )
    row = uow.session.scalar(
        select(ApprovalPolicyVersion).where(
            ApprovalPolicyVersion.tenant_id == uow.tenant_id,
            ApprovalPolicyVersion.version == wanted,
        )
    )
    if row is None:
        raise NotFound(f"no approval policy version {wanted}")
    return PolicyVersionInfo(
        version=row.version,
        body=row.body,
        created_by=row.created_by,
        created_at=row.created_at,
        note=row.note,
    )


def read_version(
    sessions: sessionmaker[Session], *, tenant_id: str, version: int | None = None
) -> PolicyVersionInfo:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        return version_info(uow, version)


def load_policy(uow: UnitOfWork, version: int) -> ApprovalPolicy:
    return parse_stored_policy(version_info(uow, version).body)


def set_policy(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    body: dict[str, Any],
    actor: str,
    clock: Clock,
    note: str | None = None,
) -> PolicyUpdate:
    """Store ``body`` as the next version unless it changes nothing (then nothing is stored)."""
    normalised = parse_policy(body).body()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        previous = version_info(uow)
        changes = tuple(diff_bodies(previous.body, normalised))
        if not changes:
            return PolicyUpdate(
                version=previous.version, previous_version=previous.version, changes=()
            )
        version = previous.version + 1
        row = ApprovalPolicyVersion(
            tenant_id=tenant_id,
            version=version,
            body=normalised,
            note=note,
            created_by=actor,
            created_at=clock.now(),
        )
        uow.session.add(row)
        uow.session.flush()
        uow.audit.append(
            at=clock.now(),
            actor=actor,
            action="approval_policy.changed",
            entity_type="approval_policy",
            entity_id=str(version),
            data={
                "version": version,
                "previous_version": previous.version,
                "note": note,
                "changes": [c.as_json() for c in changes],
            },
        )
        uow.commit()
        return PolicyUpdate(version=version, previous_version=previous.version, changes=changes)


def list_versions(sessions: sessionmaker[Session], *, tenant_id: str) -> list[PolicyVersionInfo]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.scalars(
            select(ApprovalPolicyVersion)
            .where(ApprovalPolicyVersion.tenant_id == tenant_id)
            .order_by(ApprovalPolicyVersion.version)
        )
        return [version_info(uow, 0)] + [
            PolicyVersionInfo(
                version=r.version,
                body=r.body,
                created_by=r.created_by,
                created_at=r.created_at,
                note=r.note,
            )
            for r in rows
        ]


def pin_for(uow: UnitOfWork, case: Case) -> CasePolicyPin | None:
    return uow.session.scalar(
        select(CasePolicyPin).where(
            CasePolicyPin.tenant_id == uow.tenant_id, CasePolicyPin.case_id == case.id
        )
    )


def ensure_pin(uow: UnitOfWork, case: Case, *, now: datetime) -> CasePolicyPin:
    """The case's pin, created at the current version by its first proposal."""
    pin = pin_for(uow, case)
    if pin is None:
        pin = CasePolicyPin(
            tenant_id=uow.tenant_id,
            case_id=case.id,
            policy_version=current_version(uow),
            pinned_at=now,
            decision_round=0,
        )
        uow.session.add(pin)
        uow.session.flush()
    return pin
