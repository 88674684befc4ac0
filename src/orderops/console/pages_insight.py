"""Dashboards (charts and CSV for a date range), the audit history and its verification,
and the small JSON endpoints the live pages poll."""

from __future__ import annotations

import hashlib
from datetime import date, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select, true

from orderops.audit.export import ExportFilter
from orderops.audit.in_scope import latest_records
from orderops.audit.verify import verify_tenant
from orderops.console import charts
from orderops.console.stats import Dashboard, build
from orderops.console.web import PREFIX, ConsoleRoute, Signed, app_of, form_of, render
from orderops.decide.actions import get_case
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.errors import InvalidEvent
from orderops.domain.roles import Permission
from orderops.storage.repositories.queue_scopes import queue_scopes, shown_in_queues
from orderops.storage.tables import Case, CaseTimelineEntry, OutboxMessage
from orderops.storage.uow import UnitOfWork

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
DEFAULT_DAYS = 14
MAX_DAYS = 366
AUDIT_PAGE = 200


def date_range(params: Any, today: date) -> tuple[date, date]:
    """``from`` inclusive, ``to`` inclusive in the form; returned end is exclusive."""
    try:
        end = date.fromisoformat(params.get("to")) if params.get("to") else today
        start = (
            date.fromisoformat(params.get("from"))
            if params.get("from")
            else end - timedelta(days=DEFAULT_DAYS - 1)
        )
    except ValueError as exc:
        raise InvalidEvent(f"dates must be YYYY-MM-DD: {exc}") from exc
    if start > end or (end - start).days >= MAX_DAYS:
        raise InvalidEvent(f"choose a range of 1 to {MAX_DAYS} days, start before end")
    return start, end + timedelta(days=1)


async def _board(request: Request, viewer: Signed) -> Dashboard:
    viewer.need(Permission.CASES_READ)
    app = app_of(request)
    start, end = date_range(request.query_params, app.clock.now().date())

    def read() -> Dashboard:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            return build(uow, start=start, end=end)

    return await run_in_threadpool(read)


@router.get("/dashboards")
async def dashboards(request: Request, viewer: Signed) -> Response:
    board = await _board(request, viewer)
    volume_types = list(board.volume)
    return render(
        request,
        "dashboards.html",
        board=board,
        last_day=board.end - timedelta(days=1),
        volume_chart=charts.stacked_columns(
            "Exceptions opened per day by type", board.days, board.volume
        ),
        volume_legend=charts.legend(volume_types),
        resolve_chart=charts.hbar_chart(
            "Median hours to resolve by type",
            [(k, p50) for k, p50, _, _ in board.resolve_by_type],
            unit=" h",
        ),
        resolve_queue_chart=charts.hbar_chart(
            "Median hours to resolve by queue",
            [(k, p50) for k, p50, _, _ in board.resolve_by_queue],
            unit=" h",
        ),
        breach_chart=charts.stacked_columns(
            "SLA breaches per day",
            board.days,
            {"breaches": [v for _, v in board.breaches_by_day]},
            width=420,
        ),
        sku_chart=charts.hbar_chart("Top SKUs in exceptions", board.top_skus),
        lane_chart=charts.hbar_chart("Top lanes in exceptions", board.top_lanes),
        warehouse_chart=charts.hbar_chart("Top warehouses in exceptions", board.top_warehouses),
        customer_chart=charts.hbar_chart("Top customers in exceptions", board.top_customers),
        payment_chart=charts.hbar_chart("Payment issues by code", board.payment_failures),
    )


@router.get("/dashboards.csv")
async def dashboards_csv(request: Request, viewer: Signed) -> Response:
    board = await _board(request, viewer)
    name = f"orderops-{viewer.tenant_id}-{board.start}-{board.end - timedelta(days=1)}.csv"
    return Response(
        board.csv(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# -- audit --------------------------------------------------------------------------


@router.get("/audit")
async def audit_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.AUDIT_READ)
    app = app_of(request)
    case_id = request.query_params.get("case") or None
    where = ExportFilter(case_id=case_id)

    def read() -> Response:
        # Rendered inside the unit of work, which expires its rows when it closes.
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            if case_id is not None:
                get_case(uow, case_id)
                records = [r for r in uow.audit.records() if where.keeps(r)][-AUDIT_PAGE:][::-1]
            else:  # a scoped viewer: only the records about cases in their scope
                records = latest_records(uow, limit=AUDIT_PAGE)
            return render(request, "audit.html", records=records, case_id=case_id, result=None)

    return await run_in_threadpool(read)


@router.post("/audit/verify")
async def audit_verify(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.AUDIT_READ)
    await form_of(request, viewer)
    app = app_of(request)
    result = await run_in_threadpool(verify_tenant, app.sessions, tenant_id=viewer.tenant_id)
    return render(request, "audit.html", records=[], case_id=None, result=result)


# -- live updates -------------------------------------------------------------------


@router.get("/live/cases/{case_id}")
async def live_case(request: Request, viewer: Signed, case_id: str) -> Response:
    """A fingerprint of everything the case page shows; the page reloads its body when it
    changes (cheap to poll: three indexed aggregates)."""
    viewer.need(Permission.CASES_READ)
    app = app_of(request)

    def read() -> str:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            case = get_case(uow, case_id)
            entries = uow.session.scalar(
                select(func.count()).where(
                    CaseTimelineEntry.tenant_id == uow.tenant_id,
                    CaseTimelineEntry.case_id == case_id,
                )
            )
            effects = uow.session.execute(
                select(OutboxMessage.id, OutboxMessage.status, OutboxMessage.attempts)
                .where(OutboxMessage.tenant_id == uow.tenant_id, OutboxMessage.case_id == case_id)
                .order_by(OutboxMessage.id)
            ).all()
            return _stamp(case.version, case.status, entries, effects)

    return JSONResponse({"stamp": await run_in_threadpool(read)})


@router.get("/live/queues/{name}")
async def live_queue(request: Request, viewer: Signed, name: str) -> Response:
    viewer.need(Permission.CASES_READ)
    app = app_of(request)

    def read() -> str:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            shown = shown_in_queues(queue_scopes(uow.session, uow.tenant_id, [name]))
            row = uow.session.execute(
                select(func.count(), func.max(Case.updated_at), func.sum(Case.version)).where(
                    Case.tenant_id == uow.tenant_id,
                    Case.queue == name,
                    Case.status.not_in([str(s) for s in CLOSED_STATUSES]),
                    true() if shown is None else shown,
                )
            ).one()
            return _stamp(*row)

    return JSONResponse({"stamp": await run_in_threadpool(read)})


def _stamp(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
