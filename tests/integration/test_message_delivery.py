"""Customer messages go out through the support connector: "send" queues one outbox row
(a public comment on the order's Zendesk ticket, or a new ticket to the recipient), the
worker's delivery makes the message delivered with the ticket's id or failed with the
vendor's reason, and a failed message retried is written once. Over HTTP, against the
Zendesk sandbox on a real socket, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person, person
from builders.console import console_person, csrf_of, signed_in
from builders.messages import (
    BODY,
    TICKET,
    act,
    approved,
    current,
    ours,
    outbox_rows,
    with_ticket,
)
from builders.writeback import (
    Sandboxes,
    drain,
    make_case,
)
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.sandbox import Fault, FaultKind
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork
from orderops.workflow.writeback_worker import WritebackRuntime


def test_a_sent_message_is_a_public_comment_on_the_orders_ticket_and_is_delivered(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
    runtime: WritebackRuntime,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="M-1")
    message = approved(http, agent, approver, case_id)

    sent = act(http, agent, message, "send")
    drain(app, runtime, clock)
    after = current(http, agent, case_id)

    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sending"
    assert [(c["body"], c["public"]) for c in ours(sandboxes)] == [(BODY, True)]
    assert after["status"] == "delivered"
    assert after["delivery_ref"] == f"zendesk:ticket/{TICKET}"
    assert after["delivery_error"] is None
    assert [(h["step"], h["actor"]) for h in after["history"]][-2:] == [
        ("sent", sent.json()["history"][-1]["actor"]),
        ("delivered", "writeback"),
    ]
    assert outbox_rows(app) == [
        ("add_comment", f"message:{message['id']}:v{message['version']}", "delivered")
    ]


def test_an_order_without_a_ticket_gets_a_new_ticket_to_the_recipient(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
    runtime: WritebackRuntime,
) -> None:
    case_id = make_case(app, clock, order_ref="M-2")
    message = approved(
        http, agent, approver, case_id, recipient="lee@example.com", subject="Your order M-2"
    )

    assert act(http, agent, message, "send").status_code == 200
    drain(app, runtime, clock)
    after = current(http, agent, case_id)

    ticket_id = int(after["delivery_ref"].removeprefix("zendesk:ticket/"))
    ticket = sandboxes.zendesk.ticket(ticket_id)
    assert after["status"] == "delivered"
    assert ticket["requester"] == {"email": "lee@example.com"}
    assert ticket["subject"] == "Your order M-2"
    assert [c["body"] for c in sandboxes.zendesk.comments(ticket_id)] == [BODY]


def test_a_refused_comment_fails_the_message_and_a_retry_writes_it_once(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
    runtime: WritebackRuntime,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="M-3")
    message = approved(http, agent, approver, case_id)
    sandboxes.zendesk.control.inject(
        Fault(kind=FaultKind.VALIDATION, method="PUT", path_contains=f"/tickets/{TICKET}")
    )

    act(http, agent, message, "send")
    drain(app, runtime, clock)
    failed = current(http, agent, case_id)
    comments_after_failure = len(ours(sandboxes))
    retried = act(http, agent, failed, "retry")
    drain(app, runtime, clock)
    delivered = current(http, agent, case_id)

    assert failed["status"] == "failed"
    assert (
        failed["delivery_error"]
        == "permanent error: zendesk answered 422: Record validation errors"
    )
    assert comments_after_failure == 0
    assert retried.status_code == 200, retried.text
    assert retried.json()["status"] == "sending"
    assert retried.json()["delivery_error"] is None
    assert delivered["status"] == "delivered"
    assert len(ours(sandboxes)) == 1
    assert [h["step"] for h in delivered["history"]][-4:] == [
        "sent",
        "failed",
        "retried",
        "delivered",
    ]
    # the retry re-armed the row: one row, one key, one effect
    assert [status for _, _, status in outbox_rows(app)] == ["delivered"]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        audited = set(uow.session.scalars(select(AuditRecord.action)))
    assert "writeback.retried" in audited


def test_a_retry_after_a_lost_answer_finds_the_comment_instead_of_writing_it_again(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
    runtime: WritebackRuntime,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="M-4")
    message = approved(http, agent, approver, case_id)
    sandboxes.zendesk.control.inject(
        Fault(
            kind=FaultKind.CRASH_AFTER_EFFECT,
            status=400,
            method="PUT",
            path_contains=f"/tickets/{TICKET}",
        )
    )

    act(http, agent, message, "send")
    drain(app, runtime, clock)
    failed = current(http, agent, case_id)
    act(http, agent, failed, "retry")
    drain(app, runtime, clock)

    assert failed["status"] == "failed"
    assert current(http, agent, case_id)["status"] == "delivered"
    assert len(ours(sandboxes)) == 1


def test_sending_twice_queues_one_row(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    case_id = make_case(app, clock, order_ref="M-5")
    message = approved(http, agent, approver, case_id, recipient="lee@example.com")

    first = act(http, agent, message, "send")
    again = act(http, agent, message, "send")
    replay = act(http, agent, first.json(), "send")

    assert first.status_code == 200
    assert again.status_code == 409  # the version moved on
    assert replay.status_code == 409
    assert replay.json()["communication"]["status"] == "sending"
    assert len(outbox_rows(app)) == 1


def test_nothing_to_send_to_is_refused_and_nothing_is_queued(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    case_id = make_case(app, clock, order_ref="M-6")  # no ticket, no customer, no recipient
    message = approved(http, agent, approver, case_id)

    refused = act(http, agent, message, "send")

    assert refused.status_code == 409
    assert "no support ticket" in refused.json()["detail"]
    assert current(http, agent, case_id)["status"] == "approved"
    assert outbox_rows(app) == []


def test_only_a_failed_message_can_be_retried(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    case_id = make_case(app, clock, order_ref="M-7")
    message = approved(http, agent, approver, case_id, recipient="lee@example.com")

    too_early = act(http, agent, message, "retry")
    sending = act(http, agent, message, "send").json()
    while_sending = act(http, agent, sending, "retry")

    assert too_early.status_code == 409
    assert while_sending.status_code == 409
    assert [status for _, _, status in outbox_rows(app)] == ["pending"]


def test_another_tenant_can_neither_send_nor_retry(
    app: App, clock: FixedClock, http: TestClient, agent: Person, approver: Person
) -> None:
    case_id = make_case(app, clock, order_ref="M-8")
    message = approved(http, agent, approver, case_id, recipient="lee@example.com")
    stranger = person(app, clock, tenant="globex", role=Role.ADMIN, name="gus-globex")

    answers = [act(http, stranger, message, step).status_code for step in ("send", "retry")]

    assert answers == [404, 404]
    assert current(http, agent, case_id)["status"] == "approved"
    assert outbox_rows(app) == []


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"version": "two"}, 422),
        ({"version": 0}, 422),
        ([1, 2], 422),
        ("x" * 10, 422),
        ({}, 428),  # no version: the change must say what it saw
        ({"version": 10**30}, 409),  # a version the message never had: stale
    ],
)
def test_a_malformed_send_or_retry_is_refused_and_changes_nothing(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    body: Any,
    status: int,
) -> None:
    case_id = make_case(app, clock, order_ref="M-9")
    message = approved(http, agent, approver, case_id, recipient="lee@example.com")
    url = f"/v1/communications/{message['id']}"

    answers = [http.post(f"{url}/{s}", json=body, headers=agent.headers) for s in ("send", "retry")]

    assert [a.status_code for a in answers] == [status, status]
    assert current(http, agent, case_id)["status"] == "approved"
    assert outbox_rows(app) == []


def test_the_console_sends_shows_the_vendors_refusal_and_sends_again(
    app: App,
    clock: FixedClock,
    http: TestClient,
    agent: Person,
    approver: Person,
    sandboxes: Sandboxes,
    runtime: WritebackRuntime,
) -> None:
    case_id = with_ticket(app, clock, sandboxes, order_ref="M-9")
    message = approved(http, agent, approver, case_id)
    browser = signed_in(app, console_person(app, clock, role=Role.AGENT))
    page = f"/console/cases/{case_id}"
    sandboxes.zendesk.control.inject(
        Fault(kind=FaultKind.VALIDATION, method="PUT", path_contains=f"/tickets/{TICKET}")
    )

    sent = browser.post(
        f"/console/messages/{message['id']}/send",
        data={"csrf": csrf_of(browser.get(page).text), "version": str(message["version"])},
    )
    drain(app, runtime, clock)
    failed_page = browser.get(page).text
    failed = current(http, agent, case_id)
    again = browser.post(
        f"/console/messages/{message['id']}/retry",
        data={"csrf": csrf_of(failed_page), "version": str(failed["version"])},
    )
    drain(app, runtime, clock)

    assert sent.status_code == 303, sent.text
    assert "Not delivered: permanent error: zendesk answered 422" in failed_page
    assert f"/console/messages/{message['id']}/retry" in failed_page
    assert again.status_code == 303, again.text
    assert current(http, agent, case_id)["status"] == "delivered"
    assert len(ours(sandboxes)) == 1
    assert "Delivered (zendesk:ticket/501)." in browser.get(page).text
