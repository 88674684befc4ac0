"""Dashboards (charts, per-chart CSV and the cases behind each bar, for a date range), the
audit history (paged, filtered) and its verification, and the JSON endpoints live pages poll."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup
from sqlalchemy import select

from orderops.audit.verify import verify_tenant
from orderops.console import charts
from orderops.console.audit_view import PAGE, entity_types, query_of, read_page
from orderops.console.case_view import people_of
from orderops.console.dash_export import chart_csv
from orderops.console.dash_figures import Chart, hours_text, value_text
from orderops.console.live_marks import case_marker, queue_marker
from orderops.console.order_names import order_names
from orderops.console.stats import Dashboard, build
from orderops.console.web import PREFIX, ConsoleRoute, Signed, Viewer, app_of, form_of, render
from orderops.decide.actions import get_case
from orderops.domain.errors import InvalidEvent
from orderops.domain.roles import Permission
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
DEFAULT_DAYS = 14
MAX_DAYS = 366
AUDIT_PAGE = PAGE
DRILL_MAX = 500
"""Cases a drill-down lists at most; the count above the list says how many there are."""


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
    now = app.clock.now()
    start, end = date_range(request.query_params, now.date())

    def read() -> Dashboard:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            return build(uow, start=start, end=end, now=now)

    return await run_in_threadpool(read)


def _span(board: Dashboard) -> str:
    """The board's range as the form writes it (``to`` inclusive)."""
    last = board.end - timedelta(days=1)
    return urlencode({"from": board.start.isoformat(), "to": last.isoformat()})


def drill_url(board: Dashboard, slug: str, key: str) -> str:
    """The list of the cases behind one bar (``/dashboards/cases``)."""
    return (
        f"{PREFIX}/dashboards/cases?" + urlencode({"chart": slug, "key": key}) + "&" + _span(board)
    )


def _chart_svg(board: Dashboard, chart: Chart) -> Markup:
    def label(key: str) -> str:
        return key.replace("_", " ") if chart.slug == "resolve_type" else key

    return charts.hbar_chart(
        chart.title,
        [(label(b.key), b.value) for b in chart.bars],
        texts=[
            value_text(b.value, chart.unit) + (f" · {b.note}" if b.note else "") for b in chart.bars
        ],
        links=[drill_url(board, chart.slug, b.key) for b in chart.bars],
    )


@router.get("/dashboards")
async def dashboards(request: Request, viewer: Signed) -> Response:
    board = await _board(request, viewer)
    opened = board.charts["opened"]
    svgs = {
        slug: _chart_svg(board, chart)
        for slug, chart in board.charts.items()
        if slug not in {"opened", "breaches"}
    }
    breaches = {"breaches": [b.value for b in board.charts["breaches"].bars]}
    breach_links = [drill_url(board, "breaches", b.key) for b in board.charts["breaches"].bars]
    svgs["breaches"] = charts.for_any_width(
        charts.stacked_columns(
            "SLA breaches per day", board.days, breaches, width=420, links=breach_links
        ),
        charts.stacked_rows("SLA breaches per day", board.days, breaches, links=breach_links),
    )
    opened_links = [drill_url(board, "opened", b.key) for b in opened.bars]
    return render(
        request,
        "dashboards.html",
        board=board,
        last_day=board.end - timedelta(days=1),
        volume_chart=charts.for_any_width(
            charts.stacked_columns(
                "Exceptions opened per day by type", board.days, board.volume, links=opened_links
            ),
            charts.stacked_rows(
                "Exceptions opened per day by type", board.days, board.volume, links=opened_links
            ),
        ),
        volume_legend=charts.legend([k.replace("_", " ") for k in board.volume]),
        svgs=svgs,
        hours=hours_text,
        span=_span(board),
    )


