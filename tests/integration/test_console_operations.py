"""Operations screens: the outbox (retry, cancel), dead letters (replay), sources.

Retry and cancel need ``outbox:manage`` as the API and CLI do, and leave the same audit
rows, recorded as the signed-in person; a replay is audited with its outcome.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta

from sqlalchemy import select

from builders.console import console_person, csrf_of, post_form, signed_in
from builders.events import order_placed
from builders.writeback import make_case
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.repositories.intake import DeadLetterStatus
from orderops.storage.tables import (
    AuditRecord,
    DeadLetter,
    Order,
    OutboxMessage,
    WebhookDelivery,
)
from orderops.storage.uow import UnitOfWork
from orderops.writeback.outbox import enqueue

OUTBOX = "/console/ops/outbox"
LETTERS = "/console/ops/dead-letters"


def _messages(app: App, clock: FixedClock) -> tuple[str, str, str]:
    """A failed stripe refund with its error, a pending shopify note, and globex's own."""
    case_id = make_case(app, clock, order_ref="o-1")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        failed = enqueue(
            uow,
            system="stripe",
            operation="refund",
            idempotency_key="k-1",
            payload={"amount": 500},
            now=clock.now(),
            case_id=case_id,
            order_ref="o-1",
        )
        row = uow.session.scalar(select(OutboxMessage).where(OutboxMessage.id == failed))
        assert row is not None
        row.status, row.attempts, row.last_error = "failed", 3, "card_declined: the bank said no"
        pending = enqueue(
            uow,
            system="shopify",
            operation="add_note",
            idempotency_key="k-2",
            payload={},
            now=clock.now(),
            order_ref="o-2",
        )
        uow.commit()
    with UnitOfWork(app.sessions, tenant_id="globex") as uow:
        other = enqueue(
            uow,
            system="stripe",
            operation="refund",
            idempotency_key="k-1",
            payload={},
            now=clock.now(),
        )
        uow.commit()
    return failed, pending, other


def _status(app: App, tenant: str, message_id: str) -> str:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        row = uow.session.scalar(select(OutboxMessage).where(OutboxMessage.id == message_id))
        assert row is not None
        return row.status


