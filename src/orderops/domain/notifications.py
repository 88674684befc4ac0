"""Proactive customer notices, judged purely: what a case tells the customer about, whether
a tenant's rule sends it without a person, whether the customer already heard about it,
whether the quiet period holds it back, and which language it is written in.

A notice has a *topic* (a predicted delay, a stock-out, an address problem); the case
types that raise each topic are fixed here. A tenant's ``NoticePolicy`` names the topics
the desk drafts notices for (none by default: proactive messages are opt-in) and, among
them, the ones an explicit rule sends without a person's approval (none by default).

One voice per customer: a customer who was told about a topic (on any order, any case)
within ``repeat_hours`` is not told again; and two proactive messages to one customer
are at least ``quiet_hours`` apart. Both are about the customer, not the order, because
the customer is who reads them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from orderops.domain.cases import ExceptionType
from orderops.domain.errors import OrderOpsError


class InvalidNoticePolicy(OrderOpsError):
    code = "invalid-notice-policy"


class Topic(StrEnum):
    """What a message tells the customer about. The first three are the proactive
    notices' topics; the others are what a person or a choice link may write about."""

    DELAY = "delay"
    STOCK_OUT = "stock_out"
    ADDRESS = "address"
    PAYMENT = "payment"
    REFUND = "refund"
    ORDER = "order"
    """Anything else about the order."""


NOTICE_TOPICS = frozenset({Topic.DELAY, Topic.STOCK_OUT, Topic.ADDRESS})


TOPIC_OF: dict[ExceptionType, Topic] = {
    ExceptionType.SHIPMENT_DELAY_PREDICTED: Topic.DELAY,
    ExceptionType.SHIPMENT_LATE: Topic.DELAY,
    ExceptionType.PRE_DISPATCH_DELAY: Topic.DELAY,
    ExceptionType.CARRIER_EXCEPTION: Topic.DELAY,
    ExceptionType.INVENTORY_SHORTFALL: Topic.STOCK_OUT,
    ExceptionType.SUBSTITUTION_NEEDED: Topic.STOCK_OUT,
    ExceptionType.ADDRESS_PROBLEM: Topic.ADDRESS,
}


_OTHER_TOPICS: dict[ExceptionType, Topic] = {
    ExceptionType.PAYMENT_FAILED: Topic.PAYMENT,
    ExceptionType.PAYMENT_HOLD: Topic.PAYMENT,
    ExceptionType.AUTHORIZATION_EXPIRING: Topic.PAYMENT,
    ExceptionType.DUPLICATE_CHARGE: Topic.PAYMENT,
    ExceptionType.REFUND_PENDING: Topic.REFUND,
}


def topic_of_case(exception_type: str) -> Topic:
    """The topic a message on a case of this type is about unless its writer says
    otherwise: the notice topic of the type, else payment / refund, else the order."""
    try:
        kind = ExceptionType(exception_type)
    except ValueError:
        return Topic.ORDER
    return TOPIC_OF.get(kind) or _OTHER_TOPICS.get(kind, Topic.ORDER)


def types_for(topics: Iterable[Topic]) -> frozenset[ExceptionType]:
    wanted = set(topics)
    return frozenset(t for t, topic in TOPIC_OF.items() if topic in wanted)


class Outcome(StrEnum):
    """What the desk did with one case's notice; every outcome is on the case's timeline."""

    SENT = "sent"
    """Drafted, approved by the tenant's rule and queued to the support connector."""
    DRAFTED = "drafted"
    """Drafted and left for a person to approve (no rule, or nowhere to send it)."""
    QUIET = "quiet"
    """Drafted; the rule would send it, but the customer's quiet period holds it back."""
    SUPPRESSED = "suppressed"
    """Not drafted: the customer was already told about this topic within the window."""
    BLOCKED = "blocked"
    """Not drafted: the fact checker found a problem in the text; it is never sent."""


TELLING = frozenset({Outcome.SENT, Outcome.DRAFTED, Outcome.QUIET})
"""Outcomes that count as "the customer is (being) told": a later same-topic notice is
suppressed. A blocked one told nobody, a suppressed one pointed at another."""


