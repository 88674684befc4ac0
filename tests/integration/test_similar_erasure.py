"""An erased customer's words leave every kept similar-case index with the erasure, not at
the next restart: the next query already finds their cases read again from the scrubbed
tables, without the ticket text. On SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import select

from builders.similar_corpus import SUBJECTS, write_corpus
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.recommend.history_index import KeptIndex
from orderops.storage.tables import Case, Order
from orderops.storage.uow import UnitOfWork
from orderops.workflow.erasure import erase_customer


def test_an_erasure_takes_the_customers_ticket_words_out_of_the_kept_index(
    app: App, clock: FixedClock
) -> None:
    write_corpus(app.sessions, tenant_id="acme", now=clock.now(), resolved=40)
    kept = KeptIndex(full_check_seconds=1e9)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        index = kept.refresh(uow)
    talked = next(c for c in index.cases if any(s in c.summary for s in SUBJECTS))
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        customer = uow.session.scalar(
            select(Order.customer_id)
            .join(Case, Case.order_id == Order.id)
            .where(Case.id == talked.case_id)
        )
    assert customer is not None

    erase_customer(
        app.sessions,
        tenant_id="acme",
        actor="dpo@example.com",
        reason="art. 17 request",
        clock=clock,
        customer_id=customer,
    )
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        after = kept.refresh(uow)
    now_held = after.get(talked.case_id)
    assert now_held is not None  # the case and its resolution stay; the words do not
    assert not any(s in now_held.summary for s in SUBJECTS)
    assert "erased" in now_held.summary
    assert now_held.resolution == talked.resolution
    assert kept.loads == 1  # forgotten in place, not by reloading
    assert kept.reads >= 1
    others = [c for c in after.cases if c.case_id != talked.case_id]
    assert any(any(s in c.summary for s in SUBJECTS) for c in others)  # nobody else's
