"""Customer choices end to end, on both databases: a reviewer offers, the customer opens the
public page and picks, the pick is a proposed action that policy may approve; and every
link that is forged, edited, expired, replayed, withdrawn, another tenant's or another
case's is refused with a page that says so, changing nothing but the audit log."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.access import Person
from builders.choices import (
    auto_approve_choices,
    choice_case,
    keys,
    make_offer,
    page_path,
    token_of,
)
from builders.rate_limits import process
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.cases import ExceptionType
from orderops.domain.choice_links import ChoiceLink, ChoiceLinkRefused
from orderops.domain.clock import FixedClock
from orderops.domain.rate_limits import Quota
from orderops.evidence.service import default_store
from orderops.storage.rate_windows import DatabaseWindows
from orderops.storage.tables import Action, AuditRecord, CustomerChoiceOffer, OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.workflow.choice_answers import choose

SCRIPT = re.compile(r"<script", re.IGNORECASE)


def offer_row(app: App, offer_id: str, tenant: str = "acme") -> CustomerChoiceOffer:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        row = uow.session.scalar(
            select(CustomerChoiceOffer).where(CustomerChoiceOffer.id == offer_id)
        )
        assert row is not None
        uow.session.expunge(row)
        return row


def actions_on(app: App, case_id: str, tenant: str = "acme") -> list[Action]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = list(uow.session.scalars(select(Action).where(Action.case_id == case_id)))
        uow.session.expunge_all()
        return rows


def audited(app: App, case_id: str, tenant: str = "acme") -> list[tuple[str, dict[str, Any]]]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = uow.session.scalars(
            select(AuditRecord)
            .where(AuditRecord.entity_id == case_id, AuditRecord.action.like("case.customer_%"))
            .order_by(AuditRecord.seq)
        )
        return [(r.action.removeprefix("case."), r.data) for r in rows]


def refusals(app: App, case_id: str) -> list[str]:
    return [d["reason"] for kind, d in audited(app, case_id) if kind == "customer_choice_refused"]


def post_choice(http: TestClient, token: str, option: str, **headers: str) -> Any:
    return http.post(
        page_path(token),
        content=f"option={option}",
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
    )


# --- offering ---------------------------------------------------------------------------


def test_a_reviewer_offers_the_policys_options_with_amounts_from_the_order(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    case_id = choice_case(app, clock, total_minor=8000)

    answer = http.post(f"/v1/cases/{case_id}/choice-offers", headers=agent.headers)

    assert answer.status_code == 201, answer.text
    made = answer.json()
    assert [(o["option"], o["kind"], o["amount_minor"]) for o in made["options"]] == [
        ("wait", "accept_delay", 0),
        ("partial_refund", "refund", 800),  # 10% of the order, the default policy
        ("cancel", "cancel_order", 8000),
    ]
    assert made["status"] == "open"
    assert made["language"] == "en"
    assert datetime.fromisoformat(made["expires_at"]) == clock.now() + timedelta(hours=72)
    assert made["url"].startswith("http://127.0.0.1:8000/choice/")
    listed = http.get(f"/v1/cases/{case_id}/choice-offers", headers=agent.headers).json()
    assert [o["id"] for o in listed] == [made["id"]]
    assert "url" not in listed[0]
    assert [k for k, _ in audited(app, case_id)] == [
        "customer_choice_offered",
        "customer_choice_message",  # the link's message, drafted for a person to send
    ]


def test_offers_are_refused_where_they_do_not_belong(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    late = choice_case(app, clock, exception_type=ExceptionType.SHIPMENT_LATE)
    not_offerable = http.post(f"/v1/cases/{late}/choice-offers", headers=agent.headers)
    assert not_offerable.status_code == 422
    assert "no choice on a shipment_late case" in not_offerable.json()["detail"]

    theirs = choice_case(app, clock, tenant="globex")
    assert http.post(f"/v1/cases/{theirs}/choice-offers", headers=agent.headers).status_code == 404
    assert http.get(f"/v1/cases/{theirs}/choice-offers", headers=agent.headers).status_code == 404
    forged_id = http.post("/v1/cases/..%2F..%2Fx/choice-offers", headers=agent.headers)
    assert forged_id.status_code in (404, 422)
    assert actions_on(app, theirs, "globex") == []


def test_a_new_offer_withdraws_the_open_one_and_its_link_stops_working(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    case_id = choice_case(app, clock)
    first = make_offer(app, clock, agent, case_id)
    second = make_offer(app, clock, agent, case_id)

    old = http.get(page_path(token_of(first.url)))
    assert old.status_code == 410
    assert "newer link" in old.text
    assert http.get(page_path(token_of(second.url))).status_code == 200
    assert offer_row(app, first.offer.id).status == "withdrawn"
    assert refusals(app, case_id) == ["withdrawn"]


# --- the whole flow ---------------------------------------------------------------------


def test_the_customer_opens_the_page_chooses_to_wait_and_policy_approves_it(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    auto_approve_choices(app, clock)
    case_id = choice_case(app, clock)
    made = make_offer(app, clock, agent, case_id)
    token = token_of(made.url)

    page = http.get(page_path(token))

    assert page.status_code == 200
    assert "Your order #" in page.text
    assert "arrive later than we promised" in page.text
    assert "Wait for my order" in page.text
    assert "get $80.00 back" in page.text
    assert "1 &times; SKU-1" in page.text
    assert "@example.com" not in page.text  # the order and the options, nothing of the customer
    assert not SCRIPT.search(page.text)
    policy = page.headers["content-security-policy"]
    assert "default-src 'none'" in policy
    assert "script-src" not in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert http.get(page_path(token)).status_code == 200  # reading again changes nothing
    assert offer_row(app, made.offer.id).opened_at == clock.now()

    chosen = post_choice(http, token, "wait")

    assert chosen.status_code == 200
    assert "We have your choice and are on it" in chosen.text
    (action,) = actions_on(app, case_id)
    assert (action.kind, action.status, action.auto_rule) == (
        "accept_delay",
        "approved",
        "customer-waits",
    )
    assert action.proposed_by == f"customer-link:{made.offer.id}"
    assert action.evaluation is not None
    assert action.evaluation["inputs"]["customer_choice"] is True
    row = offer_row(app, made.offer.id)
    assert (row.status, row.chosen_option, row.action_id) == ("chosen", "wait", action.id)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        notes = uow.session.scalars(
            select(OutboxMessage.operation).where(OutboxMessage.action_id == action.id)
        ).all()
    assert notes == ["add_note"]
    assert [k for k, _ in audited(app, case_id)] == [
        "customer_choice_offered",
        "customer_choice_message",
        "customer_choice_opened",  # once, however often the page is read
        "customer_choice_made",
    ]


def test_a_choice_no_rule_approves_waits_for_a_reviewer_like_any_proposal(
    app: App, clock: FixedClock, agent: Person, approver: Person, http: TestClient
) -> None:
    auto_approve_choices(app, clock)
    # 10% of 800.00 is above what the default policy refunds by rule (25.00)
    case_id = choice_case(app, clock, total_minor=80_000)
    token = token_of(make_offer(app, clock, agent, case_id).url)

    chosen = post_choice(http, token, "partial_refund")

    assert chosen.status_code == 200
    assert "the shop will confirm it shortly" in chosen.text
    (action,) = actions_on(app, case_id)
    assert (action.kind, action.status, action.params["amount_minor"]) == (
        "refund",
        "awaiting_approval",
        8000,
    )
    approved = http.post(
        f"/v1/actions/{action.id}/approve", json={"reason": "fine"}, headers=approver.headers
    )
    assert approved.status_code == 200
    assert approved.json()["status"] == "approved"


def test_the_customers_rule_does_not_approve_the_same_action_proposed_by_a_person(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    auto_approve_choices(app, clock, cancel_up_to_minor=10_000)
    mine = choice_case(app, clock)
    post_choice(http, token_of(make_offer(app, clock, agent, mine).url), "cancel")
    theirs = choice_case(app, clock)
    by_hand = http.post(
        f"/v1/cases/{theirs}/actions",
        json={"kind": "cancel_order", "params": {"reason": "customer"}},
        headers=agent.headers,
    )

    assert [(a.status, a.auto_rule) for a in actions_on(app, mine)] == [
        ("approved", "customer-cancels")
    ]
    assert by_hand.json()["status"] == "awaiting_approval"


def test_a_cancel_above_the_rules_limit_waits_for_a_person(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    auto_approve_choices(app, clock, cancel_up_to_minor=5_000)
    case_id = choice_case(app, clock, total_minor=8000)
    post_choice(http, token_of(make_offer(app, clock, agent, case_id).url), "cancel")
    assert [a.status for a in actions_on(app, case_id)] == ["awaiting_approval"]


# --- refused links ----------------------------------------------------------------------


def test_a_second_use_is_refused_and_changes_nothing(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    case_id = choice_case(app, clock)
    token = token_of(make_offer(app, clock, agent, case_id).url)
    assert post_choice(http, token, "wait").status_code == 200

    again = post_choice(http, token, "cancel")
    reopened = http.get(page_path(token))

    assert again.status_code == 409
    assert "already made" in again.text
    assert reopened.status_code == 409
    assert [a.kind for a in actions_on(app, case_id)] == ["accept_delay"]
    assert refusals(app, case_id) == ["used", "used"]


def test_two_uses_at_once_propose_one_action(app: App, clock: FixedClock, agent: Person) -> None:
    case_id = choice_case(app, clock)
    link = keys(app).verify(token_of(make_offer(app, clock, agent, case_id).url))

    def use(option: str) -> str:
        try:
            made = choose(
                app.sessions,
                link=link,
                option=option,
                clock=clock,
                evidence=default_store(app.settings),
            )
        except ChoiceLinkRefused as exc:
            return exc.reason
        return made.action_status

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(use, ["wait", "cancel"]))

    assert outcomes[1] == "used"
    assert outcomes[0] in ("approved", "awaiting_approval")
    assert len(actions_on(app, case_id)) == 1


def test_forged_and_edited_links_are_refused_and_change_nothing(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    case_id = choice_case(app, clock)
    made = make_offer(app, clock, agent, case_id)
    token = token_of(made.url)
    payload, mac = token.split(".")
    edited = payload[:-2] + ("AA" if payload[-2:] != "AA" else "BB") + "." + mac
    other_secret = "x" * 40

    from orderops.domain.choice_links import ChoiceLinkKeys

    resigned = ChoiceLinkKeys(other_secret).sign(keys(app).verify(token))
    for bad in ("nonsense", edited, resigned, token + "x", "a" * 2000):
        shown = http.get(page_path(bad))
        posted = post_choice(http, bad, "cancel")
        assert (shown.status_code, posted.status_code) == (404, 404), bad
        assert "not one the shop sent" in shown.text
    assert actions_on(app, case_id) == []
    row = offer_row(app, made.offer.id)
    assert (row.status, row.opened_at) == ("open", None)


def test_an_expired_link_is_refused_and_the_attempt_recorded(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    case_id = choice_case(app, clock)
    token = token_of(make_offer(app, clock, agent, case_id).url)
    clock.advance(timedelta(hours=72))

    assert http.get(page_path(token)).status_code == 410
    refused = post_choice(http, token, "wait")

    assert refused.status_code == 410
    assert "expired" in refused.text
    assert actions_on(app, case_id) == []
    assert refusals(app, case_id) == ["expired", "expired"]


def test_another_tenants_link_cannot_reach_this_tenants_offer(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    case_id = choice_case(app, clock)
    made = make_offer(app, clock, agent, case_id)
    link = keys(app).verify(token_of(made.url))
    as_globex = ChoiceLink(
        tenant_id="globex", case_id=link.case_id, offer_id=link.offer_id, expires_at=link.expires_at
    )
    # even signed with globex's own key (as if that key leaked), acme's offer is not found
    signed_for_globex = keys(app).sign(as_globex)

    refused = post_choice(http, signed_for_globex, "cancel")

    assert refused.status_code == 404
    assert actions_on(app, case_id) == []
    assert offer_row(app, made.offer.id).status == "open"


def test_a_link_naming_another_case_is_refused_and_recorded_on_the_offers_case(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    case_id = choice_case(app, clock)
    other = choice_case(app, clock)
    made = make_offer(app, clock, agent, case_id)
    link = keys(app).verify(token_of(made.url))
    wrong = keys(app).sign(
        ChoiceLink(
            tenant_id="acme", case_id=other, offer_id=link.offer_id, expires_at=link.expires_at
        )
    )

    refused = post_choice(http, wrong, "cancel")

    assert refused.status_code == 404
    assert actions_on(app, case_id) == []
    assert actions_on(app, other) == []
    assert refusals(app, case_id) == ["wrong_case"]


def test_an_option_not_offered_is_refused_and_the_link_stays_usable(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    case_id = choice_case(app, clock)
    token = token_of(make_offer(app, clock, agent, case_id).url)

    for bad in ("refund", "substitute", "", "wait%00"):
        assert post_choice(http, token, bad).status_code == 400, bad

    assert actions_on(app, case_id) == []
    assert post_choice(http, token, "wait").status_code == 200
    assert refusals(app, case_id) == ["unknown_option"] * 4


def test_a_post_from_another_site_is_refused(
    app: App, clock: FixedClock, agent: Person, http: TestClient
) -> None:
    case_id = choice_case(app, clock)
    token = token_of(make_offer(app, clock, agent, case_id).url)

    refused = post_choice(http, token, "cancel", **{"Sec-Fetch-Site": "cross-site"})

    assert refused.status_code == 403
    assert actions_on(app, case_id) == []


def test_a_choice_the_order_no_longer_takes_is_refused_and_another_may_be_made(
    app: App, clock: FixedClock, agent: Person, finance: Person, http: TestClient
) -> None:
    case_id = choice_case(app, clock, total_minor=8000)
    token = token_of(make_offer(app, clock, agent, case_id).url)
    # meanwhile the desk refunds the whole order on the case
    full = http.post(
        f"/v1/cases/{case_id}/actions",
        json={"kind": "refund", "params": {"reason": "goodwill"}},
        headers=agent.headers,
    )
    assert full.status_code == 201, full.text

    refused = post_choice(http, token, "partial_refund")

    assert refused.status_code == 409
    assert "cannot carry out that choice" in refused.text
    assert [a.kind for a in actions_on(app, case_id)] == ["refund"]
    assert refusals(app, case_id) == ["not_possible"]
    assert post_choice(http, token, "wait").status_code == 200


def test_one_link_is_held_to_a_keys_rate_limit_and_others_are_not(
    app: App, clock: FixedClock, agent: Person
) -> None:
    token = token_of(make_offer(app, clock, agent, choice_case(app, clock)).url)
    other = token_of(make_offer(app, clock, agent, choice_case(app, clock)).url)
    api = create_app(app)
    api.state.rate_limiter = process(
        DatabaseWindows(app.sessions), clock, api_key=Quota(amount=2, seconds=60)
    )

    with TestClient(api) as limited:
        answers = [limited.get(page_path(token)) for _ in range(3)]
        elsewhere = limited.get(page_path(other))
        forged = limited.get(page_path("forged.token"))

    assert [a.status_code for a in answers] == [200, 200, 429]
    assert int(answers[2].headers["retry-after"]) > 0
    assert elsewhere.status_code == 200
    assert forged.status_code == 404  # refused before any limit is looked at
