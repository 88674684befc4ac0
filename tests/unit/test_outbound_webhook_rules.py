"""The pure rules of outbound webhooks: which answers are retried, which URLs are accepted."""

from __future__ import annotations

import base64

import pytest

from orderops.domain.outbound_webhooks import (
    TIMELINE_EVENTS,
    Answer,
    EventType,
    InvalidSubscription,
    check_event_types,
    check_url,
    classify,
    new_secret,
)


@pytest.mark.parametrize(
    ("status", "answer"),
    [
        (200, Answer.DELIVERED),
        (204, Answer.DELIVERED),
        (299, Answer.DELIVERED),
        (301, Answer.FAILED),  # redirects are not followed
        (400, Answer.FAILED),
        (401, Answer.FAILED),
        (404, Answer.FAILED),
        (408, Answer.RETRY),
        (410, Answer.GONE),
        (422, Answer.FAILED),
        (429, Answer.RETRY),
        (500, Answer.RETRY),
        (502, Answer.RETRY),
        (503, Answer.RETRY),
        (504, Answer.RETRY),
    ],
)
def test_a_receivers_status_decides_retry_per_the_spec(status: int, answer: Answer) -> None:
    assert classify(status) is answer


@pytest.mark.parametrize(
    ("url", "loopback", "accepted"),
    [
        ("https://ops.example.com/hooks", False, True),
        ("https://ops.example.com:8443/hooks?x=1", False, True),
        ("http://ops.example.com/hooks", False, False),
        ("http://ops.example.com/hooks", True, False),  # plain HTTP only for loopback
        ("http://127.0.0.1:8080/hooks", True, True),
        ("http://localhost/hooks", True, True),
        ("https://127.0.0.1/hooks", False, False),
        ("https://169.254.169.254/latest/meta-data", False, False),  # cloud metadata
        ("https://192.168.1.10/hooks", False, False),
        ("https://[::1]/hooks", False, False),
        ("https://8.8.8.8/hooks", False, True),
        ("https://user:pw@ops.example.com/hooks", False, False),
        ("https://ops.example.com/hooks#frag", False, False),
        ("ftp://ops.example.com/hooks", False, False),
        ("https:///hooks", False, False),
        ("https://ops.example.com:70000/", False, False),
    ],
)
def test_endpoint_urls(url: str, loopback: bool, accepted: bool) -> None:
    if accepted:
        assert check_url(url, allow_loopback=loopback) == url
    else:
        with pytest.raises(InvalidSubscription):
            check_url(url, allow_loopback=loopback)


def test_event_types_are_known_deduplicated_and_in_a_stable_order() -> None:
    assert check_event_types(["case.resolved", "case.opened", "case.resolved"]) == [
        EventType.CASE_OPENED,
        EventType.CASE_RESOLVED,
    ]
    with pytest.raises(InvalidSubscription, match="unknown event types"):
        check_event_types(["case.opened", "order.deleted"])
    with pytest.raises(InvalidSubscription, match="at least one"):
        check_event_types([])


def test_every_event_type_has_a_timeline_kind_that_raises_it() -> None:
    assert set(TIMELINE_EVENTS.values()) == set(EventType)


def test_a_secret_is_whsec_and_at_least_24_random_bytes() -> None:
    first, second = new_secret(), new_secret()
    assert first.startswith("whsec_")
    assert len(base64.b64decode(first.removeprefix("whsec_"))) >= 24
    assert first != second
