"""A reviewer's whole day in a real headless Chromium, on a served desk whose tenant is
connected to the vendor sandboxes over HTTP.

Reviewer A signs in, finds the case by searching the order number, reads it and proposes
a refund beyond what one person may do alone; reviewer B signs in in a second browser
context, finds it waiting and approves it; the writeback worker delivers the refund to
the Stripe sandbox and A's case page shows it delivered, the case resolved by it (the desk
closes a case whose last action is executed; A is offered only to reopen it); the audit
page lists each step with the person (or the worker) who took it. A screenshot of each step lands in
artifacts/screenshots/ (git-ignored; CI keeps it).

The fraud analyst's part of the day: a refund on an order the fraud signal scores high
waits for the fraud desk; the reviewer who may approve refunds is not offered it, and the
analyst approves it from their own browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest

import builders.browser as shared
from builders.access import late_case
from builders.browser import shot, sign_in
from builders.console import console_person
from builders.events import envelope
from builders.writeback import (
    Sandboxes,
    connect_sandboxes,
    drain,
    fast_runtime,
    served_sandboxes,
    stored_accounts,
)
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.sweeps import sweep_late_orders

browser = shared.browser  # the shared fixtures
served = shared.served

ORDER_REF = "5480114161228"
NUMBER = "1046"
TOTAL = 12_000
DELIVERED_WITHIN_MS = 15_000


@pytest.fixture(scope="module")
def vendors() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


def _late_paid_order(app: App, clock: FixedClock, stripe_intent: str) -> str:
    """Order #1046, paid by a Stripe sandbox payment intent, past its promise: the sweep
    opens its shipment_late case, whose id is returned."""
    placed = clock.now() - timedelta(days=10)
    items = [
        envelope(
            "order.placed",
            {
                "order_ref": ORDER_REF,
                "number": NUMBER,
                "currency": "USD",
                "total_minor": TOTAL,
                "placed_at": placed.isoformat(),
                "promised_by": (placed + timedelta(days=3)).isoformat(),
                "customer": {"customer_ref": "cust-ada", "email": "ada@example.com"},
                "lines": [{"sku": "MUG-1", "quantity": 2, "unit_price_minor": TOTAL // 2}],
            },
            at=placed,
            subject=ORDER_REF,
        ),
        envelope(
            "payment.updated",
            {
                "payment_ref": stripe_intent,
                "order_ref": ORDER_REF,
                "provider": "stripe",
                "status": "captured",
                "amount_minor": TOTAL,
                "currency": "USD",
            },
            at=placed + timedelta(hours=1),
            subject=ORDER_REF,
            source="test://stripe",
        ),
    ]
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    assert report.rejected == []
    opened = [
        c.case_id
        for c in sweep_late_orders(app.sessions, tenant_id="acme", clock=clock)
        if c.order_ref == ORDER_REF and c.exception_type == "shipment_late"
    ]
    assert len(opened) == 1
    return opened[0]


def test_two_reviewers_take_a_refund_from_search_to_delivered_writeback_and_resolution(
    browser: Any, served: tuple[App, FixedClock, str], vendors: Sandboxes
) -> None:
    app, clock, base = served
    vendors.renew()
    connect_sandboxes(app, clock, vendors, tenant="acme")
    worker = fast_runtime(stored_accounts(app), clock)
    intent = vendors.stripe.add_payment_intent(amount=TOTAL, status="succeeded")
    case_id = _late_paid_order(app, clock, intent)
    ann = console_person(app, clock, role=Role.AGENT, name="Ann Agent")
    bea = console_person(app, clock, role=Role.APPROVER, name="Bea Approver")
    case_url = f"{base}/console/cases/{case_id}"

    # A: sign in, find the case by the order number, read it.
    a = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in(a, base, ann)
    a.locator("#global-q").fill(f"#{NUMBER}")
    with a.expect_navigation():
        a.locator("#global-q").press("Enter")
    found = a.locator("#search-cases a[data-open]")
    assert set(found.all_inner_texts()) == {f"#{NUMBER}"}  # the order's cases, by its name
    shot(a, "day-01-search")
    with a.expect_navigation():
        a.locator(f'#search-cases a[href="/console/cases/{case_id}"]').click()
    assert a.url == case_url
    assert f"#{NUMBER}" in a.locator("h1").inner_text()
    shot(a, "day-02-case")

    # A proposes 40.00: above the 25.00 one person may refund alone, so it waits for B.
    with a.expect_navigation():
        a.get_by_label("Action", exact=True).select_option("refund")
    a.get_by_label("Amount (USD)").fill("40.00")
    a.locator("#p-reason").fill("parcel a week late")
    with a.expect_navigation():
        a.get_by_role("button", name="Propose", exact=True).click()
    assert "Proposed refund." in a.content()
    state = a.locator(".action-state").first
    assert "waiting" in state.inner_text().lower()
    assert a.get_by_role("button", name="Approve").count() == 0  # not by its proposer
    shot(a, "day-03-proposed")

    # B, in a browser of their own: finds it waiting in the queue and approves it.
    b = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in(b, base, bea)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        queue = case.queue
    b.goto(f"{base}/console/queues/{queue}")
    row = b.locator("tr", has=b.locator(f'a[href="/console/cases/{case_id}"]'))
    assert "awaiting approval" in row.inner_text()
    shot(b, "day-04-waiting")
    with b.expect_navigation():
        row.locator("a[data-open]").click()
    with b.expect_navigation():
        b.get_by_role("button", name="Approve").click()
    assert "Approved refund." in b.content()
    shot(b, "day-05-approved")

    # The worker delivers it to the Stripe sandbox; A's page shows it delivered.
    drain(app, worker, clock)
    worker.close()
    (refund,) = vendors.stripe.refunds_for(intent)
    assert refund["amount"] == 4000
    a.goto(case_url)
    a.locator(".step.w-delivered").first.wait_for(timeout=DELIVERED_WITHIN_MS)
    assert "stripe.refund" in a.locator(".step.w-delivered").first.inner_text()
    shot(a, "day-06-delivered")

    # The delivered refund was the case's last open work: the desk resolved it, and A's
    # page now offers only to reopen it, nothing to propose.
    assert a.locator(".case-head .status").first.inner_text() == "resolved"
    assert a.locator("#move option").all_inner_texts() == ["reopen"]
    assert a.locator("#propose-kind").count() == 0
    shot(a, "day-07-resolved")

    # The audit page names who took each step.
    b.goto(f"{base}/console/audit?case={case_id}")
    by_action: dict[str, set[str]] = {}
    for line in b.locator("table.grid tbody tr").all_inner_texts():
        cells = line.split("\t")
        if len(cells) >= 4:
            by_action.setdefault(cells[3].strip(), set()).add(cells[2].split(" user:")[0].strip())
    assert by_action["case.action_proposed"] == {"Ann Agent"}, by_action
    assert by_action["case.action_approved"] == {"Bea Approver"}, by_action
    assert by_action["writeback.delivered"] == {"writeback"}, by_action
    assert by_action["case.resolved"] == {"writeback"}, by_action
    shot(b, "day-08-audit")
    a.context.close()
    b.context.close()


def test_a_refund_on_a_high_fraud_score_waits_for_the_fraud_analyst_not_the_reviewer(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    app, clock, base = served
    case_id = late_case(app, clock, total_minor=5_000, fraud_score=90)
    ann = console_person(app, clock, role=Role.AGENT, name="Ann Agent")
    bea = console_person(app, clock, role=Role.APPROVER, name="Bea Approver")
    fred = console_person(app, clock, role=Role.FRAUD_ANALYST, name="Fred Fraud")
    case_url = f"{base}/console/cases/{case_id}"

    a = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in(a, base, ann)
    a.goto(case_url)
    with a.expect_navigation():
        a.get_by_label("Action", exact=True).select_option("refund")
    a.get_by_label("Amount (USD)").fill("10.00")
    a.locator("#p-reason").fill("parcel late")
    with a.expect_navigation():
        a.get_by_role("button", name="Propose", exact=True).click()
    assert "fraud" in a.locator(".action-state").first.inner_text().lower()
    shot(a, "day-09-fraud-waiting")

    # B may approve refunds, not fraud reviews: the page says so, and approving it in bulk
    # from the fraud queue is refused, saying why.
    b = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in(b, base, bea)
    b.goto(case_url)
    assert b.get_by_role("button", name="Approve").count() == 0  # not a fraud reviewer
    assert "still needs approval by: fraud (admin, fraud_analyst)" in b.content()
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        queue = getattr(uow.cases.get(case_id), "queue", None)
    b.goto(f"{base}/console/queues/{queue}")
    b.locator(f"#tick-{case_id}").check()
    b.get_by_role("button", name="Approve what awaits on ticked").click()
    b.wait_for_url(f"{base}/console/bulk")
    assert "0 done, 1 refused" in b.locator("h1").inner_text()
    assert "fraud" in b.locator("#bulk-refused").inner_text()
    shot(b, "day-10-bulk-beyond-policy")

    f = browser.new_context(viewport={"width": 1360, "height": 900}).new_page()
    sign_in(f, base, fred)
    f.goto(case_url)
    with f.expect_navigation():
        f.get_by_role("button", name="Approve").click()
    assert "Approved refund." in f.content()
    shot(f, "day-11-fraud-approved")
    for page in (a, b, f):
        page.context.close()
