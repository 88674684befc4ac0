"""The similar-case index is kept per tenant and brought up to date, not rebuilt per case:
the same neighbours as the per-case rebuild, newly resolved cases found by the next
recommendation, never another tenant's cases, and a statement count that does not grow
with the number of past cases. On SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, event, select

from builders.similar_corpus import (
    DenseReferenceIndex,
    rebuild_per_case,
    resolve_now,
    write_corpus,
)
from orderops.bootstrap import App
from orderops.domain.actions import ActionStatus
from orderops.domain.clock import FixedClock
from orderops.recommend.auto import recommend_new_cases
from orderops.recommend.history_index import KeptIndex, similar_cases
from orderops.recommend.service import recommend_case
from orderops.recommend.similar import features_of, summary_of
from orderops.recommend.store_facts import case_facts
from orderops.storage.tables import Case, SupportTicket
from orderops.storage.tables.recommend import Recommendation
from orderops.storage.uow import UnitOfWork


@contextmanager
def statements(engine: Engine) -> Iterator[list[str]]:
    """Every SQL statement the engine sends while the block runs."""
    seen: list[str] = []

    def count(*args: Any) -> None:
        seen.append(args[2])

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", count)


def _queries(app: App, tenant: str, case_ids: list[str], now: Any) -> list[dict[str, Any]]:
    """What a recommendation for each case asks the index."""
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        asked = []
        for case_id in case_ids:
            case = uow.cases.get(case_id)
            assert case is not None
            facts = case_facts(uow, case, now=now)
            asked.append(
                {
                    "exception_type": str(facts.exception_type),
                    "summary": summary_of(facts),
                    "features": features_of(facts),
                }
            )
        return asked


def _similar_of(app: App, case_id: str) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        row = uow.session.scalar(select(Recommendation).where(Recommendation.case_id == case_id))
        assert row is not None
        return [n["case_id"] for n in row.body["similar"]]


def _set_type(app: App, tenant: str, case_ids: list[str], exception_type: str) -> None:
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        for case_id in case_ids:
            case = uow.cases.get(case_id)
            assert case is not None
            case.exception_type = exception_type
        uow.commit()


def test_the_kept_index_holds_the_same_cases_and_finds_the_same_neighbours_as_the_rebuild(
    app: App, clock: FixedClock
) -> None:
    now = clock.now()
    corpus = write_corpus(app.sessions, tenant_id="acme", now=now, resolved=50, open_cases=12)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        reference = rebuild_per_case(uow, now=now)
        kept = similar_cases(uow)
    assert 35 <= len(reference) < 50  # some past cases have no approved action
    assert sorted(kept.cases, key=lambda c: c.case_id) == sorted(reference, key=lambda c: c.case_id)
    assert any(c.recontacted for c in kept.cases)
    assert any(c.reopened for c in kept.cases)
    old = DenseReferenceIndex(reference)
    found = 0
    for query in _queries(app, "acme", corpus.open, now):
        expected = old.nearest(**query, k=5)
        actual = kept.nearest(**query, k=5)
        assert [n.case.case_id for n in actual] == [n.case.case_id for n in expected]
        assert [n.similarity for n in actual] == pytest.approx(
            [n.similarity for n in expected], abs=1e-4
        )
        found += len(actual)
    assert found >= 30


def test_an_empty_history_finds_no_similar_cases(app: App, clock: FixedClock) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        index = similar_cases(uow)
    assert len(index) == 0
    assert (
        index.nearest(exception_type="shipment_late", summary="late parcel UPS", features={}) == []
    )


@pytest.mark.parametrize(
    ("action_status", "is_history"),
    [
        (ActionStatus.APPROVED, True),
        (ActionStatus.EXECUTED, True),  # its refund or reship was delivered since
        (ActionStatus.FAILED, True),  # approved; the delivery is another matter
        (ActionStatus.REJECTED, False),  # nobody decided to do it
    ],
)
def test_a_case_resolved_after_a_pass_is_found_by_the_next_pass(
    app: App, clock: FixedClock, action_status: ActionStatus, is_history: bool
) -> None:
    first = write_corpus(app.sessions, tenant_id="acme", now=clock.now(), resolved=0, open_cases=2)
    _set_type(app, "acme", first.open, "shipment_late")
    assert recommend_new_cases(app.sessions, tenant_id="acme", clock=clock) == 2
    assert _similar_of(app, first.open[0]) == []  # a fresh install has no history

    resolve_now(
        app.sessions,
        tenant_id="acme",
        case_id=first.open[1],
        at=clock.now() + timedelta(minutes=5),
        kind="reship",
        status=action_status,
    )
    clock.advance(timedelta(minutes=10))
    second = write_corpus(
        app.sessions, tenant_id="acme", now=clock.now(), resolved=0, open_cases=1, seed=8
    )
    _set_type(app, "acme", second.open, "shipment_late")
    assert recommend_new_cases(app.sessions, tenant_id="acme", clock=clock) == 1
    assert _similar_of(app, second.open[0]) == ([first.open[1]] if is_history else [])


def test_a_single_recommendation_sees_a_case_resolved_just_before(
    app: App, clock: FixedClock
) -> None:
    corpus = write_corpus(app.sessions, tenant_id="acme", now=clock.now(), resolved=0, open_cases=3)
    _set_type(app, "acme", corpus.open, "carrier_exception")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        assert recommend_case(uow, corpus.open[0], now=clock.now(), actor="t").advice.similar == ()
        uow.commit()
    resolve_now(
        app.sessions, tenant_id="acme", case_id=corpus.open[1], at=clock.now(), kind="refund"
    )
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        stored = recommend_case(uow, corpus.open[2], now=clock.now(), actor="t")
    assert [(n.case.case_id, n.case.resolution) for n in stored.advice.similar] == [
        (corpus.open[1], "refund")
    ]


def test_another_tenants_cases_are_never_returned(app: App, clock: FixedClock) -> None:
    now = clock.now()
    acme = write_corpus(app.sessions, tenant_id="acme", now=now, resolved=20)
    globex = write_corpus(app.sessions, tenant_id="globex", now=now, resolved=20)
    # the same seed: globex's cases are word for word acme's, so only the tenant separates them
    queries = _queries(app, "globex", globex.resolved, now)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        acme_index = similar_cases(uow)
    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow:
        globex_index = similar_cases(uow)
    from_acme = {n.case.case_id for q in queries for n in acme_index.nearest(**q)}
    from_globex = {n.case.case_id for q in queries for n in globex_index.nearest(**q)}
    assert from_acme
    assert from_acme <= set(acme.resolved)
    assert from_globex
    assert from_globex <= set(globex.resolved)


def test_nothing_new_costs_two_statements_and_no_reload(app: App, clock: FixedClock) -> None:
    write_corpus(app.sessions, tenant_id="acme", now=clock.now(), resolved=30)
    kept = KeptIndex()
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        first = kept.refresh(uow)
    with (
        statements(app.engine) as seen,
        UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow,
    ):
        again = kept.refresh(uow)
    assert again is first
    # what changed since the last look, and any new erasure; not the session's set-up
    assert len([s for s in seen if "FROM" in s.split()]) == 2
    assert kept.loads == 1
    assert kept.reads == 0


def test_a_recontact_relabels_at_the_full_check_and_a_reopen_leaves_at_once(
    app: App, clock: FixedClock
) -> None:
    corpus = write_corpus(app.sessions, tenant_id="acme", now=clock.now(), resolved=30)
    kept = KeptIndex()
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        before = {c.case_id: c for c in kept.refresh(uow).cases}
    quiet = next(c for c in before.values() if not c.recontacted)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(quiet.case_id)
        assert case is not None
        assert case.closed_at is not None
        uow.session.add(
            SupportTicket(
                tenant_id="acme",
                source="zendesk",
                ticket_ref="again-1",
                order_ref=case.order_ref,
                subject="It broke again",
                status="open",
                opened_at=case.closed_at + timedelta(days=1),
                source_updated_at=case.closed_at + timedelta(days=1),
            )
        )
        uow.commit()
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        # a ticket does not stamp its order's case: the periodic full check finds it
        assert not {c.case_id: c for c in kept.refresh(uow).cases}[quiet.case_id].recontacted
        after = {c.case_id: c for c in kept.refresh(uow, full=True).cases}
    assert after[quiet.case_id].recontacted
    assert after[quiet.case_id].summary == quiet.summary  # what it was like when it closed
    assert (kept.loads, kept.reads) == (1, 0)

    reopened = corpus.resolved[0] if corpus.resolved[0] in after else next(iter(after))
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        row = uow.session.scalar(select(Case).where(Case.id == reopened))
        assert row is not None
        row.status, row.closed_at, row.reopen_count = "triaged", None, row.reopen_count + 1
        row.updated_at = clock.now()
        uow.commit()
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        left = kept.refresh(uow)
    assert reopened not in {c.case_id for c in left.cases}
    assert len(left) == len(after) - 1
    assert (kept.loads, kept.reads) == (1, 0)  # nothing read again, nothing refitted


def test_a_pass_runs_as_many_statements_with_200_past_cases_as_with_50(
    app: App, clock: FixedClock
) -> None:
    """Similarity costs a fixed number of statements per pass, not one per past case."""
    now = clock.now()
    write_corpus(app.sessions, tenant_id="acme", now=now, resolved=200, open_cases=20)
    write_corpus(app.sessions, tenant_id="globex", now=now, resolved=50, open_cases=20)
    counts = {}
    for tenant in ("acme", "globex"):
        with statements(app.engine) as seen:
            assert recommend_new_cases(app.sessions, tenant_id=tenant, clock=clock) == 20
        counts[tenant] = len(seen)
    assert counts["acme"] == counts["globex"]
    # the per-case rebuild read at least one row per past case for each new case: 4,000 here
    assert counts["acme"] < 20 * 200
