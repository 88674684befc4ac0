"""Offering choices sends the customer the link: the offer drafts a customer message about
the offer's topic with the link in its body, fact-checked like any draft, sent by the
tenant's rule when it auto-approves the topic and one voice allows, else left to a person;
its delivery is followed on the case and the offer, and withdrawing the offer before the
message went calls it off. On SQLite and PostgreSQL, delivered to the Zendesk sandbox."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event, select

from builders.access import Person
from builders.choices import BASE_URL, choice_case, keys, make_offer
from builders.messages import act, policy
from builders.writeback import Sandboxes, drain
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.recommend.settings import RecommendSettings
from orderops.storage.tables import CaseTimelineEntry, Communication, OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.choices import offer_choices, offers_page, withdraw_offer
from orderops.workflow.writeback_worker import WritebackRuntime


def message_of(app: App, message_id: str | None) -> Communication:
    assert message_id is not None
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        found = uow.session.get(Communication, message_id)
        assert found is not None
        uow.session.expunge_all()
        return found


def outbox(app: App) -> list[tuple[str, str, str]]:
    """(operation, status, body) of every acme outbox row."""
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(select(OutboxMessage).order_by(OutboxMessage.created_at))
        return [(r.operation, r.status, str(r.payload.get("body"))) for r in rows]


def noted(app: App, case_id: str) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return list(
            uow.session.scalars(
                select(CaseTimelineEntry.summary)
                .where(
                    CaseTimelineEntry.case_id == case_id,
                    CaseTimelineEntry.kind == "customer_choice_message",
                )
                .order_by(CaseTimelineEntry.id)
            )
        )


def page(app: App, case_id: str) -> tuple[list[str | None], str | None]:
    """The offers page's message statuses (oldest first) and the open offer's status."""
    shown = offers_page(
        app.sessions, tenant_id="acme", case_id=case_id, keys=keys(app), base_url=BASE_URL
    )
    return [o.message_status for o in shown.offers], (
        shown.open.offer.message_status if shown.open else None
    )


def test_without_a_rule_the_link_waits_in_a_draft_a_person_approves_sends_and_follows(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    runtime: WritebackRuntime,
) -> None:
    case_id = choice_case(app, clock)

    made = make_offer(app, clock, agent, case_id)
    message = message_of(app, made.offer.communication_id)
    queued_before = outbox(app)
    listed = http.get(f"/v1/cases/{case_id}/communications", headers=agent.headers).json()
    (draft,) = listed["items"]
    approved = act(http, approver, draft, "approve")  # the desk wrote it: anyone may approve
    sent = act(http, agent, approved.json(), "send")
    drain(app, runtime, clock)

    assert made.message is not None
    assert made.message.status == "drafted"
    assert "no rule sends delay messages" in made.message.reason
    assert message.topic == "delay"
    assert made.url in message.body
    assert "running later than we planned" in message.body
    assert queued_before == []
    assert (approved.status_code, sent.status_code) == (200, 200)
    ((operation, status, body),) = outbox(app)
    assert (operation, status) == ("create_ticket", "delivered")
    assert made.url in body
    assert message_of(app, message.id).status == "delivered"
    assert page(app, case_id) == (["delivered"], "delivered")
    assert noted(app, case_id) == [
        f"The message with the choice link is drafted: {made.message.reason}"
    ]


def test_a_rule_that_auto_approves_the_topic_sends_the_link_at_once(
    app: App, clock: FixedClock, agent: Person
) -> None:
    policy(app, clock, topics=["delay"], auto_approve=["delay"])
    case_id = choice_case(app, clock)

    made = make_offer(app, clock, agent, case_id)

    assert made.message is not None
    assert made.message.status == "sending"
    assert made.offer.message_status == "sending"
    ((operation, status, body),) = outbox(app)
    assert (operation, status) == ("create_ticket", "pending")
    assert made.url in body


def test_a_new_offer_calls_off_the_queued_link_which_then_holds_nothing_back(
    app: App, clock: FixedClock, agent: Person
) -> None:
    policy(app, clock, topics=["delay"], auto_approve=["delay"])
    case_id = choice_case(app, clock)
    first = make_offer(app, clock, agent, case_id)  # sent by the rule
    first_id = first.offer.communication_id
    clock.advance(timedelta(hours=1))
    queued = outbox(app)

    second = make_offer(app, clock, agent, case_id)

    # the first offer's message was still queued: withdrawn with its offer (failed,
    # "cancelled"), so it never reached the customer and does not hold the second back
    assert first_id is not None
    assert [s for _, s, _ in queued] == ["pending"]
    assert message_of(app, first_id).status == "failed"
    assert "cancelled" in (message_of(app, first_id).delivery_error or "")
    assert second.message is not None
    assert second.message.status == "sending"


def test_a_delivered_link_keeps_the_customers_quiet_period(
    app: App, clock: FixedClock, agent: Person, runtime: WritebackRuntime
) -> None:
    policy(app, clock, topics=["delay"], auto_approve=["delay"])
    case_id = choice_case(app, clock)
    first = make_offer(app, clock, agent, case_id)
    drain(app, runtime, clock)
    clock.advance(timedelta(hours=1))

    second = make_offer(app, clock, agent, case_id)

    assert first.offer.communication_id is not None
    assert message_of(app, first.offer.communication_id).status == "delivered"
    assert second.message is not None
    assert second.message.status == "drafted"
    assert f"message {first.offer.communication_id}" in second.message.reason
    assert second.message.reason.startswith("left to a person: one voice")


def test_withdrawing_an_offer_before_its_message_went_cancels_the_message(
    app: App, clock: FixedClock, agent: Person
) -> None:
    case_id = choice_case(app, clock)
    made = make_offer(app, clock, agent, case_id)

    withdrawn = withdraw_offer(
        app.sessions, tenant_id="acme", case_id=case_id, principal=agent.principal, clock=clock
    )
    again = withdraw_offer(
        app.sessions, tenant_id="acme", case_id=case_id, principal=agent.principal, clock=clock
    )

    message = message_of(app, made.offer.communication_id)
    assert withdrawn == [made.offer.id]
    assert again == []
    assert message.status == "cancelled"
    assert f"choice offer {made.offer.id} was withdrawn" in (message.delivery_error or "")
    assert outbox(app) == []
    assert page(app, case_id) == (["cancelled"], None)


def test_the_api_withdraws_and_lists_the_message_status(
    app: App, clock: FixedClock, http: TestClient, agent: Person, sandboxes: Sandboxes
) -> None:
    case_id = choice_case(app, clock)
    made = http.post(f"/v1/cases/{case_id}/choice-offers", headers=agent.headers)

    withdrawn = http.post(f"/v1/cases/{case_id}/choice-offers/withdraw", headers=agent.headers)
    listed = http.get(f"/v1/cases/{case_id}/choice-offers", headers=agent.headers)

    assert made.status_code == 201, made.text
    assert made.json()["message_status"] == "drafted"
    assert "a person approves" in made.json()["message_note"]
    assert withdrawn.json() == {"withdrawn": [made.json()["id"]]}
    ((offer),) = listed.json()
    assert (offer["status"], offer["message_status"]) == ("withdrawn", "cancelled")
    assert offer["communication_id"] == made.json()["communication_id"]


def test_a_link_message_failing_the_fact_check_is_not_drafted_and_the_offer_stands(
    app: App, clock: FixedClock, agent: Person, tmp_path: Path
) -> None:
    (tmp_path / "acme" / "en").mkdir(parents=True)
    (tmp_path / "acme" / "en" / "choice.j2").write_text(
        "Order {{ order }}: we refund $999.99 today. {{ link }}\n"
    )
    case_id = choice_case(app, clock)

    made = offer_choices(
        app.sessions,
        tenant_id="acme",
        case_id=case_id,
        principal=agent.principal,
        clock=clock,
        keys=keys(app),
        base_url=BASE_URL,
        settings=RecommendSettings(templates_dir=tmp_path),
    )

    assert made.offer.status == "open"
    assert made.offer.communication_id is None
    assert made.message is not None
    assert made.message.status == "blocked"
    assert "$999.99 is not one of the case's" in made.message.reason
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        assert uow.session.scalars(select(Communication)).all() == []
    assert outbox(app) == []


def test_the_offers_page_reads_the_case_and_its_offers_once(
    app: App, clock: FixedClock, agent: Person
) -> None:
    case_id = choice_case(app, clock)
    make_offer(app, clock, agent, case_id)
    clock.advance(timedelta(minutes=5))
    make_offer(app, clock, agent, case_id)  # the first withdrawn, the second open
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(str(args[2]))

    event.listen(app.engine, "before_cursor_execute", note)
    try:
        statuses, open_status = page(app, case_id)
    finally:
        event.remove(app.engine, "before_cursor_execute", note)

    reads = [s for s in sent if "FROM" in s.split()]
    assert (statuses, open_status) == (["cancelled", "drafted"], "drafted")
    assert len([s for s in reads if "customer_choice_offers" in s]) == 1  # with the messages
    assert len(reads) == 2  # the case, then its offers
