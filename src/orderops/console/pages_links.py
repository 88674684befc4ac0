"""Links to check: the records resolve would not place, each with its candidate orders and
the evidence for each; and an order's links, revoked ones kept and greyed.

Thin shells over ``workflow.relink`` (the same calls as the API), so a choice made here is
audited, judged and noted on the cases exactly as one made over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

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
from orderops.domain.errors import Conflict, InvalidEvent
from orderops.domain.roles import Permission
from orderops.resolve import link_queries
from orderops.resolve.link_records import NEEDS_AN_ORDER
from orderops.resolve.links import RecordType
from orderops.storage.uow import UnitOfWork
from orderops.workflow import relink

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
PAGE = 100
UNLINKABLE = frozenset(t.value for t in RecordType) - NEEDS_AN_ORDER
"""Records that may be left without an order; the others are moved, not unlinked."""


@router.get("/links")
async def links_to_check(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.CASES_READ)
    wanted = query_text(request.query_params, "order")
    if wanted:
        return redirect(f"{PREFIX}/orders/{quote(wanted, safe='')}/links")
    app = app_of(request)

    def read() -> Response:
        # Rendered inside the unit of work, which expires its rows when it closes.
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            page = link_queries.list_suggestions(uow, status="open", limit=PAGE, offset=0)
            refs = [ref for s in page.items for ref in link_queries.candidate_refs(s)]
            return render(
                request,
                "links.html",
                suggestions=page.items,
                total=page.total,
                orders=link_queries.orders_by_ref(uow, refs),
                records={
                    s.id: link_queries.record_view(uow, s.record_type, s.record_ref, s.inbox_id)
                    for s in page.items
                },
            )

    return await run_in_threadpool(read)


@router.get("/orders/{order_ref}/links")
async def order_links(request: Request, viewer: Signed, order_ref: str) -> Response:
    viewer.need(Permission.CASES_READ)
    app = app_of(request)

    def read() -> Response:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            links = link_queries.order_links(uow, order_ref)
            order = uow.commerce.order_by_ref(order_ref)
            return render(
                request, "order_links.html", order=order, links=links, unlinkable=UNLINKABLE
            )

    return await run_in_threadpool(read)


@router.post("/links/suggestions/{suggestion_id}/accept")
async def accept(request: Request, viewer: Signed, suggestion_id: str) -> Response:
    form = await _work_form(request, viewer)
    order_ref = form.get("order_ref", "").strip()
    app = app_of(request)
    decided = await _decide(
        request,
        viewer,
        lambda uow: relink.accept_suggestion(
            uow,
            suggestion_id=suggestion_id,
            order_ref=order_ref,
            actor=viewer.principal.identity,
            reason=form.get("reason", "").strip() or None,
            now=app.clock.now(),
        ),
    )
    if isinstance(decided, str):
        return redirect(f"{PREFIX}/links", message=decided)
    return redirect(f"{PREFIX}/links", message=f"Linked to order {order_ref}.")


@router.post("/links/suggestions/{suggestion_id}/reject")
async def reject(request: Request, viewer: Signed, suggestion_id: str) -> Response:
    form = await _work_form(request, viewer)
    app = app_of(request)
    decided = await _decide(
        request,
        viewer,
        lambda uow: relink.reject_suggestion(
            uow,
            suggestion_id=suggestion_id,
            actor=viewer.principal.identity,
            reason=form.get("reason", ""),
            now=app.clock.now(),
        ),
    )
    if isinstance(decided, str):
        return redirect(f"{PREFIX}/links", message=decided)
    return redirect(f"{PREFIX}/links", message="Suggestion rejected; the record stays unlinked.")


@router.post("/links/{link_id}/unlink")
async def unlink(request: Request, viewer: Signed, link_id: str) -> Response:
    form = await _work_form(request, viewer)
    app = app_of(request)
    decision = await _decide(
        request,
        viewer,
        lambda uow: relink.unlink(
            uow,
            link_id=link_id,
            actor=viewer.principal.identity,
            reason=form.get("reason", ""),
            now=app.clock.now(),
        ),
    )
    if isinstance(decision, str):
        return redirect(f"{PREFIX}/links", message=decision)
    back = decision.orders[0] if decision.orders else ""
    target = f"{PREFIX}/orders/{quote(back, safe='')}/links" if back else f"{PREFIX}/links"
    return redirect(target, message="Unlinked; the link stays on record, revoked.")


async def _work_form(request: Request, viewer: Viewer) -> dict[str, str]:
    viewer.need(Permission.CASES_WORK)
    return await form_of(request, viewer)


async def _decide(
    request: Request, viewer: Viewer, decide: Callable[[UnitOfWork], relink.LinkDecision]
) -> relink.LinkDecision | str:
    """The decision, or why it was refused (decided already, not a candidate, no reason),
    to show on the links page rather than wherever the browser came from."""
    app = app_of(request)

    def run() -> relink.LinkDecision:
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, scope=viewer.scope) as uow:
            decision = decide(uow)
            uow.commit()
            return decision

    try:
        return await run_in_threadpool(run)
    except (Conflict, InvalidEvent) as exc:
        return exc.message
