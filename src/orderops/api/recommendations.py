"""Recommendations over HTTP: recommend for a case, read them, hand off to support, send
one merged customer message, the tenant's playbook, the model's token meter, dispute
evidence packs. Thin: each route calls one service in one unit of work.

A case's recommendations say which playbook version applies to it (``playbook``: the
version it is pinned to, the tenant's current one, and whether that is newer); moving a
case to the newer one is ``api/playbook_pins.py``.

Configuration (``RecommendSettings``, ``LlmSettings``) is read from the environment once
per API instance and kept on ``app.state``; tests put their own there.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Body, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.params import Id, OrderRef
from orderops.api.recommendation_schemas import (
    CaseSummaryRead,
    CreatedRecommendation,
    DisputePackList,
    DisputePackRead,
    ModelUsageList,
    PlaybookRead,
    RecommendationList,
)
from orderops.api.work_common import (
    Approver,
    EvidenceReader,
    EvidenceWriter,
    Manager,
    Reader,
    Worker,
    actor_of,
    case_or_404,
)
from orderops.domain.errors import NotFound
from orderops.recommend import disputes, service, summaries, voice
from orderops.recommend.handoff import hand_off
from orderops.recommend.llm import LlmClient, LlmSettings
from orderops.recommend.playbook_pins import pin_of
from orderops.recommend.settings import RecommendSettings
from orderops.recommend.store_facts import case_facts
from orderops.storage.tables.recommend import DisputeEvidencePack
from orderops.storage.uow import UnitOfWork

router = APIRouter(tags=["recommendations"], route_class=SafeJsonRoute)

DEFAULT_REFUND_POLICY = "Refunds within 30 days of delivery for unused items."


class RecommendBody(BaseModel):
    language: str | None = Field(default=None, pattern=r"^(en|es|pt|de)$")


class MessageBody(BaseModel):
    recipient: str | None = Field(default=None, max_length=320)
    channel: str = Field(default="email", pattern=r"^(email|sms)$")


class EvidenceBody(BaseModel):
    refund_policy: str = Field(default=DEFAULT_REFUND_POLICY, max_length=20_000)


def _settings(request: Request) -> tuple[RecommendSettings, LlmSettings]:
    state = request.app.state
    if not hasattr(state, "recommend_settings"):
        state.recommend_settings = RecommendSettings()
    if not hasattr(state, "llm_settings"):
        state.llm_settings = LlmSettings()
    return state.recommend_settings, state.llm_settings


def _error(error: summaries.ModelError | None) -> dict[str, str] | None:
    return error.as_json() if error else None


def _pack(pack: DisputeEvidencePack) -> dict[str, Any]:
    return {
        "id": pack.id,
        "case_id": pack.case_id,
        "dispute_ref": pack.dispute_ref,
        "status": pack.status,
        "evidence": pack.evidence,
        "documents": pack.documents,
        "assembled_by": pack.assembled_by,
        "approved_by": pack.approved_by,
        "outbox_id": pack.outbox_id,
    }


@router.get("/v1/cases/{case_id}/recommendations", response_model=RecommendationList)
async def list_recommendations(request: Request, principal: Reader, case_id: Id) -> dict[str, Any]:
    app = app_of(request)

    def read() -> dict[str, Any]:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            case = case_or_404(uow, case_id)
            items = service.recommendations_for(uow, case_id)
            errors = summaries.recommendation_errors(uow, [item["id"] for item in items])
            return {
                "playbook": pin_of(uow, case).as_json(),
                "items": [
                    {**item, "model_error": _error(errors.get(item["id"]))} for item in items
                ],
            }

    return await run_in_threadpool(read)


@router.post(
    "/v1/cases/{case_id}/recommendations", status_code=201, response_model=CreatedRecommendation
)
async def create_recommendation(
    request: Request, principal: Worker, case_id: Id, body: RecommendBody | None = None
) -> dict[str, Any]:
    app = app_of(request)
    settings, llm_settings = _settings(request)

    def write() -> dict[str, Any]:
        llm = LlmClient(llm_settings) if llm_settings.enabled else None
        try:
            with UnitOfWork(
                app.sessions, tenant_id=principal.tenant_id, scope=principal.scope
            ) as uow:
                stored = service.recommend_case(
                    uow,
                    case_id,
                    now=app.clock.now(),
                    actor=actor_of(principal),
                    settings=settings,
                    llm=llm,
                    language=body.language if body else None,
                )
                uow.commit()
                case = case_or_404(uow, case_id)
                row = stored.recommendation
                return {
                    **service.compact(row, service.drafts_of(uow, row.id)),
                    "playbook": pin_of(uow, case).as_json(),
                    "model_error": _error(
                        summaries.ModelError.of(row.body.get("model_error"), row.created_at)
                    ),
                }
        finally:
            if llm is not None:
                llm.close()

    return await run_in_threadpool(write)


@router.post("/v1/cases/{case_id}/summary", response_model=CaseSummaryRead)
async def summarize_case(request: Request, principal: Worker, case_id: Id) -> dict[str, Any]:
    """Summarise the case: the model's summary when it passes the claim checker, else the
    template's, with the reason; the model's tokens are metered to the tenant."""
    app = app_of(request)
    _, llm_settings = _settings(request)

    def write() -> dict[str, Any]:
        llm = LlmClient(llm_settings) if llm_settings.enabled else None
        try:
            with UnitOfWork(
                app.sessions, tenant_id=principal.tenant_id, scope=principal.scope
            ) as uow:
                case_or_404(uow, case_id)
                summary = summaries.summarize_case(
                    uow, case_id, now=app.clock.now(), actor=actor_of(principal), llm=llm
                )
                uow.commit()
                return summary.as_json()
        finally:
            if llm is not None:
                llm.close()

    return await run_in_threadpool(write)


@router.post("/v1/recommendations/{recommendation_id}/handoff", status_code=201)
async def handoff(request: Request, principal: Worker, recommendation_id: Id) -> dict[str, str]:
    app = app_of(request)
    settings, _ = _settings(request)

    def write() -> dict[str, str]:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            row = service.get_recommendation(uow, recommendation_id)
            link = f"{settings.console_base_url.rstrip('/')}/console/cases/{row.case_id}"
            outbox_id = hand_off(
                uow, recommendation_id, link=link, actor=actor_of(principal), now=app.clock.now()
            )
            uow.commit()
            return {"outbox_id": outbox_id}

    return await run_in_threadpool(write)


@router.post("/v1/orders/{order_ref}/customer-message", status_code=201)
async def customer_message(
    request: Request, principal: Worker, order_ref: OrderRef, body: MessageBody
) -> dict[str, str]:
    app = app_of(request)

    def write() -> dict[str, str]:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            message_id = voice.speak(
                uow,
                order_ref,
                recipient=body.recipient,
                channel=body.channel,
                actor=actor_of(principal),
                now=app.clock.now(),
            )
            uow.commit()
            return {"communication_id": message_id}

    return await run_in_threadpool(write)


@router.get("/v1/playbook", response_model=PlaybookRead)
async def read_playbook(request: Request, principal: Reader) -> dict[str, Any]:
    app = app_of(request)

    def read() -> dict[str, Any]:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            playbook, version = service.current_playbook(uow)
        return {"version": version, "yaml": service.playbook_yaml(playbook)}

    return await run_in_threadpool(read)


@router.put("/v1/playbook")
async def put_playbook(
    request: Request, principal: Manager, text: Annotated[str, Body(media_type="text/yaml")]
) -> dict[str, int]:
    app = app_of(request)

    def write() -> dict[str, int]:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            version = service.store_playbook(
                uow, text, actor=actor_of(principal), now=app.clock.now()
            )
            uow.commit()
            return {"version": version}

    return await run_in_threadpool(write)


@router.get("/v1/llm/usage", response_model=ModelUsageList)
async def llm_usage(
    request: Request, principal: Reader, since: datetime | None = None
) -> dict[str, Any]:
    app = app_of(request)

    def read() -> dict[str, Any]:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            return {"items": service.usage_summary(uow, since=since)}

    return await run_in_threadpool(read)


@router.post(
    "/v1/cases/{case_id}/dispute-evidence", status_code=201, response_model=DisputePackRead
)
async def assemble_evidence(
    request: Request, principal: EvidenceWriter, case_id: Id, body: EvidenceBody | None = None
) -> dict[str, Any]:
    app = app_of(request)

    def write() -> dict[str, Any]:
        now = app.clock.now()
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            case = case_or_404(uow, case_id)
            facts = case_facts(uow, case, now=now)
            approvals = [f"{a['kind']} approved" for a in service.approved_actions(uow, case_id)]
            pack = disputes.assemble(
                uow,
                facts,
                refund_policy=(body or EvidenceBody()).refund_policy,
                approvals=approvals,
                now=now,
                actor=principal.identity,
            )
            uow.commit()
            return _pack(pack)

    return await run_in_threadpool(write)


@router.get("/v1/cases/{case_id}/dispute-evidence", response_model=DisputePackList)
async def read_evidence(request: Request, principal: EvidenceReader, case_id: Id) -> dict[str, Any]:
    app = app_of(request)

    def read() -> dict[str, Any]:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            case_or_404(uow, case_id)
            packs = disputes.packs_for(uow, case_id)
            if not packs:
                raise NotFound(f"case {case_id} has no evidence pack")
            return {"items": [_pack(p) for p in packs]}

    return await run_in_threadpool(read)


@router.post("/v1/dispute-evidence/{pack_id}/approve", response_model=DisputePackRead)
async def approve_evidence(request: Request, principal: Approver, pack_id: Id) -> dict[str, Any]:
    app = app_of(request)

    def write() -> dict[str, Any]:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            pack = disputes.approve(uow, pack_id, principal=principal, now=app.clock.now())
            uow.commit()
            return _pack(pack)

    return await run_in_threadpool(write)
