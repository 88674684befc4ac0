"""Signing in and out, the queues, and working a case: claim, move, propose, decide, write.

Thin shells: each handler parses the form, checks the permission on the server (whatever
the page showed), and calls the same workflow service as the API, so the audit trail and
the outbox cannot differ between the two.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from orderops.bootstrap import App
from orderops.cases import assignment
from orderops.cases.conflicts import InvalidWorkRequest, StaleCase, load_case
from orderops.console.accounts import sign_in, sign_out
from orderops.console.closed_cases import refuse_closed
from orderops.console.queue_view import SHOWN_ROWS, QueueFilter, SortKey, queue_cases
from orderops.console.security import LOGIN_FORM_LIFETIME, login_form_ok, login_form_token
from orderops.console.sso import leave_through_provider
from orderops.console.throttle import SignInThrottled
from orderops.console.web import (
    PREFIX,
    SESSION_COOKIE,
    ConsoleRoute,
    Signed,
    Viewer,
    app_of,
    form_of,
    local_path,
    redirect,
    refuse_cross_site,
    render,
)
from orderops.decide import approvals as approval_service
from orderops.decide import communications
from orderops.decide.actions import get_case
from orderops.decide.transitions import Move, MoveRequest, apply_move
from orderops.domain.cases import ExceptionType
from orderops.domain.errors import (
    Forbidden,
    IllegalTransition,
    Unauthorized,
)
from orderops.domain.roles import Permission
from orderops.domain.routing import Priority
from orderops.evidence.service import default_store
from orderops.recommend.recheck import recheck_message
from orderops.recommend.service import recommend_case
from orderops.storage.repositories.queues import queues_of
from orderops.storage.tables import Case
from orderops.storage.tables.queues import Communication
from orderops.storage.uow import UnitOfWork

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
LOGIN_COOKIE = "oo_login"


# -- signing in ---------------------------------------------------------------------


@router.get("/login")
async def login_page(request: Request, next: str = "") -> Response:
    return _login_form(request, next=local_path(next, f"{PREFIX}/queues"))


@router.post("/login")
async def login(request: Request) -> Response:
    app = app_of(request)
    refuse_cross_site(request)
    raw = (await request.body()).decode("utf-8", "replace")
    form = dict(parse_qsl(raw, keep_blank_values=True))
    nonce = request.cookies.get(LOGIN_COOKIE, "")
    if not login_form_ok(nonce, app.settings.secret_key, form.get("csrf"), app.wall_clock.now()):
        raise Forbidden("the sign-in form expired; reload the page")
    target = local_path(form.get("next"), f"{PREFIX}/queues")
    tenant = form.get("tenant", "").strip()
    try:
        _, session = await run_in_threadpool(
            lambda: sign_in(
                app.sessions,
                settings=app.settings,
                clock=app.wall_clock,
                tenant_id=tenant,
                email=form.get("email", ""),
                password=form.get("password", ""),
                address=request.client.host if request.client else "unknown",
                code=form.get("code", ""),
            )
        )
    except Unauthorized as exc:
        throttled = isinstance(exc, SignInThrottled)
        response = _login_form(
            request,
            next=target,
            status=429 if throttled else 401,
            error=exc.message,
            tenant=tenant,
            email=form.get("email", ""),
        )
        if isinstance(exc, SignInThrottled):
            response.headers["Retry-After"] = str(exc.retry_after)
        return response
    response = redirect(target)
    response.set_cookie(
        SESSION_COOKIE,
        session.token,
        max_age=app.settings.console_session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path=PREFIX)
    return response


@router.post("/logout")
async def logout(request: Request, viewer: Signed) -> Response:
    await form_of(request, viewer)
    app = app_of(request)
    provider_logout = await run_in_threadpool(
        lambda: sign_out(
            app.sessions, viewer.session, clock=app.wall_clock, secret_key=app.settings.secret_key
        )
    )
    if provider_logout:
        response = leave_through_provider(request, provider_logout)
    else:
        response = redirect(f"{PREFIX}/login", message="Signed out.")
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _login_form(request: Request, *, next: str, status: int = 200, **context: Any) -> Response:
    """The sign-in form with a fresh nonce and token: a token lapses, and is replaced
    after every attempt, so no one token serves for a stream of guesses."""
    app = app_of(request)
    nonce = secrets.token_urlsafe(16)
    response = render(
        request,
        "login.html",
        status=status,
        next=next,
        csrf=login_form_token(nonce, app.settings.secret_key, app.wall_clock.now()),
        **context,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        nonce,
        max_age=int(LOGIN_FORM_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        path=PREFIX,
    )
    return response


# -- queues -------------------------------------------------------------------------


@router.get("")
async def home(viewer: Signed) -> Response:
    return redirect(f"{PREFIX}/queues")


@router.get("/queues")
async def queues_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.CASES_READ)
    app = app_of(request)

    def read() -> tuple[list[Any], set[str]]:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            repo = queues_of(uow)
            counts = repo.counts()
            mine = {q.name for q in repo.all() if viewer.user.display_name in repo.members(q)}
        return counts, mine

    counts, mine = await run_in_threadpool(read)
    counts.sort(key=lambda c: (c.name not in mine, -c.open, c.name))
    return render(request, "queues.html", queues=counts, mine=mine)


@router.get("/queues/{name}")
async def queue_page(request: Request, viewer: Signed, name: str) -> Response:
    viewer.need(Permission.CASES_READ)
    app = app_of(request)
    params = request.query_params
    where = QueueFilter(
        exception_type=params.get("type", ""),
        priority=params.get("priority", ""),
        sla=params.get("sla", ""),
        assignee=params.get("assignee", ""),
        min_age_hours=_float(params.get("age")),
        sort=SortKey(params["sort"]) if params.get("sort") in set(SortKey) else SortKey.IMPACT,
    )
    now = app.clock.now()

    def read() -> list[Any]:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            return queue_cases(uow, name, where, me=viewer.user.display_name, now=now)

    rows = await run_in_threadpool(read)
    every = params.get("show") == "all"
    return render(
        request,
        "queue.html",
        name=name,
        rows=rows if every else rows[:SHOWN_ROWS],
        total=len(rows),
        show_all_url=f"{request.url.path}?{urlencode({**params, 'show': 'all'})}",
        where=where,
        now=now,
        types=list(ExceptionType),
        priorities=list(Priority),
        sorts=list(SortKey),
        live_url=f"{PREFIX}/live/queues/{name}",
    )


def _float(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None


# -- working a case (the page itself, proposals and applying: pages_case.py) ------------


CaseChange = Callable[[UnitOfWork, Case], None]


async def _change_case(
    request: Request, viewer: Viewer, case_id: str, act: Callable[[dict[str, str]], CaseChange]
) -> Response:
    """Apply one change to the version of the case the person saw, as the API does."""
    viewer.need(Permission.CASES_WORK)
    form = await form_of(request, viewer)
    app = app_of(request)
    change = act(form)
    version = int(form["version"]) if form.get("version", "").isdigit() else None
    await run_in_threadpool(_apply, app, viewer, case_id, version, change)
    return redirect(f"{PREFIX}/cases/{case_id}", message=form.get("done") or "Saved.")


def _apply(app: App, viewer: Viewer, case_id: str, version: int | None, act: CaseChange) -> None:
    try:
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, scope=viewer.scope) as uow:
            act(uow, load_case(uow, case_id, expected_version=version))
            uow.commit()
    except StaleDataError as exc:
        raise StaleCase(
            f"case {case_id} changed while you saved; look again", case_id=case_id
        ) from exc


@router.post("/cases/{case_id}/claim")
async def claim(request: Request, viewer: Signed, case_id: str) -> Response:
    app = app_of(request)
    return await _change_case(
        request,
        viewer,
        case_id,
        lambda form: (
            lambda uow, case: assignment.claim(
                uow,
                case,
                member=viewer.user.display_name,
                actor=viewer.principal.identity,
                now=app.clock.now(),
            )
        ),
    )


@router.post("/cases/{case_id}/release")
async def release(request: Request, viewer: Signed, case_id: str) -> Response:
    app = app_of(request)
    return await _change_case(
        request,
        viewer,
        case_id,
        lambda form: (
            lambda uow, case: assignment.release(
                uow,
                case,
                member=viewer.user.display_name,
                actor=viewer.principal.identity,
                now=app.clock.now(),
            )
        ),
    )


@router.post("/cases/{case_id}/move")
async def move(request: Request, viewer: Signed, case_id: str) -> Response:
    app = app_of(request)

    def act(form: dict[str, str]) -> CaseChange:
        if form.get("move") not in set(Move):
            raise InvalidWorkRequest(f"unknown move {form.get('move')!r}")
        wanted = MoveRequest(
            move=Move(form["move"]),
            actor=viewer.principal.identity,
            reason=form.get("reason", "").strip() or None,
            wake_on_event=form.get("move") == Move.SNOOZE,
        )
        return lambda uow, case: apply_move(uow, case, wanted, now=app.clock.now())

    return await _change_case(request, viewer, case_id, act)


@router.post("/actions/{action_id}/approve")
async def approve(request: Request, viewer: Signed, action_id: str) -> Response:
    viewer.need(Permission.ACTIONS_APPROVE)
    form = await form_of(request, viewer)
    app = app_of(request)
    done = await run_in_threadpool(
        lambda: approval_service.approve(
            app.sessions,
            tenant_id=viewer.tenant_id,
            action_id=action_id,
            principal=viewer.principal,
            clock=app.clock,
            evidence=default_store(app.settings),
            reason=form.get("reason", "").strip() or None,
        )
    )
    return redirect(f"{PREFIX}/cases/{done.case_id}", message=f"Approved {done.kind}.")


@router.post("/actions/{action_id}/reject")
async def reject(request: Request, viewer: Signed, action_id: str) -> Response:
    viewer.need(Permission.ACTIONS_APPROVE)
    form = await form_of(request, viewer)
    app = app_of(request)
    done = await run_in_threadpool(
        lambda: approval_service.reject(
            app.sessions,
            tenant_id=viewer.tenant_id,
            action_id=action_id,
            principal=viewer.principal,
            clock=app.clock,
            evidence=default_store(app.settings),
            reason=form.get("reason", ""),
        )
    )
    return redirect(f"{PREFIX}/cases/{done.case_id}", message=f"Rejected {done.kind}.")


# -- recommendations ----------------------------------------------------------------


@router.post("/cases/{case_id}/recommend")
async def recommend(request: Request, viewer: Signed, case_id: str) -> Response:
    """Ask the recommender now; it stores its answer, which the case page then lists."""
    viewer.need(Permission.CASES_WORK)
    await form_of(request, viewer)
    app = app_of(request)
    await run_in_threadpool(
        refuse_closed, app.sessions, viewer.principal, case_id, doing="ask for a recommendation"
    )

    def write() -> str:
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, scope=viewer.scope) as uow:
            stored = recommend_case(
                uow, case_id, now=app.clock.now(), actor=viewer.principal.identity
            )
            uow.commit()
            top = stored.advice.top
            return f"Recommended {top.rule}." if top else "No playbook rule fits this case."

    done = await run_in_threadpool(write)
    return redirect(f"{PREFIX}/cases/{case_id}", message=done)


# -- customer messages --------------------------------------------------------------


class DraftFailsFactCheck(IllegalTransition):
    """A message the fact checker finds problems in cannot be approved (answers 409)."""

    code = "draft-fails-fact-check"


@router.post("/cases/{case_id}/messages")
async def draft_message(request: Request, viewer: Signed, case_id: str) -> Response:
    app = app_of(request)

    def act(form: dict[str, str]) -> CaseChange:
        return lambda uow, case: _ignore(
            communications.draft(
                uow,
                case,
                channel=form.get("channel") or "email",
                subject=form.get("subject") or None,
                body=form.get("body", ""),
                actor=viewer.principal.identity,
                now=app.clock.now(),
                topic=form.get("topic") or None,
            )
        )

    return await _change_case(request, viewer, case_id, act)


@router.post("/messages/{message_id}/{step}")
async def message_step(request: Request, viewer: Signed, message_id: str, step: str) -> Response:
    viewer.need(Permission.ACTIONS_APPROVE if step == "approve" else Permission.CASES_WORK)
    form = await form_of(request, viewer)
    app = app_of(request)
    version = int(form["version"]) if form.get("version", "").isdigit() else None
    actor, now = viewer.principal.identity, app.clock.now()

    def write() -> tuple[str, int | None]:
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, scope=viewer.scope) as uow:
            if step == "edit":
                message = communications.edit(
                    uow,
                    message_id,
                    expected_version=version,
                    body=form.get("body", ""),
                    subject=form.get("subject"),
                    actor=actor,
                    now=now,
                )
            elif step == "approve":
                _refuse_unchecked(uow, message_id, now=now)
                message = communications.approve(
                    uow, message_id, expected_version=version, actor=actor, now=now
                )
            elif step == "send":
                message = communications.mark_sent(
                    uow,
                    message_id,
                    expected_version=version,
                    actor=actor,
                    now=now,
                    override_reason=(form.get("override_reason") or "").strip() or None,
                )
            elif step == "retry":
                message = communications.retry(
                    uow,
                    message_id,
                    expected_version=version,
                    actor=actor,
                    now=now,
                    recipient=(form.get("recipient") or "").strip() or None,
                )
            else:
                raise InvalidWorkRequest(f"unknown message step {step!r}")
            uow.commit()
            if step != "edit":
                return message.case_id, None
            case = get_case(uow, message.case_id)
            found = recheck_message(
                uow, case, subject=message.subject, body=message.body, now=now
            ).problems
            return message.case_id, len(found)

    case_id, problems = await run_in_threadpool(write)
    done = {
        "edit": "Draft saved.",
        "approve": "Message approved.",
        "send": "Queued to send; the case shows when the support system has it.",
        "retry": "Queued to send again.",
    }
    flash = done[step]
    if problems:
        flash += f" The fact checker found {problems} problem(s); fix them before approval."
    return redirect(f"{PREFIX}/cases/{case_id}", message=flash)


def _refuse_unchecked(uow: UnitOfWork, message_id: str, *, now: datetime) -> None:
    """Re-check the text as it stands now: whatever the page showed, a failing draft stops."""
    message = uow.session.scalar(
        select(Communication).where(
            Communication.tenant_id == uow.tenant_id, Communication.id == message_id
        )
    )
    if message is None:
        return  # the approval itself answers "not found"
    case = get_case(uow, message.case_id)
    found = recheck_message(uow, case, subject=message.subject, body=message.body, now=now)
    if not found.passed:
        raise DraftFailsFactCheck(
            "this message cannot be approved: " + "; ".join(p.message for p in found.problems)
        )


def _ignore(_value: object) -> None:
    return None
