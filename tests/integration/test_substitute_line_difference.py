"""A recommended substitution moves the difference for the whole line, not for one unit: the
finder's price difference is per unit (``unit_difference_minor``), the action's
``price_difference_minor`` is for every unit substituted, so three units of a substitute
150 cheaper refund 450. Stored on SQLite and PostgreSQL, recommended and planned against
the order's payment."""

from __future__ import annotations

import json
from pathlib import Path

from orderops.bootstrap import App
from orderops.decide.action_context import context_for
from orderops.domain.action_kinds import SubstituteParams
from orderops.domain.actions import plan
from orderops.domain.clock import FixedClock
from orderops.recommend.service import recommend_case
from orderops.recommend.settings import RecommendSettings
from orderops.storage.tables import Case, InventoryPosition, Order, OrderLineRow, Payment
from orderops.storage.uow import UnitOfWork

UNIT_PRICE, CHEAPER_BY, QUANTITY = 2000, 150, 3


def short_order(app: App, clock: FixedClock) -> str:
    """Three tees ordered at wh-east, none in stock there, a cheaper tee in stock; the
    substitution case on it."""
    now = clock.now()
    total = UNIT_PRICE * QUANTITY
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        order = Order(
            tenant_id="acme",
            order_ref="S-3",
            source="test://shop",
            status="open",
            financial_status="paid",
            fulfillment_status="unfulfilled",
            currency="USD",
            total_minor=total,
            placed_at=now,
            location="wh-east",
            source_updated_at=now,
            created_at=now,
            updated_at=now,
        )
        uow.session.add(order)
        uow.session.flush()
        uow.session.add_all(
            [
                OrderLineRow(
                    tenant_id="acme",
                    order_id=order.id,
                    position=0,
                    sku="APP-101",
                    title="Tee",
                    quantity=QUANTITY,
                    unit_price_minor=UNIT_PRICE,
                    location="wh-east",
                ),
                Payment(
                    tenant_id="acme",
                    provider="stripe",
                    payment_ref="pi_s3",
                    order_ref="S-3",
                    status="captured",
                    amount_minor=total,
                    currency="USD",
                    status_at=now,
                    created_at=now,
                    captured_at=now,
                ),
                *(
                    InventoryPosition(
                        tenant_id="acme", sku=sku, location="wh-east", available=n, as_of=now
                    )
                    for sku, n in (("APP-101", 0), ("APP-102", 10))
                ),
            ]
        )
        case = Case(
            tenant_id="acme",
            order_id=order.id,
            order_ref="S-3",
            exception_type="substitution_needed",
            status="new",
            summary="APP-101 is short at wh-east",
            detected_at=now,
            opened_at=now,
            updated_at=now,
            facts={},
        )
        uow.session.add(case)
        uow.commit()
        return case.id


def test_three_units_of_a_cheaper_substitute_refund_three_times_the_difference(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    (tmp_path / "acme.json").write_text(
        json.dumps(
            [
                {"sku": "APP-101", "title": "Tee", "price_minor": UNIT_PRICE},
                {"sku": "APP-102", "title": "Tee Basic", "price_minor": UNIT_PRICE - CHEAPER_BY},
            ]
        )
    )
    case_id = short_order(app, clock)

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        stored = recommend_case(
            uow,
            case_id,
            now=clock.now(),
            actor="test",
            settings=RecommendSettings(catalogue_dir=tmp_path),
        )
        top = stored.advice.top
        assert top is not None
        (substitute,) = [a for a in top.actions if a.kind == "substitute"]
        case = uow.cases.get(case_id)
        assert case is not None
        planned = plan("substitute", dict(substitute.params), context_for(uow, case))

    assert substitute.params["to_sku"] == "APP-102"
    assert substitute.params["quantity"] == QUANTITY
    assert substitute.params["price_difference_minor"] == -CHEAPER_BY * QUANTITY
    assert isinstance(planned.params, SubstituteParams)
    assert planned.params.refund_minor == CHEAPER_BY * QUANTITY
    refunds = [e for e in planned.effects if "amount_minor" in e.payload]
    assert [e.payload["amount_minor"] for e in refunds] == [CHEAPER_BY * QUANTITY]
