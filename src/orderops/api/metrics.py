"""GET /metrics: Prometheus exposition of this process's counters and the processing lag.

Registries on one page: the app's webhook counters, the process-wide processing and
quota counters, and two collectors that read the database at each scrape, the app's lag
(``workflow/lag_metrics.py``) and usage (``metering/usage_metrics.py``); the page is
rendered in a worker thread so those reads never hold the event loop that answers
webhooks.

The lag gauges carry tenant ids as labels, so the page says which tenants this desk
serves. It is open by default, as scrapers expect; set ``ORDEROPS_METRICS_TOKEN`` and it
answers only ``Authorization: Bearer <that token>`` (a token of its own: scrapers hold no
tenant's API key, and no tenant key opens it).

Since #15: the event metrics of ``telemetry/metrics.py`` (ingest, processing latency,
detectors, deliveries, breakers, the model, HTTP requests), the process collectors, and
the desk gauges read at each scrape (``workflow/desk_state.py``: cases, SLA breaches,
approvals waiting, outbox); with ``PROMETHEUS_MULTIPROC_DIR`` set the counters are the
host's, summed over its processes (``telemetry/exposition.py``).
"""

from __future__ import annotations

import hmac
import threading

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry
from starlette.types import Scope

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.problems import problem_responses
from orderops.api.usage import usage_registry
from orderops.api.usage_meter import CALLER_STATE_KEY
from orderops.api.webhooks import metrics_of
from orderops.domain.errors import Unauthorized
from orderops.metering.usage_metrics import USAGE_METRICS
from orderops.telemetry.desk_metrics import DeskCollector
from orderops.telemetry.exposition import render
from orderops.telemetry.metrics import METRICS
from orderops.workflow.desk_state import desk_state
from orderops.workflow.lag import inbox_lag
from orderops.workflow.lag_metrics import LagCollector
from orderops.workflow.processing_metrics import PROCESSING_METRICS

router = APIRouter(tags=["health"], route_class=SafeJsonRoute)

_scraper = HTTPBearer(
    scheme_name="MetricsToken",
    auto_error=False,
    description="`ORDEROPS_METRICS_TOKEN`; required only when that setting is set.",
)
_lag_lock = threading.Lock()


def lag_registry(api: FastAPI) -> CollectorRegistry:
    """The app's database collectors (lag, desk) on a registry of their own, made at the
    first scrape (the app factory need not know about it; tests get one per app)."""
    with _lag_lock:
        registry: CollectorRegistry | None = getattr(api.state, "lag_registry", None)
        if registry is None:
            app = api.state.orderops
            registry = CollectorRegistry()
            registry.register(LagCollector(lambda: inbox_lag(app.sessions, now=app.clock.now())))
            limit = app.settings.metrics_max_tenants
            registry.register(
                DeskCollector(
                    lambda: desk_state(app.sessions, now=app.clock.now(), max_tenants=limit)
                )
            )
            api.state.lag_registry = registry
        return registry


def require_scraper(
    request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_scraper)
) -> None:
    token = app_of(request).settings.metrics_token
    if token is None:
        return
    offered = credentials.credentials if credentials is not None else ""
    if not hmac.compare_digest(offered.encode(), token.get_secret_value().encode()):
        raise Unauthorized("/metrics needs the metrics bearer token")


@router.get(
    "/metrics",
    summary="Prometheus metrics",
    response_class=Response,
    dependencies=[Depends(require_scraper)],
    responses=problem_responses(401),
)
async def prometheus_metrics(request: Request) -> Response:
    counted = (
        metrics_of(request).registry,
        PROCESSING_METRICS.registry,
        USAGE_METRICS.registry,
        METRICS.registry,
    )
    read_at_scrape = (lag_registry(request.app), usage_registry(request.app))
    body = await run_in_threadpool(lambda: render(counted, read_at_scrape))
    return Response(body, media_type=CONTENT_TYPE_LATEST)


def caller_tenant(scope: Scope) -> str | None:
    """The tenant whose API key made the request, once authenticated (for its log line)."""
    tenant = scope.get("state", {}).get(CALLER_STATE_KEY)
    return tenant if isinstance(tenant, str) else None
