"""Proactive notices are drafted when the pipeline opens a case, not only by the sweep: a
carrier exception processed from the inbox has its notice (drafted, or sent by the rule)
as soon as the chunk is done. The pipeline pays for it once per chunk, and nothing at all
when no opened case raises a topic or the tenant has no rule. On SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

from sqlalchemy import event, select

from builders.events import order_placed, payment, scan, shipment
from builders.messages import policy
from orderops.bootstrap import App
from orderops.cases.cases import CaseChange, CaseEvent
from orderops.domain.clock import FixedClock
from orderops.storage.tables import Case, Communication, CustomerNotice
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.notifications import notify_customers, notify_opened
from orderops.workflow.pipeline import process_pending

_orders = itertools.count(1)


def troubled_parcel(app: App, clock: FixedClock) -> str:
    """An order whose carrier reports an exception, stored in the inbox; its reference."""
    ref = f"o-open-{next(_orders)}"
    start = clock.now() - timedelta(hours=6)
    tracking = f"1ZOPEN{ref[-1]}"
    items: list[Any] = [
        order_placed(ref, at=start, number=None),
        payment(ref, status="captured", at=start, payment_ref=f"pi-{ref}"),
        shipment(ref, at=start + timedelta(hours=1), tracking=tracking),
        scan("exception", at=start + timedelta(hours=2), tracking=tracking, order_ref=ref),
    ]
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    assert report.rejected == []
    return ref


def opened_case(app: App, order_ref: str) -> Case:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        found = uow.session.scalars(select(Case).where(Case.order_ref == order_ref)).one()
        uow.session.expunge_all()
        return found


def notices(app: App) -> list[tuple[str, str, str]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.execute(
            select(CustomerNotice.order_ref, CustomerNotice.topic, CustomerNotice.outcome)
        )
        return [(r.order_ref, r.topic, r.outcome) for r in rows]


@contextmanager
def statements(app: App) -> Iterator[list[str]]:
    sent: list[str] = []

    def note(*args: Any) -> None:
        sent.append(str(args[2]))

    event.listen(app.engine, "before_cursor_execute", note)
    try:
        yield sent
    finally:
        event.remove(app.engine, "before_cursor_execute", note)


def test_a_case_the_pipeline_opens_gets_its_notice_at_once(app: App, clock: FixedClock) -> None:
    policy(app, clock, topics=["delay"], auto_approve=["delay"])
    ref = troubled_parcel(app, clock)

    process_pending(app.sessions, tenant_id="acme", clock=clock)
    right_after = notices(app)
    sweep = notify_customers(app.sessions, tenant_id="acme", clock=clock).outcomes

    case = opened_case(app, ref)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (message,) = uow.session.scalars(
            select(Communication).where(Communication.case_id == case.id)
        ).all()
        status, topic = message.status, message.topic
    assert case.exception_type == "carrier_exception"
    assert right_after == [(ref, "delay", "sent")]
    assert (status, topic) == ("sending", "delay")
    assert sweep == {}  # nothing left for the sweep


def test_without_a_rule_the_pipeline_drafts_nothing_and_reads_the_rule_once(
    app: App, clock: FixedClock
) -> None:
    first, second = troubled_parcel(app, clock), troubled_parcel(app, clock)
    process_pending(app.sessions, tenant_id="acme", clock=clock)
    opened = [
        CaseEvent(CaseChange.OPENED, c.id, c.exception_type, c.order_ref, "")
        for c in (opened_case(app, first), opened_case(app, second))
    ]
    unrelated = [CaseEvent(CaseChange.OPENED, "x", "payment_failed", "o-x", "")]

    with statements(app) as for_two:
        notify_opened(app.sessions, tenant_id="acme", changes=opened, clock=clock)
    with statements(app) as for_none:
        notify_opened(app.sessions, tenant_id="acme", changes=unrelated, clock=clock)

    assert notices(app) == []
    reads = [s for s in for_two if "FROM" in s.split()]  # not PostgreSQL's set_config
    assert len(reads) == 1  # the tenant's rule, once for both cases
    assert "notification_policies" in reads[0]
    assert for_none == []


def test_with_a_rule_two_opened_cases_are_read_in_one_query(app: App, clock: FixedClock) -> None:
    first, second = troubled_parcel(app, clock), troubled_parcel(app, clock)
    process_pending(app.sessions, tenant_id="acme", clock=clock)  # no rule yet: no notices
    policy(app, clock, topics=["delay"])
    opened = [
        CaseEvent(CaseChange.OPENED, c.id, c.exception_type, c.order_ref, "")
        for c in (opened_case(app, first), opened_case(app, second))
    ]

    with statements(app) as sent:
        report = notify_opened(app.sessions, tenant_id="acme", changes=opened, clock=clock)

    case_reads = [s for s in sent if "FROM cases" in s and "customer_notices" in s]
    assert report.outcomes == {"drafted": 2}
    assert len(case_reads) == 1
    assert sorted(notices(app)) == sorted(
        [(first, "delay", "drafted"), (second, "delay", "drafted")]
    )
