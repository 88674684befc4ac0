"""Reading a tenant's policy YAML and storing it as a new, audited version.

Each load stores the whole validated document as the next version (versions are never
edited), and the audit record of that version carries the leaf-by-leaf diff against the
previous one, so "who loosened the refund limit, and when" has a one-query answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import OrderOpsError
from orderops.domain.policy import (
    Change,
    FulfillmentPolicy,
    InvalidPolicy,
    parse_policy,
    policy_diff,
    policy_document,
)
from orderops.storage.tables.imports import TenantPolicy
from orderops.storage.uow import UnitOfWork

EXAMPLE_POLICY = Path(__file__).with_name("example_policy.yaml")
MAX_POLICY_BYTES = 1024 * 1024


class PolicyVersionConflict(OrderOpsError):
    """Another load stored the same version first; load again to build on it."""

    code = "policy-version-conflict"


def read_policy(text: str) -> FulfillmentPolicy:
    """Parse YAML text and validate it; ``InvalidPolicy`` names each failing path."""
    if len(text.encode("utf-8")) > MAX_POLICY_BYTES:
        raise InvalidPolicy([f"(root): the file exceeds {MAX_POLICY_BYTES} bytes"])
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else "(root)"
        raise InvalidPolicy([f"{where}: not valid YAML: {exc}"]) from exc
    return parse_policy(document)


def load_policy_file(path: Path) -> FulfillmentPolicy:
    return read_policy(path.read_text("utf-8"))


@dataclass(frozen=True)
class StoredPolicy:
    version: int
    changes: list[Change]


def store_policy(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    policy: FulfillmentPolicy,
    actor: str,
    clock: Clock,
) -> StoredPolicy:
    """Store ``policy`` as the tenant's next version, audited with its diff, in one commit.

    Loading a document identical to the current version stores nothing and returns the
    current version with no changes, so re-running a deploy script is harmless.
    """
    body = policy_document(policy)
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        current = _latest(uow.session, tenant_id)
        if current is not None and current.body == body:
            return StoredPolicy(current.version, [])
        version = (current.version if current else 0) + 1
        changes = policy_diff(current.body if current else None, body)
        now = clock.now()
        uow.session.add(
            TenantPolicy(
                tenant_id=tenant_id, version=version, body=body, created_at=now, created_by=actor
            )
        )
        uow.audit.append(
            at=now,
            actor=actor,
            action="policy.loaded",
            entity_type="tenant_policy",
            entity_id=f"{tenant_id}:v{version}",
            data={
                "version": version,
                "previous_version": current.version if current else None,
                "changes": [_jsonable(c) for c in changes],
            },
        )
        try:
            uow.commit()
        except IntegrityError as exc:
            raise PolicyVersionConflict(
                f"version {version} of the policy of {tenant_id} was stored concurrently"
            ) from exc
    return StoredPolicy(version, changes)


def current_policy(
    sessions: sessionmaker[Session], *, tenant_id: str
) -> tuple[int, FulfillmentPolicy] | None:
    """The version in force and its policy, or None when the tenant has none yet."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        latest = _latest(uow.session, tenant_id)
        return None if latest is None else (latest.version, parse_policy(latest.body))


def _latest(session: Session, tenant_id: str) -> TenantPolicy | None:
    newest = (
        select(func.max(TenantPolicy.version))
        .where(TenantPolicy.tenant_id == tenant_id)
        .scalar_subquery()
    )
    return session.scalar(
        select(TenantPolicy).where(
            TenantPolicy.tenant_id == tenant_id, TenantPolicy.version == newest
        )
    )


def _jsonable(change: Change) -> dict[str, Any]:
    return {"path": change.path, "before": change.before, "after": change.after}
