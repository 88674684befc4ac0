"""A delivery the webhook gate refuses before the app is still a request an operator can
find: it answers with an X-Request-ID (the sender's, when a plain token), carries the id
in its problem, and writes one JSON log line naming the route, the tenant and the id."""

from __future__ import annotations

import json
import uuid
from dataclasses import replace

from fastapi.testclient import TestClient
from starlette.types import ASGIApp, Receive, Scope, Send

from builders.telemetry import LogLines
from builders.webhooks import shopify, shopify_order
from orderops.api.app import create_app
from orderops.api.rate_limits import limiter_for
from orderops.api.webhook_gate import WebhookGate
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source

SECRET = "gate-telemetry-signing-secret-0123456789"


def _entered(app: ASGIApp, paths: list[str]) -> ASGIApp:
    async def noting(scope: Scope, receive: Receive, send: Send) -> None:
        paths.append(scope["path"])
        await app(scope, receive, send)

    return noting


def test_a_refusal_at_the_gate_has_a_request_id_and_one_log_line(
    app: App, clock: FixedClock, json_logs: LogLines
) -> None:
    limited = replace(
        app, settings=app.settings.model_copy(update={"rate_limit_ingest_per_tenant": "1/second"})
    )
    token = connect_source(
        limited.sessions,
        tenant_id="acme",
        source=WebhookSource.SHOPIFY,
        box=SecretBox(limited.settings.secret_key),
        clock=clock,
        actor="test",
        secret=SECRET,
    ).connection.endpoint_token
    api = create_app(limited)
    api.state.rate_limiter = limiter_for(limited, clock=clock)  # the window never turns
    entered: list[str] = []

    def deliver(request_id: str) -> tuple[int, dict[str, str], bytes]:
        delivery = shopify("orders/create", shopify_order(id=uuid.uuid4().int % 10**12))
        answer = http.post(
            f"/v1/webhooks/shopify/{token}",
            content=delivery.body,
            headers={**delivery.signed(SECRET, clock.now()), "X-Request-ID": request_id},
        )
        return answer.status_code, dict(answer.headers), answer.content

    with TestClient(api) as http:
        assert deliver("first-delivery")[0] == 202  # the URL is known to the gate now
        gate = api.middleware_stack
        assert isinstance(gate, WebhookGate)
        gate.app = _entered(gate.app, entered)
        status, headers, body = deliver("retailer-retry-42")

    assert status == 429
    assert entered == []  # refused at the gate: nothing inside the app saw it
    assert headers["x-request-id"] == "retailer-retry-42"
    assert json.loads(body)["request_id"] == "retailer-retry-42"
    lines = [line for line in json_logs.requests() if line.get("request_id") == "retailer-retry-42"]
    assert len(lines) == 1, json_logs.requests()
    (line,) = lines
    assert (line["status"], line["method"], line["tenant"]) == (429, "POST", "acme")
    assert line["route"] == "/v1/webhooks/{source}/{endpoint_token}"
    assert token not in json.dumps(json_logs.requests())  # the URL's token is never logged
