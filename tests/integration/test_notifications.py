"""Proactive notices: per the tenant's rule, a predicted delay, a stock-out or an address
problem gets a drafted, fact-checked message to the customer, sent only when an explicit
rule auto-approves the topic. One voice per customer: a topic is not told twice within the
window across orders, and two proactive messages keep the quiet period apart. The draft
is in the customer's language, or says why not. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from builders.access import Person, person
from builders.events import envelope
from builders.messages import case_for, customer, messages, policy, timeline
from orderops.bootstrap import App
from orderops.commands import notifications as notifications_cli
from orderops.domain.clock import FixedClock
from orderops.domain.notifications import Topic
from orderops.domain.roles import Role
from orderops.recommend.settings import RecommendSettings
from orderops.storage.tables import (
    AuditRecord,
    Customer,
    CustomerNotice,
    OutboxMessage,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.notifications import notify_customers
from orderops.workflow.pipeline import process_pending


def run(app: App, clock: FixedClock, **kw: Any) -> dict[str, int]:
    return notify_customers(app.sessions, tenant_id="acme", clock=clock, **kw).outcomes


def notice(app: App, case_id: str) -> CustomerNotice | None:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        found = uow.session.scalar(select(CustomerNotice).where(CustomerNotice.case_id == case_id))
        uow.session.expunge_all()  # read after the unit of work ends
        return found


def outbox(app: App) -> list[tuple[str, str]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.execute(select(OutboxMessage.operation, OutboxMessage.payload))
        return [(r.operation, r.payload.get("requester_email")) for r in rows]


def test_without_a_policy_nothing_is_drafted(app: App, clock: FixedClock) -> None:
    case_id = case_for(app, clock, customer(app, clock), "shipment_delay_predicted")

    assert run(app, clock) == {}
    assert notice(app, case_id) is None
    assert messages(app, case_id) == []


def test_a_drafted_topic_leaves_a_checked_draft_for_a_person(app: App, clock: FixedClock) -> None:
    policy(app, clock, topics=["delay"])
    case_id = case_for(app, clock, customer(app, clock, locale="en-GB"), "shipment_delay_predicted")
    other = case_for(app, clock, customer(app, clock), "payment_failed")  # no topic

    outcomes = run(app, clock)
    second = run(app, clock)

    (message,) = messages(app, case_id)
    found = notice(app, case_id)
    assert outcomes == {"drafted": 1}
    assert second == {}  # once per case
    assert message.status == "drafted"
    assert "running later than we planned" in message.body
    assert (message.subject or "").startswith("An update on your order")
    assert found is not None
    assert found.language == "en"
    assert found.reason == "no rule sends delay notices; a person approves it"
    assert outbox(app) == []
    assert notice(app, other) is None
    assert ("notice_drafted", f"Customer notice about delay drafted: {found.reason}") in timeline(
        app, case_id
    )


def test_an_auto_approved_topic_is_sent_by_the_rule(app: App, clock: FixedClock) -> None:
    policy(app, clock, topics=["address", "delay"], auto_approve=["address"])
    who = customer(app, clock, locale="es-MX")
    case_id = case_for(app, clock, who, "address_problem")

    outcomes = run(app, clock)

    (message,) = messages(app, case_id)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        email = uow.session.get(Customer, who)
        uow.session.expunge_all()
        actors = list(
            uow.session.scalars(
                select(AuditRecord.actor).where(AuditRecord.action == "case.communication_approved")
            )
        )
    assert outcomes == {"sent": 1}
    assert message.status == "sending"
    assert "No hemos podido confirmar la dirección" in message.body  # es-MX -> es
    assert email is not None
    assert outbox(app) == [("create_ticket", email.email)]
    assert actors == ["rule:notifications.address"]


def test_one_voice_the_same_customer_is_not_told_the_same_thing_twice(
    app: App, clock: FixedClock
) -> None:
    policy(app, clock, topics=["delay"], auto_approve=["delay"], repeat_hours=72)
    who = customer(app, clock)
    first = case_for(app, clock, who, "shipment_delay_predicted")
    run(app, clock)
    clock.advance(timedelta(hours=2))
    second = case_for(app, clock, who, "carrier_exception")  # another order, same topic
    stranger = case_for(app, clock, customer(app, clock), "carrier_exception")

    outcomes = run(app, clock)

    suppressed = notice(app, second)
    assert outcomes == {"suppressed": 1, "sent": 1}
    assert suppressed is not None
    assert suppressed.outcome == "suppressed"
    assert suppressed.communication_id is None
    assert messages(app, second) == []
    assert f"case {first}" in (suppressed.reason or "")
    assert any(
        kind == "notice_suppressed" and "one voice" in s for kind, s in timeline(app, second)
    )
    assert len(messages(app, stranger)) == 1
    assert len(outbox(app)) == 2


def test_the_quiet_period_holds_a_second_topic_until_it_ends(app: App, clock: FixedClock) -> None:
    policy(
        app,
        clock,
        topics=["delay", "stock_out"],
        auto_approve=["delay", "stock_out"],
        quiet_hours=24,
    )
    who = customer(app, clock)
    case_for(app, clock, who, "shipment_delay_predicted")
    run(app, clock)
    clock.advance(timedelta(hours=1))
    stock = case_for(app, clock, who, "inventory_shortfall")

    held = run(app, clock)
    waiting = notice(app, stock)
    clock.advance(timedelta(hours=12))
    still = notify_customers(app.sessions, tenant_id="acme", clock=clock).released
    clock.advance(timedelta(hours=12))
    released = notify_customers(app.sessions, tenant_id="acme", clock=clock).released

    assert held == {"quiet": 1}
    assert waiting is not None
    assert waiting.not_before == clock.now() - timedelta(hours=1)
    assert still == 0
    assert released == 1
    (message,) = messages(app, stock)
    assert message.status == "sending"
    assert (notice(app, stock) or waiting).outcome == "sent"
    assert len(outbox(app)) == 2


@pytest.mark.parametrize(
    ("locale", "language", "note"),
    [
        ("de-AT", "de", None),
        ("fr-FR", "en", "no templates for the customer's locale 'fr-FR'; written in en"),
        (None, "en", "no locale on the customer record; written in en (ship-to country)"),
    ],
)
def test_the_draft_is_in_the_customers_language_or_says_why_not(
    app: App, clock: FixedClock, locale: str | None, language: str, note: str | None
) -> None:
    policy(app, clock, topics=["stock_out"])
    case_id = case_for(app, clock, customer(app, clock, locale=locale), "inventory_shortfall")

    run(app, clock)

    found = notice(app, case_id)
    assert found is not None
    assert found.language == language
    if note is not None:
        assert note in (found.reason or "")
    else:
        assert found.reason == "no rule sends stock_out notices; a person approves it"


def test_a_draft_failing_the_fact_check_is_blocked_and_never_sent(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    policy(app, clock, topics=["delay"], auto_approve=["delay"])
    (tmp_path / "acme" / "en").mkdir(parents=True)
    (tmp_path / "acme" / "en" / "notice.j2").write_text(
        "Order {{ order }} is late; we refunded $12.34 already.\n"
    )
    case_id = case_for(app, clock, customer(app, clock, locale="en"), "shipment_late")

    outcomes = run(app, clock, settings=RecommendSettings(templates_dir=tmp_path))

    found = notice(app, case_id)
    assert outcomes == {"blocked": 1}
    assert found is not None
    assert "fails" not in (found.reason or "x")
    assert "failed the fact check" in (found.reason or "")
    assert "$12.34" in (found.reason or "")
    assert messages(app, case_id) == []
    assert outbox(app) == []


def test_a_broken_tenant_template_keeps_nothing_and_the_next_pass_tries_again(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    policy(app, clock, topics=["address"], auto_approve=["address"])
    (tmp_path / "acme" / "en").mkdir(parents=True)
    template = tmp_path / "acme" / "en" / "notice.j2"
    template.write_text("Order {{ order }}: {{ no_such_value }}\n")
    settings = RecommendSettings(templates_dir=tmp_path)
    case_id = case_for(app, clock, customer(app, clock, locale="en"), "address_problem")

    broken = notify_customers(app.sessions, tenant_id="acme", clock=clock, settings=settings)
    kept = (notice(app, case_id), messages(app, case_id), timeline(app, case_id))
    template.write_text("Please reply with the address for order {{ order }}.\n")
    fixed = run(app, clock, settings=settings)

    assert broken.failed == 1
    assert broken.outcomes == {}
    assert kept == (None, [], [])
    assert fixed == {"sent": 1}


def test_the_customers_locale_comes_from_the_store_and_keeps_when_a_later_event_lacks_it(
    app: App, clock: FixedClock
) -> None:
    def upsert(**extra: Any) -> None:
        data = {"customer_ref": "cu-9", "email": "ana@example.com", **extra}
        item = envelope("customer.upserted", data, at=clock.now(), subject=None)
        report = ingest_items(
            app.sessions, tenant_id="acme", items=[item], channel="test", clock=clock
        )
        assert report.accepted == 1
        process_pending(app.sessions, tenant_id="acme", clock=clock)
        clock.advance(timedelta(minutes=1))

    def locale() -> str | None:
        with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
            return uow.session.scalar(
                select(Customer.locale).where(Customer.email == "ana@example.com")
            )

    upsert(locale="es-MX")
    first = locale()
    upsert()

    assert first == "es-MX"
    assert locale() == "es-MX"


# -- the rule over HTTP and from the CLI ----------------------------------------------


def test_the_policy_is_set_over_http_audited_and_kept_per_tenant(
    app: App, clock: FixedClock, http: TestClient, admin: Person, agent: Person
) -> None:
    url = "/v1/admin/notification-policy"
    before = http.get(url, headers=admin.headers)
    put = http.put(
        url, json={"topics": ["delay", "address"], "auto_approve": ["delay"]}, headers=admin.headers
    )
    stranger = person(app, clock, tenant="globex", role=Role.ADMIN, name="gus-globex")
    theirs = http.get(url, headers=stranger.headers)
    by_agent = http.put(url, json={"topics": []}, headers=agent.headers)
    read_by_agent = http.get(url, headers=agent.headers)

    assert before.json() == {
        "topics": [],
        "auto_approve": [],
        "quiet_hours": 24,
        "repeat_hours": 72,
        "version": 0,
    }
    assert put.status_code == 200, put.text
    assert put.json()["version"] == 1
    assert put.json()["topics"] == ["address", "delay"]
    assert theirs.json()["version"] == 0
    assert by_agent.status_code == 403
    assert read_by_agent.status_code == 403
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (record,) = uow.session.scalars(
            select(AuditRecord).where(AuditRecord.action == "notifications.policy_set")
        )
        data = record.data
    assert data["before"] is None
    assert data["after"]["auto_approve"] == ["delay"]


@pytest.mark.parametrize(
    "body",
    [
        {"topics": ["weather"]},
        {"topics": ["delay"], "auto_approve": ["address"]},  # a rule for an undrafted topic
        {"topics": ["delay"], "quiet_hours": -1},
        {"topics": ["delay"], "repeat_hours": 0},
        {"topics": ["delay"], "send_everything": True},
        {"topics": "delay"},
        [1, 2],
    ],
)
def test_a_malformed_policy_is_refused_and_changes_nothing(
    app: App, http: TestClient, admin: Person, body: Any
) -> None:
    url = "/v1/admin/notification-policy"

    answer = http.put(url, json=body, headers=admin.headers)

    assert answer.status_code == 422, answer.text
    assert http.get(url, headers=admin.headers).json()["version"] == 0


def test_the_cli_sets_and_shows_the_policy(app: App, clock: FixedClock) -> None:
    import typer

    cli = typer.Typer()
    notifications_cli.register(cli, make_app=lambda: _unclosed(app))
    runner = CliRunner()

    set_ = runner.invoke(
        cli, ["notifications", "policy", "set", "-t", "acme", "--topics", "delay,stock_out"]
    )
    bad = runner.invoke(
        cli, ["notifications", "policy", "set", "-t", "acme", "--auto-approve", "address"]
    )
    shown = runner.invoke(cli, ["notifications", "policy", "show", "-t", "acme"])

    assert set_.exit_code == 0, set_.output
    assert bad.exit_code == 1
    assert "auto_approve names topics that are not drafted:" in bad.output
    assert "address (add them to topics)" in bad.output
    assert json.loads(shown.output) == {
        "topics": [Topic.DELAY, Topic.STOCK_OUT],
        "auto_approve": [],
        "quiet_hours": 24,
        "repeat_hours": 72,
        "version": 1,
    }


class _unclosed:
    """The test's app, handed to a command that closes what it is given."""

    def __init__(self, app: App) -> None:
        self._app = app

    def __getattr__(self, name: str) -> Any:
        return getattr(self._app, name)

    def close(self) -> None:
        return None
