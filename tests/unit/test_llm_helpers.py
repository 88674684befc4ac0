"""The language model's small pure parts: error kinds, the flat price, the template summary."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.domain.cases import ExceptionType
from orderops.metering.usage_settings import ModelPrice, UsageSettings
from orderops.recommend.drafting import known_facts
from orderops.recommend.factcheck import check_text
from orderops.recommend.facts import CaseFacts
from orderops.recommend.llm import ModelUnavailable, error_kind
from orderops.recommend.summaries import summarize, template_summary

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("timeout: the model did not answer in time", "timeout"),
        ("rate_limited: the model answered HTTP 429", "rate_limited"),
        ("bad_answer: the model's answer is not draft", "bad_answer"),
        ("model quota reached, drafted from templates only: model_tokens 120/100", "quota"),
        ("the model did not answer: connection refused", "error"),  # stored before kinds
    ],
)
def test_a_stored_model_error_says_its_kind(message: str, kind: str) -> None:
    assert error_kind(message) == kind


def test_a_model_failure_carries_its_kind_in_its_message() -> None:
    failure = ModelUnavailable("server_error", "the model answered HTTP 503")
    assert failure.kind == "server_error"
    assert error_kind(failure.message) == "server_error"


@pytest.mark.parametrize(
    ("prices", "per_1k", "expected"),
    [
        ({}, None, None),
        ({}, 0.002, ModelPrice(prompt=2.0, completion=2.0)),
        (
            {"m": {"prompt": 0.15, "completion": 0.6}},
            0.002,
            ModelPrice(prompt=0.15, completion=0.6),
        ),
    ],
)
def test_a_models_own_price_wins_over_the_flat_price_per_1k_tokens(
    prices: dict[str, dict[str, float]], per_1k: float | None, expected: ModelPrice | None
) -> None:
    settings = UsageSettings.model_validate(
        {"model_prices": prices, "model_price_per_1k_tokens": per_1k}
    )
    assert settings.price_of("m") == expected


def _facts() -> CaseFacts:
    return CaseFacts(
        exception_type=ExceptionType.SHIPMENT_LATE,
        order_ref="o-1",
        order_number="1001",
        currency="USD",
        total_minor=4599,
        placed_at=NOW - timedelta(days=9),
        now=NOW,
        promised_by=NOW - timedelta(days=2),
        customer_tier="vip",
    )


def test_the_template_summary_cites_only_the_facts_and_passes_the_checker() -> None:
    facts = _facts()
    text = template_summary(facts)
    assert text == (
        "Shipment late on order #1001 ($45.99, placed March 1, 2026). "
        "Promised by March 8, 2026. Customer tier: vip."
    )
    assert check_text(text, known_facts(facts, None)).passed


def test_without_a_model_or_under_a_quota_the_template_summary_stands_with_the_reason() -> None:
    none = summarize(_facts(), llm=None, now=NOW)
    quota = summarize(_facts(), llm=None, now=NOW, refusal="model quota reached: tokens")
    assert (none.source, none.fallback_reason, none.model_error) == (
        "template",
        "no language model is configured",
        None,
    )
    assert quota.model_error is not None
    assert (quota.model_error.kind, quota.model_error.at) == ("quota", NOW)
