"""Customer communications over HTTP: draft, edit, approve (four eyes), send, retry, history.

Send queues the approved text in the outbox (the message answers ``sending``); the
worker's delivery makes it ``delivered`` or ``failed``, the bounce read-back ``bounced``,
and a failed or bounced one can be retried (a bounced one to a corrected ``recipient``).

The tenant's proactive-notice rule (``/v1/admin/notification-policy``: which topics are
drafted, which an explicit rule sends, the quiet period and the one-voice window) is read
and set here too, by policy managers; each change is audited.

Changes take the message's version (If-Match or ``version``); a stale one is a 409 that
carries the message as it is now."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import Field
from sqlalchemy.orm.exc import StaleDataError

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.case_work_schemas import (
    CommunicationList,
    CommunicationRead,
    DraftBody,
    EditBody,
    MessageVersion,
)
from orderops.api.params import Id
from orderops.api.problems import problem
from orderops.api.work_common import (
    Approver,
    IfMatch,
    Manager,
    Reader,
    Worker,
    actor_of,
    case_or_404,
    conflict_status,
    version_from,
)
from orderops.bootstrap import App
from orderops.cases.conflicts import StaleCommunication
from orderops.decide import communications
from orderops.domain.errors import IllegalTransition, NotFound
from orderops.domain.notifications import NoticePolicy
from orderops.storage.tables.queues import Communication
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.workflow import notifications

router = APIRouter(tags=["communications"], route_class=SafeJsonRoute)


class RetryBody(MessageVersion):
    recipient: str | None = Field(default=None, min_length=3, max_length=320)
    """A corrected address for a bounced message: a new ticket goes to it."""


class SendBody(MessageVersion):
    override_reason: str | None = Field(default=None, min_length=3, max_length=500)
    """Send despite one voice (the customer's quiet period, or a topic they were told
    about within the window): why; recorded with the earlier message on the timeline."""


class NoticePolicyRead(NoticePolicy):
    version: int
    """0 while the tenant never set one (the default: nothing proactive)."""


@router.get("/v1/cases/{case_id}/communications", response_model=CommunicationList)
async def list_communications(
    request: Request, principal: Reader, case_id: Id
) -> CommunicationList:
    app = app_of(request)

    def read() -> CommunicationList:
        with UnitOfWork(
            app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
        ) as uow:
            case_or_404(uow, case_id)
            views = communications.history(uow, case_id)
        return CommunicationList(items=[CommunicationRead.model_validate(v) for v in views])

    return await run_in_threadpool(read)


@router.post(
    "/v1/cases/{case_id}/communications", response_model=CommunicationRead, status_code=201
)
async def draft_communication(
    request: Request, principal: Worker, case_id: Id, body: DraftBody
) -> CommunicationRead:
    app = app_of(request)

    def write() -> CommunicationRead:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            case = case_or_404(uow, case_id)
            message = communications.draft(
                uow,
                case,
                channel=body.channel,
                recipient=body.recipient,
                subject=body.subject,
                body=body.body,
                actor=actor_of(principal),
                now=app.clock.now(),
                topic=body.topic,
            )
            uow.commit()
            return _message(uow, message.id)

    return await run_in_threadpool(write)


@router.patch("/v1/communications/{message_id}", response_model=CommunicationRead)
async def edit_communication(
    request: Request, principal: Worker, message_id: Id, body: EditBody, if_match: IfMatch = None
) -> Response:
    app = app_of(request)
    return await _message_change(
        app,
        principal,
        message_id,
        lambda uow: communications.edit(
            uow,
            message_id,
            expected_version=version_from(if_match, body),
            body=body.body,
            subject=body.subject,
            actor=actor_of(principal),
            now=app.clock.now(),
        ),
    )


@router.post("/v1/communications/{message_id}/approve", response_model=CommunicationRead)
async def approve_communication(
    request: Request,
    principal: Approver,
    message_id: Id,
    body: MessageVersion,
    if_match: IfMatch = None,
) -> Response:
    app = app_of(request)
    return await _message_change(
        app,
        principal,
        message_id,
        lambda uow: communications.approve(
            uow,
            message_id,
            expected_version=version_from(if_match, body),
            actor=actor_of(principal),
            now=app.clock.now(),
        ),
    )


@router.post("/v1/communications/{message_id}/send", response_model=CommunicationRead)
async def send_communication(
    request: Request,
    principal: Worker,
    message_id: Id,
    body: SendBody,
    if_match: IfMatch = None,
) -> Response:
    """Queue the approved text for delivery through the support connector. Sending into the
    customer's quiet period, or about a topic they were told about within the window, is
    a 409 ``one-voice`` naming the earlier message, unless ``override_reason`` says why."""
    app = app_of(request)
    return await _message_change(
        app,
        principal,
        message_id,
        lambda uow: communications.mark_sent(
            uow,
            message_id,
            expected_version=version_from(if_match, body),
            actor=actor_of(principal),
            now=app.clock.now(),
            override_reason=body.override_reason,
        ),
    )


@router.post("/v1/communications/{message_id}/retry", response_model=CommunicationRead)
async def retry_communication(
    request: Request,
    principal: Worker,
    message_id: Id,
    body: RetryBody,
    if_match: IfMatch = None,
) -> Response:
    """Queue a failed message again, under the key it was first sent with; a bounced one
    as a new delivery, to ``recipient`` when given."""
    app = app_of(request)
    return await _message_change(
        app,
        principal,
        message_id,
        lambda uow: communications.retry(
            uow,
            message_id,
            expected_version=version_from(if_match, body),
            actor=actor_of(principal),
            now=app.clock.now(),
            recipient=body.recipient,
        ),
    )


@router.get("/v1/admin/notification-policy", response_model=NoticePolicyRead)
async def show_notice_policy(request: Request, principal: Manager) -> NoticePolicyRead:
    app = app_of(request)

    def read() -> NoticePolicyRead:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, write=False) as uow:
            policy, version = notifications.policy_of(uow), notifications.policy_version(uow)
        return NoticePolicyRead(**policy.model_dump(), version=version)

    return await run_in_threadpool(read)


@router.put("/v1/admin/notification-policy", response_model=NoticePolicyRead)
async def set_notice_policy(
    request: Request, principal: Manager, body: NoticePolicy
) -> NoticePolicyRead:
    """Replace the tenant's notice rule (a new version, audited with before and after)."""
    app = app_of(request)

    def write() -> NoticePolicyRead:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id) as uow:
            version = notifications.set_policy(
                uow, body, actor=actor_of(principal), now=app.clock.now()
            )
            uow.commit()
        return NoticePolicyRead(**body.model_dump(), version=version)

    return await run_in_threadpool(write)


