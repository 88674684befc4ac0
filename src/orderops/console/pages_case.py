"""The case page and acting on it: reading it, proposing through the generated form, and
applying a recommendation.

Thin shells like ``pages_work``: the form is read by ``action_forms`` (typed fields, no
JSON), the proposal goes through ``decide.actions.propose`` as the API's does, and a
refusal (the remedy ledger's, the catalogue's, the case's state) re-renders the page with
the form as the reviewer left it and the reason on it, instead of a redirect that would
drop what they typed.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.api.problems import status_for
from orderops.bootstrap import App
from orderops.console.action_forms import (
    OrderFacts,
    Widget,
    form_for,
    order_facts,
    proposable_kinds,
    read_posted,
)
from orderops.console.case_view import case_page
from orderops.console.closed_cases import refuse_closed
from orderops.console.web import (
    PREFIX,
    ConsoleRoute,
    Signed,
    Viewer,
    app_of,
    form_of,
    redirect,
    render,
)
from orderops.decide import actions as action_service
from orderops.decide.actions import get_case
from orderops.decide.transitions import TARGETS, Move
from orderops.domain.actions import ActionKind, InvalidAction
from orderops.domain.cases import TRANSITIONS, CaseStatus
from orderops.domain.errors import Conflict, IllegalTransition, InvalidEvent
from orderops.domain.roles import Permission
from orderops.evidence.service import default_store
from orderops.resolve.ticket_classes import latest_ticket_class
from orderops.storage.uow import UnitOfWork
from orderops.workflow.recommendation_apply import apply_recommendation

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@router.get("/cases/{case_id}")
async def case_detail(request: Request, viewer: Signed, case_id: str) -> Response:
    viewer.need(Permission.CASES_READ)
    params = request.query_params
    return await _case_response(
        request,
        viewer,
        case_id,
        kind=params.get("propose", ""),
        timeline=params.get("timeline", ""),
    )


async def _case_response(
    request: Request,
    viewer: Viewer,
    case_id: str,
    *,
    kind: str = "",
    timeline: str = "",
    posted: dict[str, str] | None = None,
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The case page; with ``posted`` and ``error``, a refused proposal's form as the
    reviewer left it, the refusal on it."""
    app = app_of(request)

    def read() -> Response:
        # Rendered inside the unit of work: the page reads lazily loaded rows.
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            page = case_page(
                uow, case_id, viewer=viewer, now=app.clock.now(), timeline_filter=timeline
            )
            if kind:
                facts = page.order_facts or OrderFacts(currency="")
                page.form = form_for(kind, facts, values=posted, error=error)
            return render(
                request,
                "case.html",
                status=status,
                page=page,
                case=page.case,
                kinds=proposable_kinds(),
                Widget=Widget,
                moves=legal_moves(page.case.status),
                now=app.clock.now(),
                live_url=f"{PREFIX}/live/cases/{case_id}",
                ticket_class=latest_ticket_class(uow, page.case.order_ref),
            )

    return await run_in_threadpool(read)


def legal_moves(status: str) -> list[Move]:
    """The moves the case's status allows: a resolved case offers reopen, not resolve
    (the server refuses the rest anyway; the select should not offer them)."""
    allowed = TRANSITIONS[CaseStatus(status)]
    return [m for m in Move if TARGETS[m] in allowed]


@router.post("/cases/{case_id}/actions")
async def propose(request: Request, viewer: Signed, case_id: str) -> Response:
    """Propose from the generated form; a refusal re-renders the form with its input."""
    viewer.need(Permission.ACTIONS_PROPOSE)
    form = await form_of(request, viewer)
    kind = form.get("kind", "")
    app = app_of(request)
    await run_in_threadpool(
        refuse_closed, app.sessions, viewer.principal, case_id, doing="propose an action"
    )
    if kind == ActionKind.OVERRIDE:
        params: dict[str, Any] = {
            "resolution": form.get("resolution", ""),
            "justification": form.get("justification", ""),
        }
        await run_in_threadpool(_propose, app, viewer, case_id, kind, params, form)
        return redirect(f"{PREFIX}/cases/{case_id}", message="Proposed override.")
    try:
        await run_in_threadpool(_propose_from_form, app, viewer, case_id, form)
    except (InvalidEvent, Conflict, IllegalTransition) as exc:
        return await _case_response(
            request,
            viewer,
            case_id,
            kind=kind,
            posted=form,
            error=exc.message,
            status=status_for(exc),
        )
    return redirect(f"{PREFIX}/cases/{case_id}", message=f"Proposed {kind.replace('_', ' ')}.")


def _propose_from_form(app: App, viewer: Viewer, case_id: str, form: dict[str, str]) -> None:
    with UnitOfWork(
        app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
    ) as uow:
        order = uow.commerce.order(get_case(uow, case_id).order_id)
        if order is None:
            raise InvalidAction(f"case {case_id} has no order to act on")
        posted = read_posted(form, order_facts(uow, order))
    _propose(app, viewer, case_id, str(posted.kind), posted.params, form)


def _propose(
    app: App,
    viewer: Viewer,
    case_id: str,
    kind: str,
    params: dict[str, Any],
    form: dict[str, str],
) -> None:
    action_service.propose(
        app.sessions,
        tenant_id=viewer.tenant_id,
        case_id=case_id,
        kind=kind,
        params=params,
        principal=viewer.principal,
        clock=app.clock,
        evidence=default_store(app.settings),
        note=form.get("note", "").strip() or None,
    )


@router.post("/cases/{case_id}/recommendations/{recommendation_id}/apply")
async def apply(request: Request, viewer: Signed, case_id: str, recommendation_id: str) -> Response:
    """Propose the recommendation's actions and insert its draft; a second press is a no-op."""
    viewer.need(Permission.ACTIONS_PROPOSE)
    viewer.need(Permission.CASES_WORK)
    await form_of(request, viewer)
    app = app_of(request)
    await run_in_threadpool(
        refuse_closed, app.sessions, viewer.principal, case_id, doing="apply a recommendation"
    )

    def write() -> str:
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, scope=viewer.scope) as uow:
            done = apply_recommendation(
                uow,
                case_id,
                recommendation_id,
                principal=viewer.principal,
                now=app.clock.now(),
                evidence=default_store(app.settings),
            )
            uow.commit()
        if done.already:
            return "This recommendation was applied already; nothing was proposed again."
        drafted = f" and drafted {len(done.message_ids)} message(s)" if done.message_ids else ""
        return f"Applied: proposed {len(done.action_ids)} action(s){drafted}."

    return redirect(f"{PREFIX}/cases/{case_id}", message=await run_in_threadpool(write))
