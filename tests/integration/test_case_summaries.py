"""Case summaries through an OpenAI-compatible model: checked, metered, failures visible.

The model is ``sandbox/llm.py`` served on a real socket, answering from the prompt's facts,
from recorded answers, or with queued faults (429, 500, a stall past the client timeout).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from builders.access import Person, client, late_case, person
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.usage import Meter, Quota
from orderops.metering.usage_report import set_quota
from orderops.recommend.llm import LlmSettings
from orderops.sandbox.llm import LlmSandbox, Recorded, load_recorded
from orderops.sandbox.runner import run_sandbox

RECORDED = Path(__file__).parents[1] / "fixtures" / "llm" / "recorded_summaries.jsonl"


@pytest.fixture
def model() -> Iterator[tuple[str, LlmSandbox]]:
    sandbox = LlmSandbox()
    with run_sandbox(sandbox.app()) as url:
        yield url, sandbox


@pytest.fixture
def agent(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.AGENT, name="agent-sam")


def _api(app: App, url: str | None, *, model: str = "sum-1", timeout: float = 5.0) -> TestClient:
    api = client(app)
    api.app.state.llm_settings = (  # type: ignore[attr-defined]
        LlmSettings(enabled=True, base_url=f"{url}/v1", model=model, timeout_seconds=timeout)
        if url
        else LlmSettings(enabled=False)
    )
    return api


def _recorded(label: str) -> Recorded:
    return next(r for r in load_recorded(RECORDED) if r.label == label)


def test_without_a_model_the_case_gets_the_template_summary_which_passes_the_checker(
    app: App, clock: FixedClock, agent: Person
) -> None:
    case_id = late_case(app, clock, total_minor=8000)
    answer = _api(app, None).post(f"/v1/cases/{case_id}/summary", headers=agent.headers)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["source"] == "template"
    assert body["check"]["passed"] is True
    assert "$80.00" in body["summary"]
    assert body["fallback_reason"] == "no language model is configured"
    assert body["model_error"] is None
    assert body["usage"] is None


def test_a_faithful_model_summary_is_shown_and_its_tokens_are_metered_to_the_tenant(
    app: App, clock: FixedClock, agent: Person, model: tuple[str, LlmSandbox]
) -> None:
    url, sandbox = model
    case_id = late_case(app, clock, total_minor=8000)
    api = _api(app, url)
    body = api.post(f"/v1/cases/{case_id}/summary", headers=agent.headers).json()
    assert body["source"] == "model", body
    assert body["summary"].startswith("Shipment late on order")
    assert body["fallback_reason"] is None
    request = sandbox.seen[-1]["body"]
    assert request["response_format"]["json_schema"]["name"] == "summary"
    assert "@" not in request["messages"][-1]["content"]  # no email reaches the model
    usage = api.get("/v1/llm/usage", headers=agent.headers).json()["items"]
    assert usage == [
        {
            "model": "sum-1",
            "calls": 1,
            "prompt_tokens": 100,
            "completion_tokens": 30,
            "total_tokens": 130,
        }
    ]


@pytest.mark.parametrize(
    "label", ["invents-refund", "invents-cancellation", "invents-discount", "follows-ticket"]
)
def test_a_summary_the_claim_checker_blocks_is_never_shown(
    app: App, clock: FixedClock, agent: Person, model: tuple[str, LlmSandbox], label: str
) -> None:
    url, sandbox = model
    sandbox.recorded = [_recorded(label)]
    case_id = late_case(app, clock, total_minor=8000)
    api = _api(app, url)
    body = api.post(f"/v1/cases/{case_id}/summary", headers=agent.headers).json()
    assert body["source"] == "template"
    assert body["summary"] != sandbox.recorded[0].content["summary"]
    assert body["check"]["passed"] is True
    assert body["model_check"]["passed"] is False
    assert body["fallback_reason"].startswith("the model's summary was blocked")
    # The blocked answer still cost tokens: they are metered.
    assert api.get("/v1/llm/usage", headers=agent.headers).json()["items"][0]["calls"] == 1


@pytest.mark.parametrize(
    ("fault", "kind"), [("429", "rate_limited"), ("500", "server_error"), ("stall", "timeout")]
)
def test_a_failing_model_leaves_the_template_summary_and_says_what_failed_and_when(
    app: App,
    clock: FixedClock,
    agent: Person,
    model: tuple[str, LlmSandbox],
    fault: str,
    kind: str,
) -> None:
    url, sandbox = model
    if fault == "stall":
        sandbox.stall_next(0.5)
    else:
        sandbox.fail_next(int(fault))
    case_id = late_case(app, clock)
    api = _api(app, url, timeout=0.1)
    body = api.post(f"/v1/cases/{case_id}/summary", headers=agent.headers).json()
    assert body["source"] == "template"
    assert body["model_error"]["kind"] == kind
    assert datetime.fromisoformat(body["model_error"]["at"]) == clock.now()
    assert body["fallback_reason"].startswith(f"{kind}:")
    assert api.get("/v1/llm/usage", headers=agent.headers).json()["items"] == []


def test_a_recommendation_shows_the_models_error_kind_and_time(
    app: App, clock: FixedClock, agent: Person, model: tuple[str, LlmSandbox]
) -> None:
    url, sandbox = model
    sandbox.fail_next(429)
    case_id = late_case(app, clock)
    api = _api(app, url)
    created = api.post(f"/v1/cases/{case_id}/recommendations", headers=agent.headers).json()
    assert created["model_error"]["kind"] == "rate_limited"
    assert datetime.fromisoformat(created["model_error"]["at"]) == clock.now()
    listed = api.get(f"/v1/cases/{case_id}/recommendations", headers=agent.headers).json()
    assert listed["items"][0]["model_error"]["kind"] == "rate_limited"
    # The next call answers: that recommendation has no error, the older one keeps its own.
    again = api.post(f"/v1/cases/{case_id}/recommendations", headers=agent.headers).json()
    assert again["model_error"] is None
    assert {d["source"] for d in again["drafts"]} == {"template", "model"}


def test_a_summary_of_another_tenants_case_is_not_found(
    app: App, clock: FixedClock, agent: Person
) -> None:
    case_id = late_case(app, clock, tenant="globex")
    answer = _api(app, None).post(f"/v1/cases/{case_id}/summary", headers=agent.headers)
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("application/problem+json")


def test_the_recorded_fixture_is_well_formed() -> None:
    rows = [json.loads(line) for line in RECORDED.read_text().splitlines() if line.strip()]
    answers = load_recorded(RECORDED)
    assert len(answers) == len(rows) >= 8
    assert {a.label for a in answers} >= {"faithful", "invents-refund", "follows-ticket"}


def test_a_bad_recorded_line_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"content": {"summary": "ok"}}\n{"usage": {}}\n')
    with pytest.raises(ValueError, match=r"bad.jsonl:2"):
        load_recorded(bad)


def test_a_flat_price_per_1k_tokens_meters_the_summarys_cost(
    app: App,
    clock: FixedClock,
    agent: Person,
    model: tuple[str, LlmSandbox],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, _ = model
    monkeypatch.setenv("ORDEROPS_USAGE_MODEL_PRICE_PER_1K_TOKENS", "0.002")
    admin = person(app, clock, tenant="acme", role=Role.ADMIN, name="admin-ada")
    case_id = late_case(app, clock)
    api = _api(app, url)
    assert api.post(f"/v1/cases/{case_id}/summary", headers=agent.headers).status_code == 200
    rows = api.get("/v1/usage", headers=admin.headers).json()["rows"]
    metered = {(r["meter"], r["dimension"]): r["quantity"] for r in rows}
    assert metered[("model_tokens", "sum-1:prompt")] == 100
    assert metered[("model_tokens", "sum-1:completion")] == 30
    assert metered[("model_cost", "sum-1")] == 260  # 130 tokens x $0.002/1k, in micro-dollars


def test_a_tenant_at_its_hard_model_quota_gets_the_template_summary_without_a_call(
    app: App, clock: FixedClock, agent: Person, model: tuple[str, LlmSandbox]
) -> None:
    url, sandbox = model
    set_quota(
        app.sessions,
        tenant_id="acme",
        quota=Quota(Meter.MODEL_TOKENS, hard=100),
        actor="test",
        clock=clock,
    )
    case_id = late_case(app, clock)
    api = _api(app, url)
    first = api.post(f"/v1/cases/{case_id}/summary", headers=agent.headers).json()
    second = api.post(f"/v1/cases/{case_id}/summary", headers=agent.headers).json()
    assert first["source"] == "model"  # 130 tokens: past the hard limit of 100 after it
    assert second["source"] == "template"
    assert second["model_error"]["kind"] == "quota"
    assert len(sandbox.seen) == 1
