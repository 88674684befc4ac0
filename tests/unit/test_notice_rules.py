"""The pure rules of proactive notices: the policy a tenant may store, when a customer was
already told, the quiet period, the language a notice is written in; and where the
customer's locale comes from (Shopify)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orderops.domain.cases import ExceptionType
from orderops.domain.notifications import (
    NOTICE_TOPICS,
    TOPIC_OF,
    InvalidNoticePolicy,
    NoticePolicy,
    Sent,
    Told,
    Topic,
    already_told,
    choose_language,
    parse_policy,
    quiet_until,
    topic_of_case,
    types_for,
    voice_clash,
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


def test_every_notice_topic_is_raised_by_some_case_type() -> None:
    assert set(TOPIC_OF.values()) == NOTICE_TOPICS
    assert types_for([Topic.ADDRESS]) == {ExceptionType.ADDRESS_PROBLEM}


def test_every_topic_is_the_default_of_some_case_type_and_unknown_types_are_the_order() -> None:
    assert {topic_of_case(t) for t in ExceptionType} == set(Topic)
    assert topic_of_case("shipment_delay_predicted") is Topic.DELAY
    assert topic_of_case("refund_pending") is Topic.REFUND
    assert topic_of_case("stuck_order") is Topic.ORDER
    assert topic_of_case("not_a_type") is Topic.ORDER


def test_notices_are_drafted_only_about_the_notice_topics() -> None:
    with pytest.raises(InvalidNoticePolicy, match=r"^topics: notices are drafted only .*payment"):
        parse_policy({"topics": ["delay", "payment"]})


def sent(hours_ago: float, topic: str | None, ident: str = "m1") -> Sent:
    return Sent(ident, "c1", "O-1", topic, NOW - timedelta(hours=hours_ago))


def test_one_voice_names_the_same_topic_inside_the_window_first() -> None:
    policy = NoticePolicy(quiet_hours=24, repeat_hours=72)
    earlier = [sent(50, "delay", "old-delay"), sent(2, "refund", "new-refund")]

    clash = voice_clash(earlier, topic="delay", now=NOW, policy=policy)

    assert clash is not None
    assert (clash.rule, clash.earlier.communication_id) == ("repeat", "old-delay")
    assert clash.until == NOW + timedelta(hours=22)
    assert "message old-delay" in clash.describe("delay")
    assert "override reason" in clash.describe("delay")


def test_one_voice_holds_any_topic_inside_the_quiet_period_and_nothing_after() -> None:
    policy = NoticePolicy(quiet_hours=24, repeat_hours=72)

    quiet = voice_clash([sent(3, "refund")], topic="delay", now=NOW, policy=policy)
    after = voice_clash(
        [sent(25, "refund"), sent(73, "delay")], topic="delay", now=NOW, policy=policy
    )
    no_quiet = voice_clash(
        [sent(1, "refund")], topic="delay", now=NOW, policy=NoticePolicy(quiet_hours=0)
    )

    assert quiet is not None
    assert quiet.rule == "quiet"
    assert quiet.until == NOW + timedelta(hours=21)
    assert after is None
    assert no_quiet is None


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
