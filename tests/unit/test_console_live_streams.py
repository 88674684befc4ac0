"""The per-session count of open live streams: a cap, places given back, and a place that
lapses by itself when its stream never gave it back."""

from __future__ import annotations

from orderops.console.live import LAPSE_GRACE_SECONDS, OpenStreams


def test_a_session_holds_at_most_its_cap_and_a_place_given_back_is_free_again() -> None:
    streams = OpenStreams()
    first = streams.take("s1", cap=2, lifetime=60)
    second = streams.take("s1", cap=2, lifetime=60)
    refused = streams.take("s1", cap=2, lifetime=60)
    other_session = streams.take("s2", cap=2, lifetime=60)

    assert first is not None
    assert second is not None
    assert refused is None
    assert other_session is not None
    assert streams.held("s1") == 2
    streams.give_back("s1", first)
    assert streams.held("s1") == 1
    assert streams.take("s1", cap=2, lifetime=60) is not None


def test_a_place_never_given_back_lapses_after_the_lifetime_and_grace() -> None:
    streams = OpenStreams()
    assert streams.take("s1", cap=1, lifetime=-LAPSE_GRACE_SECONDS) is not None  # lapsed

    assert streams.held("s1") == 0
    assert streams.take("s1", cap=1, lifetime=60) is not None
    assert streams.take("s1", cap=1, lifetime=60) is None