class NoticePolicy(BaseModel):
    """A tenant's rule for proactive notices, as stored and as ``set`` accepts it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topics: tuple[Topic, ...] = ()
    auto_approve: tuple[Topic, ...] = ()
    quiet_hours: int = Field(default=24, ge=0, le=24 * 30)
    repeat_hours: int = Field(default=72, ge=1, le=24 * 90)

    @field_validator("topics", "auto_approve")
    @classmethod
    def _unique_sorted(cls, value: tuple[Topic, ...]) -> tuple[Topic, ...]:
        return tuple(sorted(set(value)))

    @field_validator("topics")
    @classmethod
    def _notice_topics(cls, value: tuple[Topic, ...]) -> tuple[Topic, ...]:
        other = sorted(set(value) - NOTICE_TOPICS)
        if other:
            raise ValueError(
                "notices are drafted only about "
                + ", ".join(sorted(NOTICE_TOPICS))
                + ", not "
                + ", ".join(other)
            )
        return value

    @model_validator(mode="after")
    def _sends_only_drafted(self) -> NoticePolicy:
        extra = set(self.auto_approve) - set(self.topics)
        if extra:
            raise ValueError(
                "auto_approve names topics that are not drafted: "
                + ", ".join(sorted(extra))
                + " (add them to topics)"
            )
        return self

    def drafts(self, topic: Topic) -> bool:
        return topic in self.topics

    def sends(self, topic: Topic) -> bool:
        return topic in self.auto_approve


def parse_policy(data: dict[str, Any]) -> NoticePolicy:
    """A policy from a request or a CLI; every problem named by its field."""
    try:
        return NoticePolicy.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: "
            + str(e["msg"]).removeprefix("Value error, ")
            for e in exc.errors()
        )
        raise InvalidNoticePolicy(problems) from None


@dataclass(frozen=True)
class Told:
    """An earlier notice, or message, to the same customer about the same topic."""

    notice_id: str | None
    """None for a message that was not a notice (a person's, a choice link)."""
    case_id: str
    order_ref: str
    at: datetime
    communication_id: str | None


def already_told(earlier: Iterable[Told], *, now: datetime, policy: NoticePolicy) -> Told | None:
    """The newest earlier notice inside the repeat window: the reason not to tell again."""
    since = now - timedelta(hours=policy.repeat_hours)
    inside = [t for t in earlier if t.at >= since]
    return max(inside, key=lambda t: t.at) if inside else None


@dataclass(frozen=True)
class Sent:
    """A message that went (or is going) to the customer: any case, any order, any writer."""

    communication_id: str
    case_id: str
    order_ref: str
    topic: str | None
    at: datetime


@dataclass(frozen=True)
class VoiceClash:
    """Why a new message to the customer would break one voice, naming the earlier one."""

    earlier: Sent
    rule: str
    """``repeat`` (same topic within the window) or ``quiet`` (inside the quiet period)."""
    until: datetime

    def describe(self, topic: str) -> str:
        when = self.earlier.at.isoformat(timespec="minutes")
        what = (
            f"was already told about {topic}"
            if self.rule == "repeat"
            else f"is in the quiet period after a message ({self.earlier.topic or 'no topic'})"
        )
        return (
            f"one voice: the customer {what}: message {self.earlier.communication_id} on "
            f"{when} (case {self.earlier.case_id}, order {self.earlier.order_ref}); "
            f"until {self.until.isoformat(timespec='minutes')}. "
            "Send with an override reason to send anyway."
        )


def voice_clash(
    earlier: Iterable[Sent], *, topic: str | None, now: datetime, policy: NoticePolicy
) -> VoiceClash | None:
    """The earlier message a new one about ``topic`` would clash with, if any: the newest
    one about the same topic within ``repeat_hours``, else the newest one of any topic
    within ``quiet_hours``."""
    sent = sorted(earlier, key=lambda s: s.at, reverse=True)
    repeat = timedelta(hours=policy.repeat_hours)
    for item in sent:
        if topic is not None and item.topic == topic and item.at + repeat > now:
            return VoiceClash(item, "repeat", item.at + repeat)
    quiet = timedelta(hours=policy.quiet_hours)
    if sent and policy.quiet_hours and sent[0].at + quiet > now:
        return VoiceClash(sent[0], "quiet", sent[0].at + quiet)
    return None


def quiet_until(last_sent: datetime | None, policy: NoticePolicy) -> datetime | None:
    """When the customer may next receive a proactive message (None: now)."""
    if last_sent is None or policy.quiet_hours == 0:
        return None
    return last_sent + timedelta(hours=policy.quiet_hours)


_LOCALE = re.compile(r"^([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{2,8})*$")


@dataclass(frozen=True)
class LanguageChoice:
    language: str
    note: str | None
    """Why the draft is not in the customer's own language, when it is not."""


def choose_language(locale: str | None, fallback: str, supported: Iterable[str]) -> LanguageChoice:
    """The customer's locale when the desk writes that language; else ``fallback`` (the
    language of the ship-to country), else English; a note says which and why."""
    languages = set(supported)
    backup = fallback if fallback in languages else "en"
    if not locale or not locale.strip():
        return LanguageChoice(
            backup, f"no locale on the customer record; written in {backup} (ship-to country)"
        )
    found = _LOCALE.match(locale.strip())
    base = found.group(1).lower() if found else None
    if base in languages:
        return LanguageChoice(base, None)
    return LanguageChoice(
        backup, f"no templates for the customer's locale {locale.strip()!r}; written in {backup}"
    )
