"""GET /metrics: Prometheus exposition of this process's counters (the app's webhook
counters and the process-wide processing counters, two registries, one page).

Unauthenticated like /healthz, as scrapers expect; it carries counts, never tenant data.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orderops.api.body import SafeJsonRoute
from orderops.api.webhooks import metrics_of
from orderops.workflow.processing_metrics import PROCESSING_METRICS

router = APIRouter(tags=["health"], route_class=SafeJsonRoute)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics(request: Request) -> Response:
    body = generate_latest(metrics_of(request).registry) + generate_latest(
        PROCESSING_METRICS.registry
    )
    return Response(body, media_type=CONTENT_TYPE_LATEST)
