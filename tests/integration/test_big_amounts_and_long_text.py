"""What the door accepts is stored: large amounts and long provider text are processed.

On PostgreSQL money columns were 32-bit and a shipping-line title went into a
varchar(64): such events were accepted, then failed in processing three times and were
left "failed". These run on SQLite and PostgreSQL; PostgreSQL is the one that enforced
the old limits.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from builders.events import order_placed, payment
from builders.webhooks import post, shopify, shopify_order, webhook_client
from builders.worker import work
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.tables import InboxEvent, Order
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items

SECRET = "acme-signing-secret-1-0123456789abcdef"


def _inbox(app: App) -> dict[str, tuple[str, str | None]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return {r.event_id: (r.status, r.error) for r in uow.session.scalars(select(InboxEvent))}


@pytest.mark.parametrize(
    ("currency", "amount_minor"),
    [
        ("VND", 3_000_000_000),  # the dong has no minor unit: three billion dong
        ("IDR", 2_500_000_000_000),  # 25,000,000,000 rupiah in sen
    ],
)
def test_a_large_order_and_its_payment_are_processed_with_the_exact_amount(
    app: App, clock: FixedClock, currency: str, amount_minor: int
) -> None:
    at = clock.now() - timedelta(hours=2)
    order = order_placed("big-1", at=at, total_minor=amount_minor, event_id="order")
    order["data"]["currency"] = currency
    paid = payment(
        "big-1",
        status="captured",
        at=at + timedelta(minutes=1),
        amount_minor=amount_minor,
        event_id="payment",
    )
    paid["data"]["currency"] = currency

    report = ingest_items(
        app.sessions, tenant_id="acme", items=[order, paid], channel="test", clock=clock
    )

    assert report.accepted == 2
    assert report.rejected == []
    assert _inbox(app) == {"order": ("processed", None), "payment": ("processed", None)}
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        stored = uow.commerce.order_by_ref("big-1")
        assert stored is not None
        assert (stored.currency, stored.total_minor) == (currency, amount_minor)
        assert [line.unit_price_minor for line in stored.lines] == [amount_minor]
        charge = uow.commerce.payment("stripe", "pi_1")
        assert charge is not None
        assert charge.amount_minor == amount_minor
        assert stored.financial_status == "paid"


def test_a_shopify_order_with_a_68_character_shipping_line_title_is_processed(
    app: App, clock: FixedClock
) -> None:
    token = connect_source(
        app.sessions,
        tenant_id="acme",
        source=WebhookSource.SHOPIFY,
        box=SecretBox(app.settings.secret_key),
        clock=clock,
        actor="test",
        secret=SECRET,
    ).connection.endpoint_token
    title = "Express Worldwide Delivery (2-3 business days, signature on receipt)"
    assert len(title) == 68
    raw = shopify_order()
    raw["shipping_lines"][0].update({"code": None, "title": title})

    with webhook_client(app) as client:
        response = post(
            client, shopify("orders/create", raw), token=token, secret=SECRET, now=clock.now()
        )

    assert response.status_code == 202, response.text
    work(app)
    assert [status for status, _ in _inbox(app).values()] == ["processed"]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        stored = uow.session.scalar(select(Order).where(Order.order_ref == str(raw["id"])))
        assert stored is not None
        assert stored.service_level == title


def test_an_order_from_a_source_with_a_long_name_links_its_customer(
    app: App, clock: FixedClock
) -> None:
    """The envelope allows a 200-character source; the customer's identity is keyed by it."""
    source = "https://storefront.example-retailer.co.uk/integrations/orders"
    assert len(source) > 40
    event = order_placed("o-long", at=clock.now() - timedelta(hours=1), source=source)

    report = ingest_items(app.sessions, tenant_id="acme", items=[event], channel="t", clock=clock)

    assert report.accepted == 1
    assert [status for status, _ in _inbox(app).values()] == ["processed"]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        customer = uow.commerce.customer_by_identity(source, "cust-o-long")
        assert customer is not None
        assert customer.email == "o-long@example.com"


@pytest.mark.parametrize(
    ("field", "value", "named"),
    [
        ("number", "N" * 65, "number"),
        ("location", "L" * 65, "location"),
    ],
)
def test_an_oversize_code_is_refused_at_the_door_with_a_dead_letter_that_names_it(
    app: App, clock: FixedClock, field: str, value: str, named: str
) -> None:
    event = order_placed("o-code", at=clock.now() - timedelta(hours=1))
    event["data"][field] = value

    report = ingest_items(app.sessions, tenant_id="acme", items=[event], channel="t", clock=clock)

    assert report.accepted == 0
    (refused,) = report.rejected
    assert refused.dead_letter_id is not None
    assert named in (refused.reason or "")
    assert "64" in (refused.reason or "")
    assert _inbox(app) == {}
