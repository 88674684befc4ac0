"""Evidence over HTTP: uploads attached to a case, decision snapshots, verified downloads."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from fastapi.concurrency import run_in_threadpool

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.case_work_schemas import (
    EvidenceRead,
    SnapshotRead,
)
from orderops.api.params import NO_NUL, Id, Sha256
from orderops.api.problems import problem, problem_responses
from orderops.api.work_common import (
    EvidenceReader,
    EvidenceWriter,
    actor_of,
    case_or_404,
)
from orderops.domain.errors import PayloadTooLarge
from orderops.evidence.service import attach_evidence, default_store, read_evidence
from orderops.evidence.snapshots import snapshot_facts
from orderops.evidence.store import EvidenceTampered
from orderops.storage.uow import UnitOfWork

router = APIRouter(tags=["evidence"], route_class=SafeJsonRoute)

SAFE_MEDIA_TYPES: dict[str, str] = {
    "application/pdf": ".pdf",
    "image/png": ".png",
    "image/jpeg": ".jpg",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "text/plain": ".txt",
    "text/csv": ".csv",
    "application/json": ".json",
}
"""Types a browser will not run as a page; anything else (HTML, SVG, XML, scripts) is
served as opaque bytes, since the uploader chose the type."""


@router.post("/v1/cases/{case_id}/evidence", response_model=EvidenceRead, status_code=201)
async def upload_evidence(
    request: Request,
    principal: EvidenceWriter,
    case_id: Id,
    filename: Annotated[str | None, Query(max_length=300, pattern=NO_NUL)] = None,
) -> EvidenceRead:
    """The request body is the file, stored once per distinct content."""
    app = app_of(request)
    data = await request.body()
    if len(data) > app.settings.max_request_bytes:
        raise PayloadTooLarge(f"evidence over {app.settings.max_request_bytes} bytes")
    media_type = request.headers.get("content-type", "application/octet-stream")[:100]

    def store() -> EvidenceRead:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            case = case_or_404(uow, case_id)
            info = attach_evidence(
                uow,
                default_store(app.settings),
                case,
                data=data,
                media_type=media_type,
                filename=filename,
                actor=actor_of(principal),
                now=app.clock.now(),
            )
            uow.commit()
        return EvidenceRead(**vars(info))

    return await run_in_threadpool(store)


@router.post("/v1/cases/{case_id}/snapshots", response_model=SnapshotRead, status_code=201)
async def snapshot_case(request: Request, principal: EvidenceWriter, case_id: Id) -> SnapshotRead:
    """Freeze the order, payments, shipments, scans and stock as they are now."""
    app = app_of(request)

    def take() -> SnapshotRead:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            case = case_or_404(uow, case_id)
            sha = snapshot_facts(
                uow,
                case,
                store=default_store(app.settings),
                now=app.clock.now(),
                actor=actor_of(principal),
            )
            uow.commit()
        return SnapshotRead(sha256=sha)

    return await run_in_threadpool(take)


@router.get(
    "/v1/evidence/{sha256}",
    response_class=Response,
    responses={
        200: {
            "description": "The stored bytes, as an attachment",
            "content": {media: {} for media in (*SAFE_MEDIA_TYPES, "application/octet-stream")},
        },
        **problem_responses(500),
    },
)
async def download_evidence(
    request: Request, principal: EvidenceReader, sha256: Sha256
) -> Response:
    """The stored bytes, re-hashed on the way out: altered evidence is refused, never served."""
    app = app_of(request)

    def read() -> tuple[bytes, str]:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            data, info = read_evidence(uow, default_store(app.settings), sha256)
        return data, info.media_type

    try:
        data, media_type = await run_in_threadpool(read)
    except EvidenceTampered as exc:
        return problem(500, exc.code, "Evidence tampered", exc.message, sha256=sha256)
    served, extension = served_type(media_type)
    return Response(
        content=data,
        media_type=served,
        headers={
            "ETag": f'"{sha256}"',
            "Digest": f"sha-256={sha256}",
            "Content-Disposition": f'attachment; filename="evidence-{sha256[:12]}{extension}"',
            "X-Content-Type-Options": "nosniff",
        },
    )


def served_type(media_type: str) -> tuple[str, str]:
    """The content type a download is served with, and its file extension."""
    essence = media_type.split(";", 1)[0].strip().lower()
    if essence in SAFE_MEDIA_TYPES:
        return essence, SAFE_MEDIA_TYPES[essence]
    return "application/octet-stream", ".bin"
