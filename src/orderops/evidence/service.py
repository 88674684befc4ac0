"""Storing and reading a tenant's evidence, and attaching it to cases.

The bytes go to the blob store first and the row second: if the transaction then rolls
back, an unreferenced blob is left behind, which is harmless (the same bytes would get
the same address again); the reverse order could leave a row pointing at nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from sqlalchemy import or_, select

from orderops.cases.cases import record
from orderops.config import Settings
from orderops.domain.errors import NotFound
from orderops.domain.usage import Meter
from orderops.evidence.store import BlobStore, FileBlobStore, is_address
from orderops.metering import usage
from orderops.storage.tables import Case, CaseTimelineEntry
from orderops.storage.tables.queues import EvidenceBlob
from orderops.storage.uow import UnitOfWork


class EvidenceKind(StrEnum):
    UPLOAD = "upload"
    SNAPSHOT = "snapshot"


@dataclass(frozen=True)
class EvidenceInfo:
    sha256: str
    size_bytes: int
    media_type: str
    kind: str
    deduplicated: bool
    """True when the tenant already held these exact bytes."""


def default_store(settings: Settings) -> FileBlobStore:
    """The filesystem store under ``data_dir/evidence``."""
    return FileBlobStore(settings.data_dir / "evidence")


def store_evidence(
    uow: UnitOfWork,
    store: BlobStore,
    *,
    data: bytes,
    media_type: str,
    kind: EvidenceKind,
    actor: str,
    now: datetime,
) -> EvidenceInfo:
    """Keep ``data`` once per tenant; a second upload of the same bytes adds nothing."""
    stored = store.put(uow.tenant_id, data)
    row = _row(uow, stored.sha256)
    if row is not None:
        return EvidenceInfo(row.sha256, row.size_bytes, row.media_type, row.kind, deduplicated=True)
    row = EvidenceBlob(
        tenant_id=uow.tenant_id,
        sha256=stored.sha256,
        size_bytes=stored.size_bytes,
        media_type=media_type,
        kind=kind,
        created_by=actor,
        created_at=now,
    )
    uow.session.add(row)
    uow.session.flush()
    uow.audit.append(
        at=now,
        actor=actor,
        action="evidence.stored",
        entity_type="evidence",
        entity_id=stored.sha256,
        data={"size_bytes": stored.size_bytes, "media_type": media_type, "kind": str(kind)},
    )
    usage.count(uow, Meter.EVIDENCE_BYTES, str(kind), stored.size_bytes, at=now)
    return EvidenceInfo(stored.sha256, stored.size_bytes, media_type, kind, deduplicated=False)


def attach_evidence(
    uow: UnitOfWork,
    store: BlobStore,
    case: Case,
    *,
    data: bytes,
    media_type: str,
    filename: str | None,
    actor: str,
    now: datetime,
) -> EvidenceInfo:
    """Store an upload and note it on the case's timeline (every attachment is noted,
    even of bytes already held, because attaching is itself a fact)."""
    info = store_evidence(
        uow, store, data=data, media_type=media_type, kind=EvidenceKind.UPLOAD, actor=actor, now=now
    )
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="evidence_added",
        summary=f"Evidence {filename or info.sha256[:12]} ({info.size_bytes} bytes)",
        data={
            "sha256": info.sha256,
            "filename": filename,
            "media_type": info.media_type,
            "size_bytes": info.size_bytes,
        },
    )
    return info


def read_evidence(uow: UnitOfWork, store: BlobStore, sha256: str) -> tuple[bytes, EvidenceInfo]:
    """The bytes, verified against their address; NotFound outside the caller's tenant,
    and, for a caller limited to a scope, unless a case in scope names them.

    A blob names no case (the same bytes may serve several), so a hash alone would open
    any of the tenant's evidence to whoever learnt it; a scoped caller's blob must be
    named on the timeline of a case in scope (an upload's or a snapshot's ``sha256``, a
    decision's ``snapshot``). Not for writing: storing checks the tenant's every blob."""
    row = _row(uow, sha256) if is_address(sha256) else None
    if row is not None and not uow.scope.unrestricted and not _named_in_scope(uow, sha256):
        row = None
    if row is None:
        raise NotFound(f"no evidence {sha256}")
    data = store.get(uow.tenant_id, sha256)
    return data, EvidenceInfo(
        row.sha256, row.size_bytes, row.media_type, row.kind, deduplicated=True
    )


def _named_in_scope(uow: UnitOfWork, sha256: str) -> bool:
    """A timeline entry of a case the unit of work's guard lets it read names the blob."""
    data = CaseTimelineEntry.data
    named = uow.session.scalar(
        select(CaseTimelineEntry.id)
        .where(
            CaseTimelineEntry.tenant_id == uow.tenant_id,
            or_(data["sha256"].as_string() == sha256, data["snapshot"].as_string() == sha256),
        )
        .limit(1)
    )
    return named is not None


def _row(uow: UnitOfWork, sha256: str) -> EvidenceBlob | None:
    return uow.session.scalar(
        select(EvidenceBlob).where(
            EvidenceBlob.tenant_id == uow.tenant_id, EvidenceBlob.sha256 == sha256
        )
    )
