"""``GET /v1/usage``: the tenant's usage, quotas and the invoice CSV; quota refusals as 429.

JSON by default; ``text/csv`` (the invoice export: one row per tenant, environment, day,
meter and dimension, with quantity and unit) when ``format=csv`` or when the request
``Accept``s ``text/csv`` and not JSON. A caller sees its own tenant's usage only.

``install`` wires the rest of metering into an app: the API call meter and the quota
warning header (``api/usage_meter.py``), the 429 answer to ``QuotaExceeded`` (a
``Retry-After`` at the month's reset, and the refusal's warning recorded), and the
usage gauges for ``/metrics``.
"""

from __future__ import annotations

import logging
import threading
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry
from sqlalchemy.exc import SQLAlchemyError

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.api.problems import problem, problem_responses
from orderops.api.usage_meter import ApiCallMeter, UsageMeter
from orderops.domain.roles import Permission
from orderops.domain.usage import Period, QuotaExceeded
from orderops.metering.usage import record_refusal
from orderops.metering.usage_metrics import UsageCollector
from orderops.metering.usage_report import csv_text, month_to_date, usage_report
from orderops.metering.usage_settings import UsageSettings
from orderops.tenancy.tenants import Principal

log = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["usage"], route_class=SafeJsonRoute)

CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
_registry_lock = threading.Lock()

UsageReader = Annotated[Principal, Depends(require(Permission.USAGE_READ))]


@router.get(
    "/usage",
    summary="The tenant's usage per day, meter and dimension, its quotas; or the invoice CSV",
    responses={
        200: {
            "description": "JSON (rows, totals, quotas), or CSV when asked for",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        **problem_responses(401, 403, 422),
    },
)
async def read_usage(
    request: Request,
    principal: UsageReader,
    first: Annotated[
        date | None, Query(alias="from", description="First day (default: the 1st)")
    ] = None,
    last: Annotated[date | None, Query(alias="to", description="Last day (default: today)")] = None,
    format: Annotated[
        Literal["json", "csv"] | None,
        Query(description="csv: the invoice export; default: by the Accept header, else JSON"),
    ] = None,
) -> Response:
    app = app_of(request)
    now = app.clock.now()
    period = Period.of(first, last, today=now.date())
    report = await run_in_threadpool(
        usage_report, app.sessions, [principal.tenant_id], period=period, now=now
    )
    if _wants_csv(format, request.headers.get("accept", "")):
        name = f"usage-{principal.tenant_id}-{period.first}-{period.last}.csv"
        return Response(
            csv_text(report.rows),
            media_type=CSV_MEDIA_TYPE,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )
    return JSONResponse({"tenant": principal.tenant_id, **report.as_json()})


def _wants_csv(format: str | None, accept: str) -> bool:
    if format is not None:
        return format == "csv"
    return "text/csv" in accept and "json" not in accept


def install(api: FastAPI) -> ApiCallMeter:
    """The API call meter and its middleware, and the quota refusal's answer."""
    app = api.state.orderops
    meter = ApiCallMeter(app.sessions, app.clock, interval=UsageSettings().api_flush_seconds)
    api.state.usage_meter = meter
    meter.close_with(app)  # the flushing thread ends with the app, after a last flush
    api.add_middleware(UsageMeter, meter=meter)
    api.add_exception_handler(QuotaExceeded, _refused)  # type: ignore[arg-type]
    return meter


async def _refused(request: Request, exc: QuotaExceeded) -> JSONResponse:
    app = app_of(request)
    now = app.clock.now()
    try:
        await run_in_threadpool(record_refusal, app.sessions, exc, now=now)
    except SQLAlchemyError:
        log.exception("usage: the quota refusal of %s could not be recorded", exc.tenant_id)
    status = exc.status
    response = problem(
        429,
        exc.code,
        "Quota exceeded",
        exc.message,
        meter=str(status.quota.meter),
        used=status.used,
        hard_limit=status.quota.hard,
        resets_at=status.month.resets_at.isoformat(),
    )
    response.headers["Retry-After"] = str(exc.retry_after_seconds(now))
    return response


def usage_registry(api: FastAPI) -> CollectorRegistry:
    """The app's usage gauges on a registry of their own, made at the first scrape."""
    with _registry_lock:
        registry: CollectorRegistry | None = getattr(api.state, "usage_registry", None)
        if registry is None:
            app = api.state.orderops
            limit = UsageSettings().metrics_max_tenants
            registry = CollectorRegistry()
            registry.register(
                UsageCollector(
                    lambda: month_to_date(app.sessions, now=app.clock.now(), max_tenants=limit)
                )
            )
            api.state.usage_registry = registry
        return registry
