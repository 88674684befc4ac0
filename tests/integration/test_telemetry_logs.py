"""Every HTTP request leaves one JSON log line, with the ids to find everything else.

The request id is the caller's ``X-Request-ID`` when it is a plain token, a fresh one
otherwise, and comes back on every answer, errors included, and inside problem+json
bodies. The line names the route's template (never the raw path), the status, the
duration, the tenant of the API key, the case of a case route, and the trace when
tracing is on. Nothing secret is on any line: not the API key that authenticated the
request, not a password, not a customer's email.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from builders.events import order_placed
from builders.telemetry import LogLines, Spans
from builders.worker import work
from builders.writeback import make_case
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.telemetry.requests import HEADER

EMAIL = "jane.customer+vip@example.com"


@pytest.fixture
def api(app: App) -> FastAPI:
    return create_app(app)


@pytest.fixture
def client(api: FastAPI) -> Iterator[TestClient]:
    with TestClient(api, raise_server_exceptions=False) as test_client:
        yield test_client


def test_an_accepted_event_logs_one_line_with_its_ids(
    app: App, clock: FixedClock, client: TestClient, service_key: str, json_logs: LogLines
) -> None:
    event = order_placed("o-logged", at=clock.now() - timedelta(hours=1))

    answer = client.post(
        "/v1/events",
        content=json.dumps(event),
        headers={"Authorization": f"Bearer {service_key}", HEADER: "retailer-42.abc"},
    )

    assert answer.status_code == 202
    assert answer.headers[HEADER] == "retailer-42.abc"
    (line,) = json_logs.requests()
    assert line["request_id"] == "retailer-42.abc"
    assert (line["method"], line["route"], line["status"]) == ("POST", "/v1/events", 202)
    assert line["tenant"] == "acme"
    assert line["duration_ms"] >= 0
    assert line["level"] == "info"
    assert "timestamp" in line


def test_a_case_route_logs_its_template_and_the_case_id(
    app: App, clock: FixedClock, client: TestClient, service_key: str, json_logs: LogLines
) -> None:
    case_id = make_case(app, clock, order_ref="o-case-log")

    answer = client.get(f"/v1/cases/{case_id}", headers={"Authorization": f"Bearer {service_key}"})

    assert answer.status_code == 200, answer.text
    (line,) = json_logs.requests()
    assert line["route"] == "/v1/cases/{case_id}"
    assert line["case_id"] == case_id
    assert case_id not in line["route"]


@pytest.mark.parametrize(
    "offered",
    ["x" * 129, "has spaces", "line\\nbreak", "", "-leading-dash", 'quote"d'],
    ids=["too-long", "spaces", "escape", "empty", "leading-dash", "quote"],
)
def test_an_unusable_request_id_is_replaced_by_a_fresh_one(
    client: TestClient, offered: str, json_logs: LogLines
) -> None:
    answer = client.get("/healthz", headers={HEADER: offered})

    assert answer.status_code == 200
    fresh = answer.headers[HEADER]
    assert fresh != offered
    assert re.fullmatch(r"[0-9a-f]{32}", fresh)
    (line,) = json_logs.requests()
    assert line["request_id"] == fresh


def test_errors_carry_the_request_id_in_the_header_and_the_problem_body(
    client: TestClient, json_logs: LogLines
) -> None:
    unauthorised = client.get("/v1/cases", headers={HEADER: "req-401"})
    unknown = client.get("/no/such/path/o-123", headers={HEADER: "req-404"})

    assert unauthorised.status_code == 401
    assert unauthorised.headers[HEADER] == "req-401"
    assert unauthorised.headers["content-type"].startswith("application/problem+json")
    assert unauthorised.json()["request_id"] == "req-401"
    assert unknown.status_code == 404
    assert unknown.json()["request_id"] == "req-404"
    routes = {line["request_id"]: line["route"] for line in json_logs.requests()}
    assert routes == {"req-401": "/v1/cases", "req-404": "unmatched"}


def test_an_unhandled_error_is_a_problem_500_with_the_request_id(
    api: FastAPI, client: TestClient, json_logs: LogLines
) -> None:
    @api.get("/boom-for-test")
    def boom() -> None:
        raise RuntimeError("unexpected")

    answer = client.get("/boom-for-test", headers={HEADER: "req-500"})

    assert answer.status_code == 500
    assert answer.headers[HEADER] == "req-500"
    assert answer.json()["request_id"] == "req-500"
    assert answer.json()["status"] == 500
    (line,) = json_logs.requests()
    assert (line["status"], line["level"], line["route"]) == (500, "error", "/boom-for-test")


def test_inside_a_trace_the_line_names_the_trace(
    client: TestClient, json_logs: LogLines, spans: Spans
) -> None:
    client.get("/healthz")

    (line,) = json_logs.requests()
    (server,) = [s for s in spans.finished() if s.name == "GET /healthz"]
    assert line["trace_id"] == format(server.context.trace_id, "032x")


def test_no_secret_and_no_customer_email_reaches_the_json_logs(
    app: App, clock: FixedClock, client: TestClient, service_key: str, json_logs: LogLines
) -> None:
    event = order_placed("o-secret", at=clock.now() - timedelta(hours=1))
    event["data"]["customer"].update(email=EMAIL)
    client.post(
        "/v1/events",
        content=json.dumps(event),
        headers={"Authorization": f"Bearer {service_key}"},
    )
    client.post(
        "/console/login",
        data={"email": EMAIL, "password": "hunter2-Secret!", "tenant": "acme"},
        headers={HEADER: "req-login"},
    )
    work(app)
    logging.getLogger("orderops.test").warning(
        "calling with %s", f"Authorization: Bearer {service_key}", extra={"api_key": service_key}
    )

    text = json_logs.text()
    assert json_logs.requests(), "the requests were logged"
    _, _, short_id, token = service_key.split("_", 3)
    assert token not in text
    assert "hunter2-Secret!" not in text
    assert EMAIL not in text
    assert short_id in text, "the key's public prefix stays, to find which key it was"
