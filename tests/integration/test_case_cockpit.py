"""The case page as a reviewer's cockpit (#14 items 2-3): acting without JSON, applying a
recommendation once, an honest status per action, facts and timeline a person reads.

Every form is posted the way the page posts it (its field names, its CSRF token), and
every outcome is read back from the database, not from the page alone.
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient
from markupsafe import escape

from builders.access import late_case
from builders.cockpit import known_customer_case
from builders.console import console_person, csrf_of, post_form, signed_in
from orderops.bootstrap import App
from orderops.decide.actions import list_for_case
from orderops.domain.actions import ActionStatus
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import Case
from orderops.storage.tables.queues import Communication
from orderops.storage.uow import UnitOfWork
from orderops.writeback.claims import claim_due
from orderops.writeback.conflicts import send_back_for_review
from orderops.writeback.outcomes import Outcome, OutcomeKind, decide
from orderops.writeback.policy import DeliveryPolicy
from orderops.writeback.results import record_outcome
from orderops.writeback.sagas import on_message_settled

SYSTEMS = ["stripe", "shopify", "easypost", "wms", "crm", "zendesk", "payments", "oms"]


def _value(html: str, name: str) -> str | None:
    found = re.search(rf'name="{re.escape(name)}"[^>]*value="([^"]*)"', html)
    return None if found is None else found.group(1)


def _propose(client: TestClient, case_id: str, kind: str, **fields: str) -> Any:
    page = client.get(f"/console/cases/{case_id}?propose={kind}").text
    return client.post(
        f"/console/cases/{case_id}/actions",
        data={"csrf": csrf_of(page), "kind": kind, **fields},
    )


def _settle(app: App, kind: OutcomeKind, error: str | None = None) -> int:
    """Stand in for the writeback worker through its own services."""
    policy, now = DeliveryPolicy(), app.clock.now()
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        claimed = claim_due(
            uow,
            worker_id="cockpit",
            now=now,
            lease=timedelta(minutes=5),
            limit=50,
            systems=SYSTEMS,
            summarise=lambda _row: {},
        )
        uow.commit()
    for item in claimed:
        outcome = Outcome(kind=kind, result={"id": f"x_{item.idempotency_key}"}, error=error)
        decision = decide(outcome, attempts=item.tries, policy=policy, now=now, rand=0.5)
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            record_outcome(
                uow,
                item,
                outcome,
                decision,
                worker_id="cockpit",
                now=now,
                on_conflict=send_back_for_review,
                on_settled=on_message_settled,
            )
            uow.commit()
    return len(claimed)


def _state(html: str) -> list[str]:
    return [str(escape(s)) for s in re.findall(r'<p class="action-state"[^>]*>([^<]*)</p>', html)]


def test_the_form_is_generated_from_the_catalogue_and_starts_with_no_action(
    app: App, clock: FixedClock
) -> None:
    case_id = late_case(app, clock, total_minor=5000)
    maker = signed_in(app, console_person(app, clock, role=Role.APPROVER))
    page = maker.get(f"/console/cases/{case_id}").text
    assert 'name="params"' not in page
    assert "Parameters (JSON)" not in page
    assert re.search(r'<option value="" selected>Choose an action', page)
    assert 'name="f.reason"' not in page  # no kind chosen, no fields to submit

    refund = maker.get(f"/console/cases/{case_id}?propose=refund").text
    # the amount in major units, prefilled with what the ledger leaves, and capped by it
    assert _value(refund, "f.amount_minor") == "50.00"
    assert re.search(r'name="f.amount_minor"[^>]*max="50.00"', refund)
    assert "Still refundable after earlier remedies: 50.00 USD" in refund
    assert 'name="f.reason"' in refund
    reship = maker.get(f"/console/cases/{case_id}?propose=reship").text
    assert re.search(r'name="f.lines\.[^"]+" type="number"', reship)
    cancel = maker.get(f"/console/cases/{case_id}?propose=cancel_order").text
    for reason in ("customer", "fraud", "inventory", "declined", "other"):
        assert f'<option value="{reason}"' in cancel


def test_a_partial_refund_proposed_through_the_form_is_converted_to_minor_units(
    app: App, clock: FixedClock
) -> None:
    case_id = late_case(app, clock, total_minor=5000)
    maker = signed_in(app, console_person(app, clock, role=Role.APPROVER))
    answer = _propose(
        maker,
        case_id,
        "refund",
        **{"f.amount_minor": "30.50", "f.reason": "the parcel is a week late", "note": "most"},
    )
    assert answer.status_code == 303, answer.text
    (action,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert action.kind == "refund"
    assert action.params["amount_minor"] == 3050
    assert action.params["reason"] == "the parcel is a week late"
    assert action.status == ActionStatus.AWAITING_APPROVAL


def test_the_form_leaves_the_ledgers_room_and_a_refusal_keeps_the_input(
    app: App, clock: FixedClock
) -> None:
    case_id = late_case(app, clock, total_minor=5000)
    maker = signed_in(app, console_person(app, clock, role=Role.APPROVER, name="Mo Maker"))
    first = _propose(maker, case_id, "refund", **{"f.amount_minor": "30", "f.reason": "late"})
    assert first.status_code == 303, first.text
    (action,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)

    again = maker.get(f"/console/cases/{case_id}?propose=refund").text
    assert _value(again, "f.amount_minor") == "20.00"  # 50 captured, 30 committed
    assert re.search(r'name="f.amount_minor"[^>]*max="20.00"', again)

    refused = _propose(
        maker,
        case_id,
        "refund",
        **{"f.amount_minor": "25.00", "f.reason": "one more try", "note": "keep me"},
    )
    assert refused.status_code == 409
    (error,) = re.findall(r"Not proposed: ([^<]*)", refused.text)
    assert f"refund {action.id}" in error  # names the earlier remedy that holds the money
    assert _value(refused.text, "f.amount_minor") == "25.00"
    assert _value(refused.text, "f.reason") == "one more try"
    assert _value(refused.text, "note") == "keep me"
    assert len(list_for_case(app.sessions, tenant_id="acme", case_id=case_id)) == 1


def test_an_amount_over_what_was_captured_is_refused_with_the_input_kept(
    app: App, clock: FixedClock
) -> None:
    case_id = late_case(app, clock, total_minor=5000)
    maker = signed_in(app, console_person(app, clock, role=Role.APPROVER))
    refused = _propose(
        maker, case_id, "refund", **{"f.amount_minor": "60.00", "f.reason": "late parcel"}
    )
    assert refused.status_code == 422
    (error,) = re.findall(r"Not proposed: ([^<]*)", refused.text)
    assert "exceeds the 5000 still refundable" in error
    assert _value(refused.text, "f.amount_minor") == "60.00"
    assert list_for_case(app.sessions, tenant_id="acme", case_id=case_id) == []


def test_a_malformed_amount_is_refused_naming_the_field(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock, total_minor=5000)
    maker = signed_in(app, console_person(app, clock, role=Role.APPROVER))
    refused = _propose(
        maker, case_id, "refund", **{"f.amount_minor": "12.345", "f.reason": "late parcel"}
    )
    assert refused.status_code == 422
    assert "more decimals than USD allows" in refused.text
    assert _value(refused.text, "f.amount_minor") == "12.345"
    assert list_for_case(app.sessions, tenant_id="acme", case_id=case_id) == []


def test_applying_a_recommendation_twice_proposes_its_actions_and_draft_once(
    app: App, clock: FixedClock
) -> None:
    from orderops.recommend.service import recommendations_for

    case_id = late_case(app, clock)
    agent = signed_in(app, console_person(app, clock, role=Role.APPROVER))
    post_form(agent, f"/console/cases/{case_id}", f"/console/cases/{case_id}/recommend")
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (stored,) = recommendations_for(uow, case_id)
    wanted = stored["candidates"][0]["actions"]
    customer_drafts = [d for d in stored["drafts"] if d["audience"] == "customer"]
    apply_url = f"/console/cases/{case_id}/recommendations/{stored['id']}/apply"
    assert f'action="{apply_url}"' in agent.get(f"/console/cases/{case_id}").text

    viewer = signed_in(app, console_person(app, clock, role=Role.VIEWER))
    assert f'action="{apply_url}"' not in viewer.get(f"/console/cases/{case_id}").text
    refused = post_form(viewer, f"/console/cases/{case_id}", apply_url)
    assert refused.status_code == 403  # type: ignore[attr-defined]
    assert list_for_case(app.sessions, tenant_id="acme", case_id=case_id) == []

    first = post_form(agent, f"/console/cases/{case_id}", apply_url)
    second = post_form(agent, f"/console/cases/{case_id}", apply_url)
    assert first.status_code == second.status_code == 303  # type: ignore[attr-defined]

    actions = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert [a.kind for a in actions] == wanted
    assert all(a.status == ActionStatus.AWAITING_APPROVAL for a in actions)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        drafted = [
            m.body
            for m in uow.session.query(Communication).filter(Communication.case_id == case_id)
        ]
    assert drafted == [d["body"] for d in customer_drafts]
    page = agent.get(f"/console/cases/{case_id}").text
    assert f'action="{apply_url}"' not in page
    assert "Applied:" in page


def test_each_action_says_who_it_waits_for_and_where_it_went(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock, total_minor=150_000)
    maker = signed_in(app, console_person(app, clock, role=Role.APPROVER, name="Mo Maker"))
    checker = signed_in(app, console_person(app, clock, role=Role.APPROVER, name="Cy Checker"))
    finance = signed_in(
        app, console_person(app, clock, role=Role.FINANCE_APPROVER, name="Fi Nance")
    )
    # over 1,000: finance and two people (the default policy's two-person rule)
    _propose(maker, case_id, "refund", **{"f.amount_minor": "1200", "f.reason": "late parcel"})
    (action,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    (waiting,) = _state(maker.get(f"/console/cases/{case_id}").text)
    assert waiting == "waiting for 2 more approvers (finance)"

    post_form(checker, f"/console/cases/{case_id}", f"/console/actions/{action.id}/approve")
    (second,) = _state(maker.get(f"/console/cases/{case_id}").text)
    assert second == "waiting for a second approver (finance)"

    post_form(finance, f"/console/cases/{case_id}", f"/console/actions/{action.id}/approve")
    (queued,) = _state(maker.get(f"/console/cases/{case_id}").text)
    assert queued == "approved, queued for Stripe"

    assert _settle(app, OutcomeKind.DELIVERED) == 1
    (delivered,) = _state(maker.get(f"/console/cases/{case_id}").text)
    assert delivered == f"delivered to Stripe at {clock.now():%Y-%m-%d %H:%M}"


def test_a_failed_delivery_says_why(app: App, clock: FixedClock) -> None:
    case_id = late_case(app, clock, total_minor=5000)
    maker = signed_in(app, console_person(app, clock, role=Role.APPROVER, name="Mo Maker"))
    checker = signed_in(app, console_person(app, clock, role=Role.APPROVER, name="Cy Checker"))
    _propose(maker, case_id, "refund", **{"f.amount_minor": "30", "f.reason": "late parcel"})
    (action,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    post_form(checker, f"/console/cases/{case_id}", f"/console/actions/{action.id}/approve")
    assert _settle(app, OutcomeKind.FAILED, error="charge already refunded") == 1
    (failed,) = _state(maker.get(f"/console/cases/{case_id}").text)
    assert failed.startswith("failed: ")
    assert "charge already refunded" in failed


def test_facts_are_labelled_values_and_the_timeline_filters_by_kind(
    app: App, clock: FixedClock
) -> None:
    case_id = late_case(app, clock)
    agent = signed_in(app, console_person(app, clock, role=Role.AGENT, name="Ann Agent"))
    post_form(agent, f"/console/cases/{case_id}", f"/console/cases/{case_id}/claim")
    page = agent.get(f"/console/cases/{case_id}").text
    facts = page[page.index('id="facts-h"') :]
    facts = facts[: facts.index("</section>")]
    assert "{" not in facts  # no JSON
    assert "[" not in facts
    assert re.search(r"<dt>[A-Z][^<]*</dt><dd>[^<]+</dd>", facts)
    assert re.search(r'class="sla sla-[a-z_]+"[^>]*>(due in|overdue by) \d', page)

    payments = agent.get(f"/console/cases/{case_id}?timeline=payment").text
    timeline = payments[payments.index('id="tl-h"') :]
    assert 'class="t-payment"' in timeline
    assert 'class="t-case"' not in timeline
    assert 'class="t-case"' in page[page.index('id="tl-h"') :]
    assert "Ann Agent" in page[page.index('id="tl-h"') :]


def test_the_customer_stands_beside_the_order_with_links_into_each_provider(
    app: App, clock: FixedClock
) -> None:
    case_id, order_ref = known_customer_case(app, clock)
    agent = signed_in(app, console_person(app, clock, role=Role.AGENT))
    page = agent.get(f"/console/cases/{case_id}").text
    side = page[page.index('id="customer-h"') :]
    for shown in (
        "Ada Lovelace",
        "ada@example.com",
        "+15555550100",
        "<dd>gold</dd>",
        "72.00 USD",  # lifetime value: the one order
        "Order #1046",
        "Red mug",
        "Tea tin",
        "pi_3Ada",
        "1ZADA",
        "Memphis, TN",
        "Where are my mugs?",
        "the tracking has not moved",
    ):
        assert shown in side, shown
    assert f"https://ada-shop.myshopify.com/admin/orders/{order_ref}" in side
    assert "https://dashboard.stripe.com/payments/pi_3Ada" in side
    assert "https://adadesk.zendesk.com/agent/tickets/9911" in side
    assert "#1046" in page[: page.index("</h1>")]


def test_the_case_page_reads_a_fixed_number_of_queries_however_much_the_case_holds(
    app: App, clock: FixedClock
) -> None:
    """Adding actions, decisions and messages adds rows, not queries (no per-row reads)."""
    from sqlalchemy import event

    case_id = late_case(app, clock, total_minor=150_000)
    maker = signed_in(app, console_person(app, clock, role=Role.APPROVER, name="Mo Maker"))
    checker = signed_in(app, console_person(app, clock, role=Role.APPROVER, name="Cy Checker"))
    engine = app.sessions.kw["bind"]
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(str(args[2]))

    def queries() -> int:
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            assert maker.get(f"/console/cases/{case_id}").status_code == 200
        finally:
            event.remove(engine, "before_cursor_execute", count)
        return sum(1 for s in statements if s.lstrip().upper().startswith("SELECT"))

    _propose(maker, case_id, "refund", **{"f.amount_minor": "1200", "f.reason": "late parcel"})
    _propose(maker, case_id, "hold_fulfillment", **{"f.reason": "address_check"})
    one = queries()
    first_statements = list(statements)
    (refund,) = [
        a
        for a in list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
        if a.kind == "refund"
    ]
    # a first approval (two people, one of finance, over 1,000), two more proposals
    post_form(checker, f"/console/cases/{case_id}", f"/console/actions/{refund.id}/approve")
    _propose(maker, case_id, "support_handoff", **{"f.summary": "please call the customer"})
    _propose(maker, case_id, "release_fulfillment", **{"f.note": "address confirmed"})
    actions = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert len(actions) == 4
    assert [len(a.decisions) for a in actions if a.kind == "refund"] == [1]
    three = queries()
    extra = sorted((_shapes(statements) - _shapes(first_statements)).elements())
    assert three == one, f"{one} queries with two actions, {three} with four: {extra}"


def _shapes(statements: list[str]) -> Counter[str]:
    """Statements with their IN lists folded, so only a new query shows as a difference."""
    return Counter(re.sub(r"\(\?(, \?)*\)", "(?)", s) for s in statements)


def test_the_impact_says_when_the_cases_priority_is_not_the_impacts_own(
    app: App, clock: FixedClock
) -> None:
    case_id = late_case(app, clock)
    viewer = signed_in(app, console_person(app, clock, role=Role.VIEWER))

    def impact_line(priority: str) -> str:
        with UnitOfWork(app.sessions, tenant_id="acme") as uow:
            case = uow.session.get(Case, case_id)
            assert case is not None
            case.priority = priority
            uow.commit()
        page = viewer.get(f"/console/cases/{case_id}").text
        line = page[page.index('class="impact-score"') :]
        return re.sub(r"<[^>]+>", "", line[: line.index("</p>")])

    own = re.search(r"impact alone gives (P\d)", impact_line("P1"))
    assert own is not None
    assert impact_line("P1").endswith("; the case is P1, set by its routing rule or a reviewer")
    assert impact_line(own.group(1)).endswith(f"impact alone gives {own.group(1)}")