def _audit(app: App, action: str) -> list[tuple[str, str]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(select(AuditRecord).where(AuditRecord.action == action))
        return [(r.actor, r.entity_id) for r in rows]


def test_the_outbox_page_shows_status_attempts_and_the_last_error(
    app: App, clock: FixedClock
) -> None:
    failed, pending, _ = _messages(app, clock)
    client = signed_in(app, console_person(app, clock, role=Role.AGENT))

    page = client.get(OUTBOX).text
    only_failed = client.get(OUTBOX, params={"status": "failed"}).text

    assert failed in page
    assert pending in page
    assert "card_declined: the bank said no" in page
    assert pending not in only_failed
    assert f"{OUTBOX}/{failed}/retry" not in page, "an agent is not offered retry"


def test_an_admin_retries_and_cancels_as_themselves_and_it_is_audited(
    app: App, clock: FixedClock
) -> None:
    failed, pending, _ = _messages(app, clock)
    admin = console_person(app, clock, role=Role.ADMIN)
    client = signed_in(app, admin)

    offered = client.get(OUTBOX).text
    retried = post_form(client, OUTBOX, f"{OUTBOX}/{failed}/retry")
    cancelled = post_form(client, OUTBOX, f"{OUTBOX}/{pending}/cancel")
    assert cancelled.status_code == 303  # type: ignore[attr-defined]
    again = post_form(client, OUTBOX, f"{OUTBOX}/{pending}/cancel")

    assert f"{OUTBOX}/{failed}/retry" in offered
    assert retried.status_code == 303  # type: ignore[attr-defined]
    assert _status(app, "acme", failed) == "pending"
    assert _status(app, "acme", pending) == "cancelled"
    assert again.status_code == 303  # type: ignore[attr-defined]  # refused with the reason
    assert _audit(app, "writeback.retried") == [(f"user:{admin.user_id}", failed)]
    assert _audit(app, "writeback.cancelled") == [(f"user:{admin.user_id}", pending)]


def test_retry_and_cancel_are_refused_without_outbox_manage_or_across_tenants(
    app: App, clock: FixedClock
) -> None:
    failed, pending, theirs = _messages(app, clock)
    agent = signed_in(app, console_person(app, clock, role=Role.AGENT))
    admin = signed_in(app, console_person(app, clock, role=Role.ADMIN))

    by_agent = post_form(agent, OUTBOX, f"{OUTBOX}/{failed}/retry")
    cancel_by_agent = post_form(agent, OUTBOX, f"{OUTBOX}/{pending}/cancel")
    foreign = post_form(admin, OUTBOX, f"{OUTBOX}/{theirs}/retry")

    assert by_agent.status_code == 403  # type: ignore[attr-defined]
    assert cancel_by_agent.status_code == 403  # type: ignore[attr-defined]
    assert foreign.status_code == 404  # type: ignore[attr-defined]
    assert (_status(app, "acme", failed), _status(app, "acme", pending)) == ("failed", "pending")
    assert _status(app, "globex", theirs) == "pending"
    assert _audit(app, "writeback.retried") == []
    assert _audit(app, "writeback.cancelled") == []


def _letter(app: App, clock: FixedClock, body: str) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        letter = uow.dead_letters.add(
            DeadLetter(
                source="test://shop",
                channel="webhook",
                received_at=clock.now(),
                reason_code="schema",
                reason="order.placed: a field the old schema did not know",
                content_type="application/json",
                body=body,
                body_bytes=len(body),
                status=DeadLetterStatus.OPEN,
            )
        )
        uow.commit()
        return letter.id


def test_a_dead_letter_replays_from_the_console_once_its_cause_is_fixed(
    app: App, clock: FixedClock
) -> None:
    fixed = _letter(
        app, clock, json.dumps(order_placed("o-77", at=clock.now() - timedelta(hours=1)))
    )
    broken = _letter(app, clock, "{not json")
    admin = console_person(app, clock, role=Role.ADMIN)
    client = signed_in(app, admin)

    page = client.get(LETTERS).text
    replayed = post_form(client, LETTERS, f"{LETTERS}/replay", letter_id=fixed)
    still = post_form(client, LETTERS, f"{LETTERS}/replay", letter_id=broken)
    twice = post_form(client, LETTERS, f"{LETTERS}/replay", letter_id=fixed)
    after = client.get(LETTERS).text

    assert f'name="letter_id" value="{fixed}"' in page
    assert f'name="letter_id" value="{broken}"' in page
    assert replayed.status_code == still.status_code == 303  # type: ignore[attr-defined]
    assert twice.status_code == 404  # type: ignore[attr-defined]  # no open letter any more
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        letters = {d.id: d.status for d in uow.session.scalars(select(DeadLetter))}
        order = uow.session.scalar(select(Order).where(Order.order_ref == "o-77"))
    assert letters == {fixed: "replayed", broken: "open"}
    assert order is not None
    assert f'name="letter_id" value="{fixed}"' not in after
    assert [a for a, _ in _audit(app, "dead_letter.replayed")] == [f"user:{admin.user_id}"] * 2
    assert sorted(e for _, e in _audit(app, "dead_letter.replayed")) == sorted([fixed, broken])


def test_dead_letters_are_for_admins(app: App, clock: FixedClock) -> None:
    letter = _letter(app, clock, "{}")
    for role in (Role.AGENT, Role.APPROVER):
        client = signed_in(app, console_person(app, clock, role=role))
        page = client.get(LETTERS)
        token_page = client.get(OUTBOX).text
        replay = client.post(
            f"{LETTERS}/replay",
            data={"csrf": csrf_of(token_page), "letter_id": letter},
        )
        assert (page.status_code, replay.status_code) == (403, 403), role
        assert "Dead letters" not in token_page.split("</nav>")[0], role


def _delivery(
    app: App, source: str, at: datetime, status: str, error: str | None = None, tenant: str = "acme"
) -> None:
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        uow.session.add(
            WebhookDelivery(
                tenant_id=tenant,
                source=source,
                delivery_id=f"d-{at.isoformat()}-{status}",
                body_sha256="0" * 64,
                received_at=at,
                headers={},
                body="{}",
                body_bytes=2,
                status=status,
                error=error,
                completed_at=at,
            )
        )
        uow.commit()


def test_sources_show_the_last_accepted_delivery_todays_count_and_the_last_refusal(
    app: App, clock: FixedClock
) -> None:
    now = clock.now()  # 12:00 UTC
    _delivery(app, "shopify", now - timedelta(days=1), "accepted")
    _delivery(app, "shopify", now - timedelta(hours=3), "accepted")
    _delivery(app, "shopify", now - timedelta(hours=2), "rejected", "no mapping for topic x/y")
    _delivery(app, "shopify", now - timedelta(hours=1), "ignored")
    _delivery(app, "stripe", now - timedelta(days=2), "accepted")  # quiet since
    _delivery(app, "zendesk", now - timedelta(days=30), "accepted")  # long gone
    _delivery(app, "shopify", now - timedelta(hours=1), "accepted", tenant="globex")
    admin = signed_in(app, console_person(app, clock, role=Role.ADMIN))
    agent = signed_in(app, console_person(app, clock, role=Role.AGENT))

    page = admin.get("/console/ops/sources").text
    refused = agent.get("/console/ops/sources")

    rows = {
        re.sub(r"<.*?>", "", cells[0]).split(" ")[0]: cells[1:]
        for cells in (
            re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row, re.S)
            for row in page.split("<tbody>")[1].split("</tbody>")[0].split("</tr>")
            if "<th" in row
        )
    }
    assert rows == {
        "shopify": [
            (now - timedelta(hours=3)).strftime("%Y-%m-%d %H:%M"),
            "3",
            (now - timedelta(hours=2)).strftime("%Y-%m-%d %H:%M") + ": no mapping for topic x/y",
        ],
        "stripe": [(now - timedelta(days=2)).strftime("%Y-%m-%d %H:%M"), "0", "-"],
    }
    assert refused.status_code == 403
