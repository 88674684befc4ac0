"""The model registry: a tenant's model versions, their lifecycle, and the one in force.

Every kind of model (``domain/model_lifecycle.ModelKind``) is kept alike: a trained
version is registered as a candidate with its bytes (skops), its training window and its
held-out metrics; ``record_shadow`` keeps the report of it scored beside the model in
force on the same shipments; ``promote`` needs that report, retires the version it
replaces and puts both moves in the audit log in the same transaction. Models are loaded
only from here (or from the shipped defaults in the package): nothing reads model files
from a directory any more.

``promoted_model`` is the one read the scoring side needs: the promoted version of a
kind with its bytes, or None (then the caller uses the shipped default).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select
from sqlalchemy.orm import Session

from orderops.domain.model_lifecycle import ModelKind, ModelRegistryError, ModelStatus, check_move
from orderops.storage.tables import ModelVersionRow
from orderops.storage.uow import UnitOfWork

ENTITY = "model_version"
ARTIFACT_FORMAT = "skops"
_TABLE = ModelVersionRow.__table__


@dataclass(frozen=True)
class RegisteredModel:
    """A version as listings show it: everything but the bytes."""

    id: str
    kind: str
    number: int
    model_version: str
    status: str
    artifact_sha256: str
    artifact_bytes: int
    trained_from: datetime | None
    trained_to: datetime | None
    training: dict[str, Any]
    metrics: dict[str, Any]
    shadow: dict[str, Any] | None
    evaluated_at: datetime | None
    created_at: datetime
    created_by: str
    promoted_at: datetime | None
    promoted_by: str | None
    retired_at: datetime | None
    retired_by: str | None

    @property
    def label(self) -> str:
        return f"{self.kind} v{self.number}"

    def to_json(self) -> dict[str, Any]:
        return {
            name: value.isoformat() if isinstance(value, datetime) else value
            for name, value in self.__dict__.items()
        }


_FIELDS = tuple(RegisteredModel.__dataclass_fields__)


@dataclass(frozen=True)
class PromotedModel:
    """The version in force of a kind, with its skops bytes."""

    version: RegisteredModel
    artifact: bytes


def _registered(row: Any) -> RegisteredModel:
    return RegisteredModel(**{name: getattr(row, name) for name in _FIELDS})


def promoted_model(
    session_or_conn: Session | Connection, tenant_id: str, kind: ModelKind | str
) -> PromotedModel | None:
    """The tenant's promoted version of ``kind`` with its bytes, or None when it has none.

    Reads through Core, so a session or a plain connection will do (on PostgreSQL the
    connection must have named the tenant to row-level security, as a unit of work does).
    """
    columns = [_TABLE.c[name] for name in _FIELDS]
    row = session_or_conn.execute(
        select(*columns, _TABLE.c.artifact).where(
            _TABLE.c.tenant_id == tenant_id,
            _TABLE.c.kind == str(kind),
            _TABLE.c.status == ModelStatus.PROMOTED,
        )
    ).first()
    if row is None:
        return None
    return PromotedModel(version=_registered(row), artifact=bytes(row.artifact))


def promoted_version(
    session_or_conn: Session | Connection, tenant_id: str, kind: ModelKind | str
) -> RegisteredModel | None:
    """As ``promoted_model`` without the bytes: what a worker asks on every pass."""
    columns = [_TABLE.c[name] for name in _FIELDS]
    row = session_or_conn.execute(
        select(*columns).where(
            _TABLE.c.tenant_id == tenant_id,
            _TABLE.c.kind == str(kind),
            _TABLE.c.status == ModelStatus.PROMOTED,
        )
    ).first()
    return None if row is None else _registered(row)


def artifact_of(session: Session | Connection, tenant_id: str, version_id: str) -> bytes:
    data = session.execute(
        select(_TABLE.c.artifact).where(_TABLE.c.tenant_id == tenant_id, _TABLE.c.id == version_id)
    ).scalar_one()
    return bytes(data)


def list_versions(
    session: Session, tenant_id: str, kind: ModelKind | str | None = None
) -> list[RegisteredModel]:
    """Newest first, per kind."""
    query = select(ModelVersionRow).where(ModelVersionRow.tenant_id == tenant_id)
    if kind is not None:
        query = query.where(ModelVersionRow.kind == str(kind))
    rows = session.scalars(
        query.order_by(ModelVersionRow.kind, ModelVersionRow.number.desc())
    ).all()
    return [_registered(row) for row in rows]


def version_row(uow: UnitOfWork, kind: ModelKind, number: int) -> ModelVersionRow:
    row = uow.session.scalars(
        select(ModelVersionRow).where(
            ModelVersionRow.tenant_id == uow.tenant_id,
            ModelVersionRow.kind == kind,
            ModelVersionRow.number == number,
        )
    ).first()
    if row is None:
        raise ModelRegistryError(f"tenant {uow.tenant_id} has no {kind} model version {number}")
    return row


def latest_candidate(uow: UnitOfWork, kind: ModelKind) -> ModelVersionRow:
    row = uow.session.scalars(
        select(ModelVersionRow)
        .where(
            ModelVersionRow.tenant_id == uow.tenant_id,
            ModelVersionRow.kind == kind,
            ModelVersionRow.status == ModelStatus.CANDIDATE,
        )
        .order_by(ModelVersionRow.number.desc())
    ).first()
    if row is None:
        raise ModelRegistryError(
            f"tenant {uow.tenant_id} has no {kind} candidate; train one with "
            f"`orderops models train --tenant {uow.tenant_id} --kind {kind}`"
        )
    return row


def register_candidate(
    uow: UnitOfWork,
    *,
    kind: ModelKind,
    model_version: str,
    artifact: bytes,
    trained_from: datetime | None,
    trained_to: datetime | None,
    training: dict[str, Any],
    metrics: dict[str, Any],
    actor: str,
    now: datetime,
) -> RegisteredModel:
    """Store a trained version as the next candidate of ``kind``, audited."""
    number = (
        uow.session.scalar(
            select(func.max(ModelVersionRow.number)).where(
                ModelVersionRow.tenant_id == uow.tenant_id, ModelVersionRow.kind == kind
            )
        )
        or 0
    ) + 1
    row = ModelVersionRow(
        tenant_id=uow.tenant_id,
        kind=kind,
        number=number,
        model_version=model_version,
        status=ModelStatus.CANDIDATE,
        artifact_format=ARTIFACT_FORMAT,
        artifact=artifact,
        artifact_sha256=hashlib.sha256(artifact).hexdigest(),
        artifact_bytes=len(artifact),
        trained_from=trained_from,
        trained_to=trained_to,
        training=training,
        metrics=metrics,
        created_at=now,
        created_by=actor,
    )
    uow.session.add(row)
    uow.session.flush()
    _audit(uow, row, "trained", actor=actor, now=now, data={"metrics": metrics})
    return _registered(row)


def record_shadow(
    uow: UnitOfWork, row: ModelVersionRow, report: dict[str, Any], *, actor: str, now: datetime
) -> RegisteredModel:
    """Keep the shadow report on the version (the last one counts), audited."""
    row.shadow = report
    row.evaluated_at = now
    uow.session.flush()
    _audit(uow, row, "evaluated", actor=actor, now=now, data={"shadow": report})
    return _registered(row)


def promote(uow: UnitOfWork, row: ModelVersionRow, *, actor: str, now: datetime) -> RegisteredModel:
    """Put ``row`` in force; the version it replaces is retired first (the partial unique
    index allows one promoted version per tenant and kind). Needs a shadow report."""
    check_move(ModelStatus(row.status), ModelStatus.PROMOTED)
    if row.shadow is None:
        raise ModelRegistryError(
            f"{row.kind} v{row.number} has not been scored beside the model in force; run "
            f"`orderops models evaluate --tenant {uow.tenant_id} --kind {row.kind}` first"
        )
    current = uow.session.scalars(
        select(ModelVersionRow).where(
            ModelVersionRow.tenant_id == uow.tenant_id,
            ModelVersionRow.kind == row.kind,
            ModelVersionRow.status == ModelStatus.PROMOTED,
        )
    ).first()
    if current is not None:
        retire(uow, current, actor=actor, now=now, reason=f"replaced by v{row.number}")
    row.status = ModelStatus.PROMOTED
    row.promoted_at = now
    row.promoted_by = actor
    uow.session.flush()
    _audit(
        uow,
        row,
        "promoted",
        actor=actor,
        now=now,
        data={
            "number": row.number,
            "model_version": row.model_version,
            "replaces": current.number if current is not None else None,
        },
    )
    return _registered(row)


def retire(
    uow: UnitOfWork, row: ModelVersionRow, *, actor: str, now: datetime, reason: str
) -> RegisteredModel:
    check_move(ModelStatus(row.status), ModelStatus.RETIRED)
    row.status = ModelStatus.RETIRED
    row.retired_at = now
    row.retired_by = actor
    uow.session.flush()
    _audit(uow, row, "retired", actor=actor, now=now, data={"reason": reason})
    return _registered(row)


def _audit(
    uow: UnitOfWork,
    row: ModelVersionRow,
    change: str,
    *,
    actor: str,
    now: datetime,
    data: dict[str, Any],
) -> None:
    uow.audit.append(
        at=now,
        actor=actor,
        action=f"model.{change}",
        entity_type=ENTITY,
        entity_id=row.id,
        data={"kind": row.kind, "number": row.number, **data},
    )
