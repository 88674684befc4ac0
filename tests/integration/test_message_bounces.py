"""A delivered customer message can still bounce: the bounce read-back finds the Zendesk
audit that says the email carrying our comment came back, and the message becomes
``bounced`` with the mail server's reason, shown in the console. A bounced message is sent
again as a new delivery, to the same address or to a corrected one. A message whose outbox
row is cancelled fails with that reason instead of staying "sending". Over HTTP against
the Zendesk sandbox on a real socket, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person
from builders.console import console_person, csrf_of, signed_in
from builders.messages import BODY, TICKET, act, approved, current, ours, with_ticket
from builders.writeback import (
    Sandboxes,
    drain,
    make_case,
)
from orderops.bootstrap import App
from orderops.decide.communications import settle_stranded
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import AuditRecord, OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.message_bounces import read_bounces
from orderops.workflow.writeback_worker import WritebackRuntime
from orderops.writeback import admin

REASON = "550 5.1.1 mailbox unavailable"


def bounces(app: App, clock: FixedClock, runtime: WritebackRuntime) -> tuple[int, int, int]:
    report = read_bounces(app.sessions, runtime.connectors, tenant_id="acme", clock=clock)
    return report.checked, report.bounced, report.could_not_check


def keys(app: App) -> list[tuple[str, str]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.execute(
            select(OutboxMessage.idempotency_key, OutboxMessage.status).order_by(
                OutboxMessage.created_at, OutboxMessage.id
            )
        )
        return [(r.idempotency_key, r.status) for r in rows]


def test_a_delivered_comment_that_did_not_bounce_stays_delivered(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
    runtime: WritebackRuntime,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="B-1")
    message = approved(http, agent, approver, case_id)
    act(http, agent, message, "send")
    drain(app, runtime, clock)

    assert bounces(app, clock, runtime) == (1, 0, 0)
    assert current(http, agent, case_id)["status"] == "delivered"


def test_a_bounce_is_read_back_shown_and_retried_to_the_same_address(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
    runtime: WritebackRuntime,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="B-2")
    sandboxes.zendesk.bounce_address("kim@example.com", REASON)
    message = approved(http, agent, approver, case_id)
    act(http, agent, message, "send")
    drain(app, runtime, clock)
    delivered = current(http, agent, case_id)["status"]

    found = bounces(app, clock, runtime)
    bounced = current(http, agent, case_id)
    again = bounces(app, clock, runtime)  # a second read-back finds nothing new
    browser = signed_in(app, console_person(app, clock, role=Role.AGENT))
    page = browser.get(f"/console/cases/{case_id}").text
    retried = act(http, agent, bounced, "retry")
    drain(app, runtime, clock)

    assert delivered == "delivered"
    assert found == (1, 1, 0)
    assert again == (0, 0, 0)
    assert bounced["status"] == "bounced"
    assert bounced["delivery_error"] == f"Email to kim@example.com could not be delivered: {REASON}"
    assert [h["step"] for h in bounced["history"]][-3:] == ["sent", "delivered", "bounced"]
    assert f"Bounced: Email to kim@example.com could not be delivered: {REASON}" in page
    assert f"/console/messages/{message['id']}/retry" in page
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "sending"
    assert current(http, agent, case_id)["status"] == "delivered"
    # written twice on purpose: the first did reach Zendesk, the retry is a new delivery
    assert len(ours(sandboxes)) == 2
    assert [status for _, status in keys(app)] == ["delivered", "delivered"]
    assert len({key for key, _ in keys(app)}) == 2
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        audited = list(uow.session.scalars(select(AuditRecord.action)))
    assert "case.communication_bounced" in audited


def test_a_bounced_message_retried_to_a_corrected_address_opens_a_ticket_there(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
    runtime: WritebackRuntime,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="B-3")
    sandboxes.zendesk.bounce_address("kim@example.com", REASON)
    message = approved(http, agent, approver, case_id)
    act(http, agent, message, "send")
    drain(app, runtime, clock)
    bounces(app, clock, runtime)
    bounced = current(http, agent, case_id)
    browser = signed_in(app, console_person(app, clock, role=Role.AGENT))
    page = f"/console/cases/{case_id}"

    answer = browser.post(
        f"/console/messages/{message['id']}/retry",
        data={
            "csrf": csrf_of(browser.get(page).text),
            "version": str(bounced["version"]),
            "recipient": "kim.new@example.com",
        },
    )
    drain(app, runtime, clock)
    after = current(http, agent, case_id)
    checked = bounces(app, clock, runtime)

    assert answer.status_code == 303, answer.text
    assert after["status"] == "delivered"
    assert after["recipient"] == "kim.new@example.com"
    ticket = int(after["delivery_ref"].removeprefix("zendesk:ticket/"))
    assert ticket != TICKET
    assert sandboxes.zendesk.ticket(ticket)["requester"] == {"email": "kim.new@example.com"}
    assert [c["body"] for c in sandboxes.zendesk.comments(ticket)] == [BODY]
    assert checked == (1, 0, 0)  # the new address did not bounce


@pytest.mark.parametrize("recipient", ["not-an-address", "a@b", "x@y.z <script>", "two@a.b,c@d.e"])
def test_a_malformed_corrected_address_is_refused_and_nothing_is_queued(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
    runtime: WritebackRuntime,
    recipient: str,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="B-4")
    sandboxes.zendesk.bounce_address("kim@example.com", REASON)
    message = approved(http, agent, approver, case_id)
    act(http, agent, message, "send")
    drain(app, runtime, clock)
    bounces(app, clock, runtime)
    bounced = current(http, agent, case_id)

    answer = http.post(
        f"/v1/communications/{message['id']}/retry",
        json={"version": bounced["version"], "recipient": recipient},
        headers=agent.headers,
    )

    assert answer.status_code == 400, answer.text
    assert "is not an email address" in answer.json()["detail"]
    assert current(http, agent, case_id)["status"] == "bounced"
    assert len(keys(app)) == 1


def test_a_cancelled_outbox_row_fails_its_message_with_the_reason(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person, admin: Person
) -> None:
    case_id = make_case(app, clock, order_ref="B-5")
    message = approved(http, agent, approver, case_id, recipient="lee@example.com")
    sending = act(http, agent, message, "send").json()
    ((key, _),) = keys(app)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        outbox_id = uow.session.scalar(
            select(OutboxMessage.id).where(OutboxMessage.idempotency_key == key)
        )

    cancelled = http.post(f"/v1/outbox/{outbox_id}/cancel", headers=admin.headers)
    failed = current(http, agent, case_id)
    retried = act(http, agent, failed, "retry")

    assert sending["status"] == "sending"
    assert cancelled.status_code == 200, cancelled.text
    assert failed["status"] == "failed"
    assert failed["delivery_error"] == (
        f"cancelled: its outbox row {outbox_id} was stopped before delivery"
    )
    assert [h["step"] for h in failed["history"]][-2:] == ["sent", "failed"]
    assert retried.status_code == 200, retried.text  # a cancelled row may be queued again
    assert keys(app) == [(key, "pending")]


def test_a_message_left_sending_by_an_earlier_cancel_is_settled_by_the_pass(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    case_id = make_case(app, clock, order_ref="B-6")
    message = approved(http, agent, approver, case_id, recipient="lee@example.com")
    act(http, agent, message, "send")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        (row,) = uow.session.scalars(select(OutboxMessage)).all()
        admin.cancel_message(uow, row.id, actor="someone", now=clock.now())  # no settling
        uow.commit()
    left = current(http, agent, case_id)["status"]

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        settled = settle_stranded(uow, clock.now())
        uow.commit()
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        again = settle_stranded(uow, clock.now())

    assert left == "sending"
    assert settled == 1
    assert again == 0
    assert current(http, agent, case_id)["status"] == "failed"
