"""Builders for customer choices: a delay or stock-out case on a paid order, an offer made
by a reviewer, the link's token, and an approval policy that auto-approves some choices."""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

from builders.access import Person
from builders.events import order_placed, payment
from orderops.bootstrap import App
from orderops.cases.cases import raise_exception
from orderops.decide.policy_versions import set_policy
from orderops.detect.verdict import Verdict
from orderops.domain.approval_policy import DEFAULT_POLICY
from orderops.domain.cases import ExceptionType
from orderops.domain.choice_links import ChoiceLinkKeys
from orderops.domain.clock import FixedClock
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.choices import PUBLIC_PREFIX, OfferMade, offer_choices
from orderops.workflow.pipeline import process_pending

_orders = itertools.count(1)
BASE_URL = "http://testserver"


def choice_case(
    app: App,
    clock: FixedClock,
    *,
    tenant: str = "acme",
    exception_type: ExceptionType = ExceptionType.SHIPMENT_DELAY_PREDICTED,
    total_minor: int = 8000,
) -> str:
    """A captured order with a case of ``exception_type``, opened as its detector would."""
    order_ref = f"o-choice-{tenant}-{next(_orders)}"
    placed = clock.now() - timedelta(days=1)
    items: list[Any] = [
        order_placed(order_ref, at=placed, total_minor=total_minor, number=f"#{next(_orders)}"),
        payment(
            order_ref,
            status="captured",
            at=placed + timedelta(hours=1),
            payment_ref=f"pi-{order_ref}",
            amount_minor=total_minor,
        ),
    ]
    report = ingest_items(app.sessions, tenant_id=tenant, items=items, channel="test", clock=clock)
    assert report.rejected == []
    process_pending(app.sessions, tenant_id=tenant, clock=clock)
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        order = uow.commerce.order_by_ref(order_ref)
        assert order is not None
        event = raise_exception(
            uow,
            order=order,
            existing=None,
            verdict=Verdict(
                exception_type=exception_type,
                detected=True,
                cleared=False,
                summary=f"{exception_type} on {order_ref}",
                evidence_key=f"{exception_type}:{order_ref}",
            ),
            now=clock.now(),
            inbox_id=None,
        )
        assert event is not None
        uow.commit()
        return event.case_id


def keys(app: App) -> ChoiceLinkKeys:
    return ChoiceLinkKeys(app.settings.secret_key)


def make_offer(app: App, clock: FixedClock, reviewer: Person, case_id: str) -> OfferMade:
    return offer_choices(
        app.sessions,
        tenant_id=reviewer.principal.tenant_id,
        case_id=case_id,
        principal=reviewer.principal,
        clock=clock,
        keys=keys(app),
        base_url=BASE_URL,
    )


def token_of(url: str) -> str:
    return url.split(f"{PUBLIC_PREFIX}/", 1)[1]


def page_path(token: str) -> str:
    return f"{PUBLIC_PREFIX}/{token}"


def auto_approve_choices(
    app: App, clock: FixedClock, *, tenant: str = "acme", cancel_up_to_minor: int = 10_000
) -> None:
    """The default approval policy plus: a customer's "wait" always, and a customer's
    cancellation up to ``cancel_up_to_minor``, approve by rule; nothing else changes."""
    body = DEFAULT_POLICY.body()
    body["kinds"]["accept_delay"] = {
        "auto_approve": [{"name": "customer-waits", "when": {"customer_choice": True}}],
        "require": [{"name": "desk-approval"}],
    }
    cancel = body["kinds"]["cancel_order"]
    cancel["auto_approve"] = [
        {
            "name": "customer-cancels",
            "when": {"customer_choice": True, "amount_at_most_minor": cancel_up_to_minor},
        }
    ]
    set_policy(app.sessions, tenant_id=tenant, body=body, actor="test", clock=clock)
