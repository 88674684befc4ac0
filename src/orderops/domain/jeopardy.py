"""SLA jeopardy: how close a case is to missing its response time. Pure.

A case is *at risk* once the last quarter of its response window has begun, so a lead
sees trouble coming while there is still time to act, and *breached* from its due time
on (or once any earlier clock of the case breached: a re-started clock after an
escalation does not make the miss go away).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import StrEnum


class Jeopardy(StrEnum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    BREACHED = "breached"


AT_RISK_SHARE = 0.25
"""The final share of the response window in which a case counts as at risk."""


def jeopardy(
    *,
    started_at: datetime | None,
    due_at: datetime | None,
    now: datetime,
    breached_before: bool = False,
    at_risk_share: float = AT_RISK_SHARE,
) -> Jeopardy:
    """The tier at ``now`` for a clock started at ``started_at`` and due at ``due_at``.

    No clock (a snoozed or closed case) is on track unless it breached before.
    """
    if breached_before:
        return Jeopardy.BREACHED
    if due_at is None:
        return Jeopardy.ON_TRACK
    if now >= due_at:
        return Jeopardy.BREACHED
    window = due_at - (started_at or due_at)
    if now >= at_risk_from(due_at=due_at, window=window, at_risk_share=at_risk_share):
        return Jeopardy.AT_RISK
    return Jeopardy.ON_TRACK


def at_risk_from(
    *, due_at: datetime, window: timedelta, at_risk_share: float = AT_RISK_SHARE
) -> datetime:
    """When the at-risk part of a window of ``window`` ending at ``due_at`` begins."""
    return due_at - window * at_risk_share
