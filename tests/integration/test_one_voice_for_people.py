"""One voice holds for people too: a hand-written message has a topic (chosen, or the one its
case's type implies), and a person sending about a topic the customer heard about within
the window, or inside the customer's quiet period, is refused with the earlier message
named; sending anyway takes a reason, recorded on the timeline and in the audit log. The
proactive notices see what people sent. Over HTTP and the console, on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person
from builders.console import console_person, csrf_of, signed_in
from builders.messages import act, approved, case_for, customer, messages, policy, with_ticket
from builders.writeback import Sandboxes
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import AuditRecord, CaseTimelineEntry, CustomerNotice
from orderops.storage.uow import UnitOfWork
from orderops.workflow.notifications import notify_customers


def sent(http: TestClient, agent: Person, approver: Person, case_id: str, **draft: Any) -> str:
    """A message drafted, approved and sent without any clash; its id."""
    message = approved(http, agent, approver, case_id, **draft)
    answer = act(http, agent, message, "send")
    assert answer.status_code == 200, answer.text
    return str(message["id"])


def overrides(app: App, case_id: str) -> list[dict[str, Any]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(
            select(CaseTimelineEntry).where(
                CaseTimelineEntry.case_id == case_id,
                CaseTimelineEntry.kind == "communication_one_voice_override",
            )
        )
        return [dict(r.data) for r in rows]


def test_a_message_takes_its_topic_from_the_case_unless_the_writer_chooses_one(
    app: App, clock: FixedClock, http: TestClient, agent: Person, sandboxes: Sandboxes
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="V-0")  # a payment_failed case

    plain = http.post(
        f"/v1/cases/{case_id}/communications", json={"body": "Hello"}, headers=agent.headers
    )
    chosen = http.post(
        f"/v1/cases/{case_id}/communications",
        json={"body": "Hello", "topic": "refund"},
        headers=agent.headers,
    )
    unknown = http.post(
        f"/v1/cases/{case_id}/communications",
        json={"body": "Hello", "topic": "weather"},
        headers=agent.headers,
    )

    assert (plain.status_code, plain.json()["topic"]) == (201, "payment")
    assert (chosen.status_code, chosen.json()["topic"]) == (201, "refund")
    assert unknown.status_code == 422


def test_repeating_a_topic_is_refused_naming_the_earlier_message_until_a_reason_is_given(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="V-1")
    first = sent(http, agent, approver, case_id)
    clock.advance(timedelta(hours=30))  # past the quiet period, inside the 72 h window
    second = approved(http, agent, approver, case_id, topic="payment")

    refused = act(http, agent, second, "send")
    blank = act(http, agent, second, "send", override_reason="   ")
    forced = act(http, agent, second, "send", override_reason="the card was charged twice")

    assert refused.status_code == 409, refused.text
    problem = refused.json()
    assert problem["type"].endswith("/one-voice")
    assert problem["earlier_communication_id"] == first
    assert problem["rule"] == "repeat"
    assert f"message {first}" in problem["detail"]
    assert blank.status_code == 400  # a reason of blanks is no reason
    assert forced.status_code == 200, forced.text
    assert forced.json()["status"] == "sending"
    (override,) = overrides(app, case_id)
    assert override["reason"] == "the card was charged twice"
    assert override["earlier_communication_id"] == first
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        audited = uow.session.scalars(
            select(AuditRecord.actor).where(
                AuditRecord.action == "case.communication_one_voice_override"
            )
        ).all()
    assert audited == [agent.principal.identity]


def test_the_quiet_period_holds_any_topic_and_ends(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="V-2")
    first = sent(http, agent, approver, case_id, topic="payment")
    clock.advance(timedelta(hours=2))
    other_topic = approved(http, agent, approver, case_id, topic="refund")

    quiet = act(http, agent, other_topic, "send")
    clock.advance(timedelta(hours=23))  # 25 h after the first: the quiet period is over
    later = act(http, agent, other_topic, "send")

    assert quiet.status_code == 409, quiet.text
    assert (quiet.json()["rule"], quiet.json()["earlier_communication_id"]) == ("quiet", first)
    assert later.status_code == 200, later.text
    assert overrides(app, case_id) == []


def test_a_proactive_notice_is_suppressed_by_what_a_person_already_sent(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    policy(app, clock, topics=["delay"], auto_approve=["delay"])
    who = customer(app, clock)
    told = case_for(app, clock, who, "payment_failed")
    by_hand = sent(http, agent, approver, told, topic="delay")
    clock.advance(timedelta(hours=1))
    delayed = case_for(app, clock, who, "shipment_delay_predicted")  # another order

    outcomes = notify_customers(app.sessions, tenant_id="acme", clock=clock).outcomes

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        notice = uow.session.scalars(
            select(CustomerNotice).where(CustomerNotice.case_id == delayed)
        ).one()
        entry = uow.session.scalars(
            select(CaseTimelineEntry).where(
                CaseTimelineEntry.case_id == delayed, CaseTimelineEntry.kind == "notice_suppressed"
            )
        ).one()
        outcome, reason, earlier = notice.outcome, notice.reason or "", entry.data
    assert outcomes == {"suppressed": 1}
    assert outcome == "suppressed"
    assert f"case {told}" in reason
    assert earlier["earlier_message"] == by_hand
    assert earlier["earlier_notice"] is None
    assert messages(app, delayed) == []


def test_the_console_chooses_the_topic_and_overrides_with_a_reason(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="V-3")
    first = sent(http, agent, approver, case_id)
    browser = signed_in(app, console_person(app, clock, role=Role.AGENT))
    page = f"/console/cases/{case_id}"
    form = browser.get(page).text

    drafted = browser.post(
        f"/console/cases/{case_id}/messages",
        data={"csrf": csrf_of(form), "body": "Your refund is on its way", "topic": "refund"},
    )
    listed = http.get(f"/v1/cases/{case_id}/communications", headers=agent.headers).json()
    (second,) = [m for m in listed["items"] if m["status"] == "drafted"]
    approval = act(http, approver, second, "approve")
    version = str(approval.json()["version"])
    refused = browser.post(
        f"/console/messages/{second['id']}/send",
        data={"csrf": csrf_of(browser.get(page).text), "version": version},
    )
    refusal = browser.get(page).text  # the refusal, shown on the case
    forced = browser.post(
        f"/console/messages/{second['id']}/send",
        data={
            "csrf": csrf_of(browser.get(page).text),
            "version": version,
            "override_reason": "the customer asked for it on the phone",
        },
    )

    assert '<select id="new-topic" name="topic">' in form
    assert '<option value="payment" selected>' in form  # the payment_failed case's topic
    assert drafted.status_code == 303, drafted.text
    assert second["topic"] == "refund"
    assert refused.status_code == 303
    assert "one voice: the customer was already told about refund" not in refusal
    assert f"quiet period after a message (payment): message {first} on" in refusal
    assert forced.status_code == 303, forced.text
    assert [o["reason"] for o in overrides(app, case_id)] == [
        "the customer asked for it on the phone"
    ]