async def _message_change(
    app: App, principal: Principal, message_id: str, action: Callable[[UnitOfWork], object]
) -> Response:
    def write() -> CommunicationRead:
        try:
            with UnitOfWork(
                app.sessions, tenant_id=principal.tenant_id, scope=principal.scope
            ) as uow:
                action(uow)
                uow.commit()
                return _message(uow, message_id)
        except StaleDataError as exc:
            raise StaleCommunication(f"communication {message_id} changed meanwhile") from exc

    try:
        message = await run_in_threadpool(write)
    except IllegalTransition as exc:
        current = await run_in_threadpool(_current_message, app, principal, message_id)
        return problem(
            conflict_status(exc), exc.code, type(exc).__name__, exc.message, communication=current
        )
    return JSONResponse(message.model_dump(mode="json"), headers={"ETag": f'"{message.version}"'})


def _message(uow: UnitOfWork, message_id: str) -> CommunicationRead:
    row = uow.session.get(Communication, message_id)
    if row is None or row.tenant_id != uow.tenant_id:
        raise NotFound(f"no communication {message_id}")
    views = [v for v in communications.history(uow, row.case_id) if v.id == message_id]
    return CommunicationRead.model_validate(views[0])


def _current_message(app: App, principal: Principal, message_id: str) -> dict[str, Any] | None:
    with UnitOfWork(
        app.sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
    ) as uow:
        try:
            return _message(uow, message_id).model_dump(mode="json")
        except NotFound:
            return None
