"""Finding and batching work: global search, my cases, saved views, bulk claim, assign,
approve and propose (a queue's checkboxes, an incident's page: ``pages_incidents``).

Thin shells over ``search_view``, ``work_lists`` and ``bulk_work``; every read goes
through a unit of work carrying the viewer's scope, and every change through the same
service call the single buttons use.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.cases.conflicts import InvalidWorkRequest
from orderops.console import bulk_work, work_lists
from orderops.console.queue_view import QueueFilter, SortKey
from orderops.console.search_view import search
from orderops.console.web import (
    PREFIX,
    ConsoleRoute,
    Signed,
    Viewer,
    app_of,
    form_of,
    query_text,
    redirect,
    render,
)
from orderops.domain.cases import ExceptionType
from orderops.domain.roles import Permission
from orderops.domain.routing import Priority
from orderops.evidence.service import default_store
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.users import list_users

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@router.get("/search")
async def search_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.CASES_READ)
    app = app_of(request)
    text = query_text(request.query_params, "q")

    def read() -> Any:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            return search(uow, text)

    result = await run_in_threadpool(read)
    return render(request, "search.html", result=result)


def filter_of(params: Any) -> QueueFilter:
    age = params.get("age")
    try:
        hours = float(age) if age else None
    except ValueError:
        hours = None
    return QueueFilter(
        exception_type=params.get("type", ""),
        priority=params.get("priority", ""),
        sla=params.get("sla", ""),
        assignee=params.get("assignee", ""),
        min_age_hours=hours,
        sort=SortKey(params["sort"]) if params.get("sort") in set(SortKey) else SortKey.IMPACT,
    )


@router.get("/mine")
async def mine_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.CASES_READ)
    app = app_of(request)
    where = filter_of(request.query_params)
    now = app.clock.now()

    def read() -> tuple[list[Any], list[Any]]:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            rows = work_lists.my_cases(uow, where, me=viewer.user.display_name, now=now)
            views = [
                (v.id, v.name, work_lists.view_url(v))
                for v in work_lists.list_views(uow, user_id=viewer.session.user_id)
            ]
            return rows, views

    rows, views = await run_in_threadpool(read)
    return render(
        request,
        "mine.html",
        rows=rows,
        where=where,
        views=views,
        types=list(ExceptionType),
        priorities=list(Priority),
        sorts=list(SortKey),
        query=request.url.query,
    )


@router.post("/views")
async def save_view(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.CASES_READ)
    form = await form_of(request, viewer)
    app = app_of(request)
    path, query = form.get("path", ""), form.get("query", "")

    def write() -> str:
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, scope=viewer.scope) as uow:
            view = work_lists.save_view(
                uow,
                user_id=viewer.session.user_id,
                name=form.get("name", ""),
                path=path,
                query=query,
                now=app.wall_clock.now(),
            )
            uow.commit()
            return view.name

    name = await run_in_threadpool(write)
    target = work_lists.view_path(path) + (f"?{work_lists.clean_query(query)}" if query else "")
    return redirect(target, message=f"Saved view “{name}”.")


@router.post("/views/delete")
async def delete_view(request: Request, viewer: Signed) -> Response:
    """Delete the view the form names: looked up among the signed-in person's own only."""
    viewer.need(Permission.CASES_READ)
    form = await form_of(request, viewer)
    view_id = form.get("view_id", "").strip()[:32]
    app = app_of(request)

    def write() -> str:
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, scope=viewer.scope) as uow:
            name = work_lists.delete_view(uow, user_id=viewer.session.user_id, view_id=view_id)
            uow.commit()
            return name

    name = await run_in_threadpool(write)
    return redirect(f"{PREFIX}/mine", message=f"Deleted view “{name}”.")


@router.post("/bulk")
async def bulk(request: Request, viewer: Signed) -> Response:
    """The queue's checkboxes: each selected case through the single button's service."""
    form = await form_of(request, viewer)
    raw = (await request.body()).decode("utf-8", "replace")
    case_ids = [v for k, v in parse_qsl(raw, keep_blank_values=True) if k == "case"]
    op_name = form.get("op", "")
    if op_name not in set(bulk_work.BulkOp):
        raise InvalidWorkRequest(f"unknown bulk action {op_name!r}")
    op = bulk_work.BulkOp(op_name)
    app = app_of(request)
    actor = viewer.principal.identity
    if op is bulk_work.BulkOp.PROPOSE:
        viewer.need(Permission.ACTIONS_PROPOSE)
        result = await run_in_threadpool(
            lambda: bulk_work.propose_cases(
                app.sessions,
                principal=viewer.principal,
                case_ids=case_ids,
                form=form,
                clock=app.clock,
                evidence=default_store(app.settings),
            )
        )
    elif op is bulk_work.BulkOp.APPROVE:
        viewer.need(Permission.ACTIONS_APPROVE)
        result = await run_in_threadpool(
            lambda: bulk_work.approve_cases(
                app.sessions,
                principal=viewer.principal,
                case_ids=case_ids,
                clock=app.clock,
                evidence=default_store(app.settings),
            )
        )
    else:
        viewer.need(Permission.CASES_WORK)
        if op is bulk_work.BulkOp.CLAIM:
            change = bulk_work.claim_each(viewer.user.display_name, actor, app.clock)
        else:
            assignee = form.get("assignee", "").strip()
            await _refuse_unknown_person(app, viewer, assignee)
            change = bulk_work.assign_each(assignee, actor, app.clock)
        result = await run_in_threadpool(
            lambda: bulk_work.change_cases(
                app.sessions, principal=viewer.principal, case_ids=case_ids, op=op, change=change
            )
        )
    back = form.get("back", "")
    if not back.startswith(f"{PREFIX}/") or "//" in back:
        back = f"{PREFIX}/queues"
    return render(request, "bulk_result.html", result=result, back=back)


async def _refuse_unknown_person(app: Any, viewer: Viewer, assignee: str) -> None:
    people = await run_in_threadpool(list_users, app.sessions, tenant_id=viewer.tenant_id)
    if assignee not in {p.display_name for p in people if p.disabled_at is None}:
        raise InvalidWorkRequest(f"no active person named {assignee!r} to assign to")
