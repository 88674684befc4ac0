"""Golden customers in the database: resolution, merges and splits that are audited and
exactly reversible, tenant isolation, and records linked to orders without an order ref."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from tests.builders.events import envelope

import orderops.storage.tables.identity  # noqa: F401 - registers the identity tables
from orderops.audit.verify import verify_tenant
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.resolve.identity import service
from orderops.resolve.identity.errors import GoldenNotFound, MergeRefused, SplitConflict
from orderops.resolve.identity.store import IdentityStore
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items

HOME = {"line1": "12 Maple Ave", "city": "Springfield", "postal_code": "62704", "country": "US"}
AWAY = {"line1": "880 Oak St", "city": "Albany", "postal_code": "12207", "country": "US"}

PEOPLE = [
    # ref, name, email, phone, address   (jane-1/jane-2 one person; john shares her home)
    ("jane-1", "Jane Doe", "jane.doe@example.com", "+12175550123", HOME),
    ("jane-2", "Jnae Doe", "jd@work.example", "(217) 555-0123", HOME),
    ("john", "John Doe", "john.doe@example.com", "+12175550123", HOME),
    ("other-jane", "Jane Doe", "jane.d@example.org", "+15185550199", AWAY),
    ("ann", "Ann Ames", "ann@example.com", "+15185550100", AWAY),
]


def customer_event(
    ref: str, name: str, email: str, phone: str, address: dict[str, Any], *, clock: FixedClock
) -> dict[str, Any]:
    data = {"customer_ref": ref, "name": name, "email": email, "phone": phone, "address": address}
    return envelope("customer.upserted", data, at=clock.now(), subject=None)


def load_people(app: App, tenant: str, clock: FixedClock) -> dict[str, str]:
    """Ingest PEOPLE into ``tenant``; return customer ref -> customer row id."""
    report = ingest_items(
        app.sessions,
        tenant_id=tenant,
        items=[customer_event(*person, clock=clock) for person in PEOPLE],
        channel="test",
        clock=clock,
    )
    assert report.accepted == len(PEOPLE)
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        return IdentityStore(uow.session, tenant).customer_ids_by_ref()


def resolve(app: App, tenant: str, clock: FixedClock) -> service.ResolveReport:
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        report = service.resolve_customers(uow, clock=clock)
        uow.commit()
    return report


def links(app: App, tenant: str) -> dict[str, tuple[str, str, float | None, str | None]]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        current = service.store(uow).current_links()
        return {
            cid: (link.golden_id, link.method, link.score, link.reason)
            for cid, link in current.items()
        }


def golden(app: App, tenant: str) -> dict[str, str]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        return service.golden_ids(uow)


def test_resolution_links_one_person_and_keeps_a_household_apart(
    app: App, clock: FixedClock
) -> None:
    rows = load_people(app, "acme", clock)
    report = resolve(app, "acme", clock)
    ids = golden(app, "acme")
    assert (report.customers, report.people) == (5, 4)
    assert ids[rows["jane-1"]] == ids[rows["jane-2"]]
    assert len({ids[rows[r]] for r in ("jane-1", "john", "other-jane", "ann")}) == 4
    method = links(app, "acme")[rows["jane-2"]]
    assert method[1] == "probabilistic"
    assert (method[2] or 0.0) >= 8
    assert "phone same" in (method[3] or "")


def test_resolving_again_changes_nothing(app: App, clock: FixedClock) -> None:
    load_people(app, "acme", clock)
    first = resolve(app, "acme", clock)
    before = links(app, "acme")
    clock.advance(timedelta(hours=1))
    second = resolve(app, "acme", clock)
    assert first.revision is not None
    assert (second.revision, second.changed) == (None, 0)
    assert links(app, "acme") == before


def test_merge_then_split_restores_the_exact_links_and_both_are_audited(
    app: App, clock: FixedClock
) -> None:
    rows = load_people(app, "acme", clock)
    resolve(app, "acme", clock)
    before = links(app, "acme")
    ids = golden(app, "acme")
    into, other = ids[rows["jane-1"]], ids[rows["john"]]

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        merged = service.merge(
            uow, into=into, other=other, actor="alice", reason="same household", clock=clock
        )
        uow.commit()
    after_merge = golden(app, "acme")
    assert merged.customers == (rows["john"],)
    assert after_merge[rows["john"]] == into
    assert links(app, "acme") != before

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        split = service.split(
            uow, merge_revision=merged.revision, actor="bob", reason="two people", clock=clock
        )
        uow.commit()
    assert split.restored == {rows["john"]: other}
    assert links(app, "acme") == before

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        records = [
            (r.action, r.actor, r.data)
            for r in uow.audit.records()
            if r.action.startswith("identity.")
        ]
    assert [(action, actor) for action, actor, _ in records] == [
        ("identity.resolved", "identity-resolver"),
        ("identity.merged", "alice"),
        ("identity.split", "bob"),
    ]
    merged_data, split_data = records[1][2], records[2][2]
    assert merged_data["moved_customers"] == [rows["john"]]
    assert merged_data["previous"][rows["john"]]["golden_id"] == other
    assert merged_data["reason"] == "same household"
    assert split_data["undoes"] == merged.revision
    assert verify_tenant(app.sessions, tenant_id="acme").ok


def test_a_merge_survives_automatic_resolution(app: App, clock: FixedClock) -> None:
    rows = load_people(app, "acme", clock)
    resolve(app, "acme", clock)
    ids = golden(app, "acme")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        service.merge(
            uow,
            into=ids[rows["ann"]],
            other=ids[rows["other-jane"]],
            actor="a",
            reason="r",
            clock=clock,
        )
        uow.commit()
    report = resolve(app, "acme", clock)
    after = golden(app, "acme")
    assert report.pinned == 1
    assert after[rows["other-jane"]] == after[rows["ann"]]


def test_a_split_is_refused_when_it_cannot_be_exact(app: App, clock: FixedClock) -> None:
    rows = load_people(app, "acme", clock)
    first = resolve(app, "acme", clock)
    ids = golden(app, "acme")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        merged = service.merge(
            uow, into=ids[rows["ann"]], other=ids[rows["john"]], actor="a", reason="r", clock=clock
        )
        later = service.merge(
            uow,
            into=ids[rows["jane-1"]],
            other=ids[rows["ann"]],
            actor="a",
            reason="r",
            clock=clock,
        )
        uow.commit()
    assert first.revision is not None
    cases = [
        (first.revision, "is not a merge"),
        (merged.revision, "relinked after merge"),
    ]
    for revision, message in cases:
        with (
            UnitOfWork(app.sessions, tenant_id="acme") as uow,
            pytest.raises(SplitConflict, match=message),
        ):
            service.split(uow, merge_revision=revision, actor="a", reason="r", clock=clock)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        service.split(uow, merge_revision=later.revision, actor="a", reason="r", clock=clock)
        service.split(uow, merge_revision=merged.revision, actor="a", reason="r", clock=clock)
        with pytest.raises(SplitConflict, match="already split"):
            service.split(uow, merge_revision=merged.revision, actor="a", reason="r", clock=clock)


def test_merging_unknown_or_identical_golden_ids_is_refused(app: App, clock: FixedClock) -> None:
    rows = load_people(app, "acme", clock)
    resolve(app, "acme", clock)
    known = golden(app, "acme")[rows["ann"]]
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        with pytest.raises(GoldenNotFound):
            service.merge(uow, into=known, other="nope", actor="a", reason="r", clock=clock)
        with pytest.raises(MergeRefused):
            service.merge(uow, into=known, other=known, actor="a", reason="r", clock=clock)


def test_resolution_never_links_customers_of_two_tenants(app: App, clock: FixedClock) -> None:
    acme_rows = load_people(app, "acme", clock)
    globex_rows = load_people(app, "globex", clock)
    resolve(app, "acme", clock)
    resolve(app, "globex", clock)
    acme, globex = golden(app, "acme"), golden(app, "globex")
    assert set(acme) == set(acme_rows.values())
    assert set(globex) == set(globex_rows.values())
    assert not set(acme.values()) & set(globex.values())
    any_acme_golden = next(iter(acme.values()))
    with UnitOfWork(app.sessions, tenant_id="globex") as uow, pytest.raises(GoldenNotFound):
        service.merge(
            uow,
            into=next(iter(globex.values())),
            other=any_acme_golden,
            actor="a",
            reason="r",
            clock=clock,
        )


def test_show_finds_a_golden_customer_by_a_member_row(app: App, clock: FixedClock) -> None:
    rows = load_people(app, "acme", clock)
    resolve(app, "acme", clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        view = service.show(uow, key=rows["jane-2"])
    assert {c["customer_id"] for c in view.customers} == {rows["jane-1"], rows["jane-2"]}
    assert len(view.history) == 2
