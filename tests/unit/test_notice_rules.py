"""The pure rules of proactive notices: the policy a tenant may store, when a customer was
already told, the quiet period, the language a notice is written in; and where the
customer's locale comes from (Shopify)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.domain.cases import ExceptionType
from orderops.domain.notifications import (
    TOPIC_OF,
    InvalidNoticePolicy,
    NoticePolicy,
    Told,
    Topic,
    already_told,
    choose_language,
    parse_policy,
    quiet_until,
    types_for,
)
from orderops.ingest.adapters.shopify_fields import customer_data
from orderops.recommend.formatting import LANGUAGES

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def told(hours_ago: float) -> Told:
    return Told("n1", "c1", "O-1", NOW - timedelta(hours=hours_ago), "m1")


def test_the_default_policy_drafts_nothing_and_sends_nothing() -> None:
    policy = NoticePolicy()

    assert policy.topics == ()
    assert policy.auto_approve == ()
    assert not any(policy.drafts(t) or policy.sends(t) for t in Topic)


def test_a_rule_may_only_send_what_is_drafted() -> None:
    with pytest.raises(InvalidNoticePolicy, match=r"auto_approve names .*: address"):
        parse_policy({"topics": ["delay"], "auto_approve": ["address"]})


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"topics": ["weather"]}, "topics.0"),
        ({"quiet_hours": -1}, "quiet_hours"),
        ({"repeat_hours": 0}, "repeat_hours"),
        ({"surprise": 1}, "surprise"),
    ],
)
def test_a_malformed_policy_names_the_field(body: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidNoticePolicy, match=rf"^{field}: "):
        parse_policy(body)


def test_topics_are_kept_once_and_in_order() -> None:
    policy = parse_policy({"topics": ["stock_out", "delay", "delay"], "auto_approve": ["delay"]})

    assert policy.topics == (Topic.DELAY, Topic.STOCK_OUT)


def test_every_topic_is_raised_by_some_case_type() -> None:
    assert set(TOPIC_OF.values()) == set(Topic)
    assert types_for([Topic.ADDRESS]) == {ExceptionType.ADDRESS_PROBLEM}


def test_a_topic_told_inside_the_window_is_not_told_again() -> None:
    policy = NoticePolicy(topics=(Topic.DELAY,), repeat_hours=72)

    assert already_told([told(80), told(71)], now=NOW, policy=policy) == told(71)
    assert already_told([told(73)], now=NOW, policy=policy) is None
    assert already_told([], now=NOW, policy=policy) is None


def test_the_quiet_period_starts_at_the_last_message_sent() -> None:
    policy = NoticePolicy(quiet_hours=24)

    assert quiet_until(NOW, policy) == NOW + timedelta(hours=24)
    assert quiet_until(None, policy) is None
    assert quiet_until(NOW, NoticePolicy(quiet_hours=0)) is None


@pytest.mark.parametrize(
    ("locale", "fallback", "language", "noted"),
    [
        ("es-MX", "en", "es", False),
        ("pt_BR", "en", "pt", False),
        ("DE", "en", "de", False),
        ("fr-FR", "es", "es", True),
        ("fr-FR", "it", "en", True),
        ("", "pt", "pt", True),
        (None, "de", "de", True),
        ("not a locale!", "en", "en", True),
    ],
)
def test_the_language_is_the_customers_or_the_draft_says_why_not(
    locale: str | None, fallback: str, language: str, noted: bool
) -> None:
    choice = choose_language(locale, fallback, LANGUAGES)

    assert choice.language == language
    assert (choice.note is not None) is noted


def test_shopify_gives_the_customers_locale_from_the_order_and_drops_a_bogus_one() -> None:
    customer = {"id": 7, "email": "ana@example.com"}

    from_order = customer_data(customer, fallback={"customer_locale": "es-MX"})
    own = customer_data({**customer, "locale": "pt-BR"}, fallback={"customer_locale": "es"})
    bogus = customer_data(customer, fallback={"customer_locale": "x" * 36})

    assert from_order["locale"] == "es-MX"
    assert own["locale"] == "pt-BR"
    assert "locale" not in bogus
