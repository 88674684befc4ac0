"""What detection reads on a real database: the tenant's policy (handling deadlines, the
decline grace, the chasing window), the store's refunds and the fulfillment holds.

Each number that changes a verdict is the tenant's own: two tenants on one database,
one with a policy and one without, see the same events judged differently.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from builders.events import cancelled, envelope, order_placed, payment
from orderops.bootstrap import App
from orderops.cases.cases import CaseEvent
from orderops.domain.clock import FixedClock
from orderops.domain.facts import OrderSnapshot
from orderops.domain.policy import parse_policy
from orderops.domain.statuses import FinancialStatus
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file, store_policy
from orderops.storage.repositories.cases import CaseFilter
from orderops.storage.tables import Case
from orderops.storage.tables.resolve import FulfillmentHold, OrderRefund
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.detection import snapshot
from orderops.workflow.sweeps import sweep

MONDAY = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)  # London is on UTC in November
HANDLING_DUE = datetime(2026, 11, 17, 23, 59, 59, tzinfo=UTC)  # standard: 1 handling day
MIN = timedelta(minutes=1)
H = timedelta(hours=1)


def load_policy(app: App, clock: FixedClock, tenant: str, **detectors: Any) -> None:
    document = load_policy_file(EXAMPLE_POLICY).model_dump(mode="json")
    document["detectors"] = detectors
    store_policy(
        app.sessions, tenant_id=tenant, policy=parse_policy(document), actor="ops", clock=clock
    )


def ingest(app: App, clock: FixedClock, tenant: str, *items: dict[str, Any]) -> list[CaseEvent]:
    report = ingest_items(
        app.sessions, tenant_id=tenant, items=list(items), channel="test", clock=clock
    )
    assert report.rejected == [], [r.reason for r in report.rejected]
    return report.changes


def cases(app: App, tenant: str, kind: str) -> dict[str, Case]:
    """Order ref -> its case of ``kind``."""
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        page = uow.cases.search(CaseFilter(exception_type=[kind]), limit=1000, offset=0)
        uow.session.expunge_all()
        return {c.order_ref: c for c in page.items}


def facts_of(app: App, tenant: str, order_ref: str = "o-1") -> OrderSnapshot:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        order = uow.commerce.order_by_ref(order_ref)
        assert order is not None
        return snapshot(uow, order)


def ticket(ref: str, *, at: datetime, order_ref: str = "o-1") -> dict[str, Any]:
    data = {"ticket_ref": ref, "source": "zendesk", "order_ref": order_ref, "status": "open"}
    return envelope("ticket.updated", data, at=at, subject=order_ref, source="test://zendesk")


def shipped_by(order_ref: str, service_level: str) -> dict[str, Any]:
    """An order placed on Monday whose shipping line is ``service_level``."""
    event = order_placed(order_ref, at=MONDAY)
    event["data"]["service_level"] = service_level
    return event


def paid_unshipped(app: App, clock: FixedClock, tenant: str, **order: Any) -> None:
    clock.set(MONDAY + 2 * MIN)
    ingest(
        app,
        clock,
        tenant,
        order_placed(at=MONDAY, **order),
        payment(status="authorized", at=MONDAY + MIN, payment_ref=f"pi_{tenant}"),
    )


# --- stuck: the handling deadline of the policy's window -----------------------------


def test_a_paid_order_is_stuck_at_its_policy_handling_deadline(app: App, clock: FixedClock) -> None:
    load_policy(app, clock, "acme")
    for tenant in ("acme", "globex"):
        paid_unshipped(app, clock, tenant)

    assert facts_of(app, "acme").handling_due == HANDLING_DUE
    assert facts_of(app, "globex").handling_due is None

    clock.set(HANDLING_DUE - timedelta(seconds=1))
    sweep(app.sessions, tenant_id="acme", clock=clock)
    assert cases(app, "acme", "stuck_order") == {}

    clock.set(HANDLING_DUE + MIN)
    for tenant in ("acme", "globex"):
        sweep(app.sessions, tenant_id=tenant, clock=clock)
    stuck = cases(app, "acme", "stuck_order")["o-1"]
    assert stuck.facts["state"] == "awaiting_fulfillment"
    assert stuck.facts["deadline"] == "policy"
    assert stuck.detected_at == HANDLING_DUE
    assert cases(app, "globex", "stuck_order") == {}, "without a policy: 48 h from payment"

    clock.set(MONDAY + MIN + 48 * H)
    sweep(app.sessions, tenant_id="globex", clock=clock)
    assert cases(app, "globex", "stuck_order")["o-1"].facts["deadline"] == "threshold"


def test_the_shipping_line_title_or_the_default_window_gives_the_deadline(
    app: App, clock: FixedClock
) -> None:
    load_policy(app, clock, "acme")
    clock.set(MONDAY + MIN)
    ingest(
        app,
        clock,
        "acme",
        shipped_by("o-1", "standard shipping"),
        shipped_by("o-2", "Pigeon Post"),
        shipped_by("o-3", "Express Shipping"),
    )

    assert facts_of(app, "acme", "o-1").handling_due == HANDLING_DUE
    assert facts_of(app, "acme", "o-2").handling_due == HANDLING_DUE  # default: standard
    assert facts_of(app, "acme", "o-3").handling_due == HANDLING_DUE  # express: 1 day, all handling


def test_a_held_fulfillment_is_read_and_named_in_the_stuck_case(
    app: App, clock: FixedClock
) -> None:
    paid_unshipped(app, clock, "acme")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.add(
            FulfillmentHold(
                tenant_id="acme",
                source="shopify",
                fulfillment_order_ref="gid://shopify/FulfillmentOrder/1",
                order_ref="o-1",
                status="on_hold",
                reasons={"reasons": ["high_risk_of_fraud"], "note": "check the address"},
                held_at=MONDAY + H,
                released_at=None,
                status_at=MONDAY + H,
            )
        )
        uow.commit()

    (hold,) = facts_of(app, "acme").holds
    assert (hold.reasons, hold.holding) == (("high_risk_of_fraud",), True)

    clock.set(MONDAY + 50 * H)
    sweep(app.sessions, tenant_id="acme", clock=clock)
    assert "on hold (high_risk_of_fraud)" in cases(app, "acme", "stuck_order")["o-1"].summary


# --- refunds: the store's refunds are money returned ----------------------------------


def add_refund(app: App, order_ref: str, amount: int, at: datetime, ref: str = "r-1") -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.add(
            OrderRefund(
                tenant_id="acme",
                source="shopify",
                refund_ref=ref,
                order_ref=order_ref,
                amount_minor=amount,
                currency="USD",
                reason="customer",
                processed_at=at,
            )
        )
        uow.commit()


def test_a_store_refund_settles_a_cancelled_order_and_is_never_a_charge(
    app: App, clock: FixedClock
) -> None:
    clock.set(MONDAY + 3 * H)
    for ref in ("o-1", "o-2"):
        ingest(
            app,
            clock,
            "acme",
            order_placed(ref, at=MONDAY),
            payment(ref, status="captured", at=MONDAY + MIN, payment_ref=f"pi_{ref}"),
            cancelled(ref, at=MONDAY + 2 * H),
        )
    add_refund(app, "o-1", 5000, MONDAY + 10 * H)

    refunded = facts_of(app, "acme", "o-1")
    assert [r.amount_minor for r in refunded.refunds] == [5000]
    assert refunded.financial_status is FinancialStatus.REFUNDED

    clock.set(MONDAY + 60 * H)
    sweep(app.sessions, tenant_id="acme", clock=clock)
    assert set(cases(app, "acme", "refund_pending")) == {"o-2"}
    assert cases(app, "acme", "duplicate_charge") == {}


# --- payment failed: the grace a customer gets to fix a decline -----------------------


def test_a_decline_opens_a_case_only_once_its_grace_has_passed_unpaid(
    app: App, clock: FixedClock
) -> None:
    clock.set(MONDAY + 12 * MIN)
    changes = ingest(
        app,
        clock,
        "acme",
        order_placed("o-1", at=MONDAY),
        payment("o-1", status="failed", at=MONDAY + MIN, payment_ref="pi_1"),
        order_placed("o-2", at=MONDAY),
        payment("o-2", status="failed", at=MONDAY + MIN, payment_ref="pi_2"),
        payment("o-2", status="captured", at=MONDAY + 10 * MIN, payment_ref="pi_2"),
    )
    assert [c for c in changes if c.exception_type == "payment_failed"] == []

    clock.set(MONDAY + 30 * MIN)
    sweep(app.sessions, tenant_id="acme", clock=clock)
    assert cases(app, "acme", "payment_failed") == {}

    clock.set(MONDAY + 31 * MIN)
    sweep(app.sessions, tenant_id="acme", clock=clock)
    opened = cases(app, "acme", "payment_failed")
    assert set(opened) == {"o-1"}, "the decline recovered within the grace opened nothing"
    assert opened["o-1"].detected_at == MONDAY + 31 * MIN


def test_a_tenant_without_grace_opens_on_the_decline_itself(app: App, clock: FixedClock) -> None:
    load_policy(app, clock, "globex", payment_failed={"thresholds": {"grace_minutes": 0}})
    clock.set(MONDAY + 2 * MIN)
    events = [
        order_placed("o-1", at=MONDAY),
        payment("o-1", status="failed", at=MONDAY + MIN, payment_ref="pi_1"),
    ]

    strict = ingest(app, clock, "globex", *events)
    lenient = ingest(app, clock, "acme", *[{**e, "id": f"acme-{e['id']}"} for e in events])

    assert [(c.change, c.exception_type) for c in strict] == [("opened", "payment_failed")]
    assert [c for c in lenient if c.exception_type == "payment_failed"] == []


# --- chasing: tickets per order within the tenant's window ---------------------------


def test_the_chasing_thresholds_are_the_tenants_own(app: App, clock: FixedClock) -> None:
    load_policy(app, clock, "acme", customer_chasing={"thresholds": {"tickets": 2}})
    clock.set(MONDAY + 5 * H)
    for tenant in ("acme", "globex"):
        ingest(
            app,
            clock,
            tenant,
            order_placed(at=MONDAY),
            payment(status="authorized", at=MONDAY + MIN, payment_ref=f"pi_{tenant}"),
            ticket(f"{tenant}-t1", at=MONDAY + H),
            ticket(f"{tenant}-t2", at=MONDAY + 4 * H),
        )

    assert set(cases(app, "acme", "customer_chasing")) == {"o-1"}
    assert cases(app, "globex", "customer_chasing") == {}