@router.get("/dashboards.csv")
async def dashboards_csv(request: Request, viewer: Signed) -> Response:
    """The whole page's figures, or one chart's (``?chart=sku``) with a row per bar."""
    board = await _board(request, viewer)
    slug = request.query_params.get("chart")
    last = board.end - timedelta(days=1)
    if slug:
        chart = board.charts.get(slug)
        if chart is None:
            raise InvalidEvent(f"no chart {slug!r}; charts: {', '.join(board.charts)}")
        body, name = chart_csv(chart), f"orderops-{slug}-{board.start}-{last}.csv"
    else:
        body, name = board.csv(), f"orderops-{viewer.tenant_id}-{board.start}-{last}.csv"
    return Response(
        body,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/dashboards/cases")
async def dashboard_cases(request: Request, viewer: Signed) -> Response:
    """The cases behind one bar of a chart; without a chart, every case opened in the
    range. Read back through the viewer's scoped unit of work."""
    board = await _board(request, viewer)
    slug = request.query_params.get("chart") or "opened"
    key = request.query_params.get("key")
    chart = board.charts.get(slug)
    if chart is None:
        raise InvalidEvent(f"no chart {slug!r}; charts: {', '.join(board.charts)}")
    if key is None:
        ids = sorted({i for bar in chart.bars for i in bar.cases})
        bar = None
    else:
        bar = chart.bar(key)
        ids = list(bar.cases) if bar is not None else []
    app = app_of(request)

    def read() -> tuple[list[Case], dict[str, str]]:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            rows: list[Case] = []
            for chunk in range(0, min(len(ids), DRILL_MAX), 500):
                rows += uow.session.scalars(
                    select(Case).where(
                        Case.tenant_id == uow.tenant_id,
                        Case.id.in_(ids[chunk : min(chunk + 500, DRILL_MAX)]),
                    )
                )
            names = order_names(uow, [c.order_ref for c in rows])
            uow.session.expunge_all()
            return sorted(rows, key=lambda c: (c.opened_at, c.id), reverse=True), names

    rows, names = await run_in_threadpool(read)
    return render(
        request,
        "dashboard_cases.html",
        board=board,
        chart=chart,
        key=key,
        bar=bar,
        rows=rows,
        names=names,
        total=len(ids),
        cap=DRILL_MAX,
        shown_value=value_text(bar.value, chart.unit) if bar is not None else None,
        span=_span(board),
        last_day=board.end - timedelta(days=1),
        back=f"{PREFIX}/dashboards?{_span(board)}",
    )


# -- audit --------------------------------------------------------------------------


@router.get("/audit")
async def audit_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.AUDIT_READ)
    app = app_of(request)
    query = query_of(request.query_params)

    def read() -> Response:
        # Rendered inside the unit of work, which expires its rows when it closes.
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            if query.case_id is not None:
                get_case(uow, query.case_id)  # 404 outside the viewer's tenant or scope
            page = read_page(uow, query, size=AUDIT_PAGE)
            filters = query.filters()
            return render(
                request,
                "audit.html",
                records=page.records,
                people=people_of(uow),
                case_id=query.case_id,
                result=None,
                query=query,
                entity_types=entity_types(uow),
                older=None
                if page.older is None
                else f"{PREFIX}/audit?" + urlencode({**filters, "before": page.older}),
                newer=None
                if page.newer is None
                else f"{PREFIX}/audit?" + urlencode({**filters, "after": page.newer}),
            )

    return await run_in_threadpool(read)


@router.post("/audit/verify")
async def audit_verify(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.AUDIT_READ)
    await form_of(request, viewer)
    app = app_of(request)
    result = await run_in_threadpool(verify_tenant, app.sessions, tenant_id=viewer.tenant_id)
    return render(
        request, "audit.html", records=[], people={}, case_id=None, result=result, query=None
    )


# -- live updates -------------------------------------------------------------------


@router.get("/live/cases/{case_id}")
async def live_case(request: Request, viewer: Signed, case_id: str) -> Response:
    """The polling fallback of the live stream (console/live.py): the case's marker."""
    viewer.need(Permission.CASES_READ)
    return JSONResponse({"stamp": await _marker(request, viewer, case_marker, case_id)})


@router.get("/live/queues/{name}")
async def live_queue(request: Request, viewer: Signed, name: str) -> Response:
    """The polling fallback of the live stream (console/live.py): the queue's marker."""
    viewer.need(Permission.CASES_READ)
    return JSONResponse({"stamp": await _marker(request, viewer, queue_marker, name)})


async def _marker(
    request: Request, viewer: Viewer, marker: Callable[[UnitOfWork, str], str], ref: str
) -> str:
    app = app_of(request)

    def read() -> str:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            return marker(uow, ref)

    return await run_in_threadpool(read)
