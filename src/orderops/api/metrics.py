"""GET /metrics: Prometheus exposition of this process's counters.

Unauthenticated like /healthz, as scrapers expect; it carries counts, never tenant data.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from orderops.api.webhooks import metrics_of

router = APIRouter(tags=["health"])


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
async def prometheus_metrics(request: Request) -> Response:
    body = generate_latest(metrics_of(request).registry)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
