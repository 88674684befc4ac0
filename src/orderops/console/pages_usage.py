"""The usage page: what the tenant used per day, meter and dimension, its quotas, and the
CSV an invoice is built from (the same rows as ``GET /v1/usage?format=csv``)."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.web import PREFIX, ConsoleRoute, Signed, app_of, query_text, render
from orderops.domain.roles import Permission
from orderops.domain.usage import DIMENSIONS, InvalidPeriod, Meter, Period
from orderops.metering.usage_report import UsageReport, csv_text, usage_report

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


async def _report(request: Request, viewer: Signed) -> UsageReport:
    viewer.need(Permission.USAGE_READ)
    app = app_of(request)
    now = app.clock.now()
    period = Period.of(
        _day(query_text(request.query_params, "from")),
        _day(query_text(request.query_params, "to")),
        today=now.date(),
    )
    return await run_in_threadpool(
        usage_report, app.sessions, [viewer.tenant_id], period=period, now=now
    )


@router.get("/usage")
async def usage_page(request: Request, viewer: Signed) -> Response:
    report = await _report(request, viewer)
    return render(
        request,
        "usage.html",
        report=report,
        totals=report.totals(),
        quotas=report.quotas.get(viewer.tenant_id, []),
        dimensions={str(m): DIMENSIONS[m] for m in Meter},
    )


@router.get("/usage.csv")
async def usage_csv(request: Request, viewer: Signed) -> Response:
    report = await _report(request, viewer)
    name = f"usage-{viewer.tenant_id}-{report.period.first}-{report.period.last}.csv"
    return Response(
        csv_text(report.rows),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _day(text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise InvalidPeriod(f"dates must be YYYY-MM-DD, not {text!r}") from exc
