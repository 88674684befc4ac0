"""Customer emails and names stay out of logs, even when a failure logs the payload."""

from __future__ import annotations

import json
import logging
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from builders.events import order_placed
from builders.worker import work
from orderops import redaction
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.workflow import pipeline

EMAIL = "jane.customer+vip@example.com"
NAME = "Jane Customer"


def test_a_failing_event_logs_no_customer_email_or_name(
    app: App,
    clock: FixedClock,
    service_key: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    event = order_placed("o-pii", at=clock.now() - timedelta(hours=1))
    event["data"]["customer"].update(email=EMAIL, name=NAME)

    def failing_project(repo: Any, canonical: Any, **kw: Any) -> Any:
        raise ValueError(f"cannot project {canonical.envelope.data!r}")

    monkeypatch.setattr(pipeline, "project", failing_project)
    with (
        caplog.at_level(logging.INFO),
        TestClient(create_app(app), headers={"Authorization": f"Bearer {service_key}"}) as client,
    ):
        answer = client.post("/v1/events", content=json.dumps(event))
        work(app)  # the worker processes it, and the failure is logged there

    assert answer.status_code == 202
    failures = [r for r in caplog.records if r.name == "orderops.workflow.pipeline"]
    assert failures, "the failure was logged"
    assert "o-pii" in caplog.text, "the order stays findable"
    assert redaction.EMAIL_MARK in caplog.text
    assert EMAIL not in caplog.text
    assert NAME not in caplog.text


def test_redaction_keeps_ids_and_removes_emails_and_name_fields() -> None:
    text = (
        "IntegrityError [parameters: ('o-1', 'ann@shop.example')] "
        "{'customer_ref': 'c-9', 'name': 'Ann Buyer', \"first_name\": \"Ann\"} display_name=Bob"
    )

    cleaned = redaction.redact(text)

    assert "ann@shop.example" not in cleaned
    assert "Ann Buyer" not in cleaned
    assert '"Ann"' not in cleaned
    assert "'o-1'" in cleaned
    assert "'c-9'" in cleaned
