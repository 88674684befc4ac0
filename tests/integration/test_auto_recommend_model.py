"""The worker's own recommendations use the language model when it is configured: the first
cases of a pass get model drafts (claim-checked, metered); a backlog beyond the pass's model
budget gets the templates' drafts at once instead of waiting on a slow model; and without
the setting, no model is ever called."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from sqlalchemy import select

from builders.access import late_case
from builders.llm_stub import llm_stub
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.recommend import auto
from orderops.recommend.auto import recommend_new_cases
from orderops.recommend.llm import LlmSettings
from orderops.sandbox.runner import run_sandbox
from orderops.storage.tables import Case
from orderops.storage.tables.recommend import LlmUsage, Recommendation, RecommendationDraft
from orderops.storage.uow import UnitOfWork


@pytest.fixture
def stub() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    app, seen = llm_stub()
    with run_sandbox(app) as url:
        yield url, seen


def drafts_by_case(app: App) -> dict[str, set[str]]:
    """Per case, the sources of its customer drafts."""
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.execute(
            select(Recommendation.case_id, RecommendationDraft.source).join(
                RecommendationDraft,
                RecommendationDraft.recommendation_id == Recommendation.id,
            )
        ).all()
    out: dict[str, set[str]] = {}
    for case_id, source in rows:
        out.setdefault(case_id, set()).add(source)
    return out


def open_cases(app: App) -> set[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return set(uow.session.scalars(select(Case.id).where(Case.closed_at.is_(None))))


def model_calls(app: App) -> int:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return len(list(uow.session.scalars(select(LlmUsage))))


def test_a_pass_drafts_with_the_model_within_its_budget_and_templates_beyond(
    app: App,
    clock: FixedClock,
    stub: tuple[str, list[dict[str, Any]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url, seen = stub
    monkeypatch.setattr(auto, "MODEL_CASES_PER_PASS", 2)
    for _ in range(2):
        late_case(app, clock, total_minor=8000)
    cases = open_cases(app)
    assert len(cases) > 2
    settings = LlmSettings(
        enabled=True, base_url=f"{url}/v1", model="good", api_key=SecretStr("k-1")
    )

    assert recommend_new_cases(
        app.sessions, tenant_id="acme", clock=clock, llm_settings=settings
    ) == len(cases)

    sources = drafts_by_case(app)
    with_model = [c for c in cases if "model" in sources[c]]
    assert len(with_model) == 2
    assert all("template" in sources[c] for c in cases)  # the checked fallback is always there
    assert len(seen) == 2
    assert model_calls(app) == 2


def test_without_the_setting_the_worker_never_calls_a_model(
    app: App, clock: FixedClock, stub: tuple[str, list[dict[str, Any]]]
) -> None:
    url, seen = stub
    late_case(app, clock)
    first = open_cases(app)
    assert recommend_new_cases(app.sessions, tenant_id="acme", clock=clock) == len(first)
    off = LlmSettings(enabled=False, base_url=f"{url}/v1", model="good")
    late_case(app, clock)
    then = open_cases(app) - first
    done = recommend_new_cases(app.sessions, tenant_id="acme", clock=clock, llm_settings=off)

    assert done == len(then)
    assert seen == []
    assert {c: drafts_by_case(app)[c] for c in first | then} == {
        c: {"template"} for c in first | then
    }
