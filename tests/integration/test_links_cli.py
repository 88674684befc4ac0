"""`orderops links ...` decides what resolve left for a person; `orderops resolve backfill`
names the rows stored before resolve existed, so records waiting on those names go on.

Same services as the API: accepting links the third ticket (customer_chasing opens),
unlinking takes it off (the case resolves, the link stays, revoked), a second decision
and an order that was not offered are refused with the reason and exit 1.
"""

from __future__ import annotations

from datetime import timedelta

import typer
from sqlalchemy import delete, select
from typer.testing import CliRunner, Result

from builders.events import envelope, order_placed, payment, shipment
from builders.links import LinkWorld, audit_actions, suggested_ticket, ticket, ticket_order
from orderops.bootstrap import App
from orderops.commands import links as links_commands
from orderops.domain.clock import FixedClock
from orderops.resolve.aliases import AliasStore
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import EntityAlias, InboxEvent, LinkSuggestion
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import process_pending


def _run(app: App, *args: str) -> Result:
    cli = typer.Typer()
    links_commands.register(cli, make_app=lambda: app)
    return CliRunner().invoke(cli, list(args))


def _link_id(app: App, world: LinkWorld) -> str:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        chosen = uow.session.scalar(
            select(LinkSuggestion).where(LinkSuggestion.id == world.suggestion_id)
        )
        assert chosen is not None
        assert chosen.status == "accepted"
        return (
            ResolveRepository(uow.session, "acme")
            .links_for_record("ticket", world.record_ref)[0]
            .id
        )


def test_suggestions_accept_show_unlink_and_relink(app: App, clock: FixedClock) -> None:
    world = suggested_ticket(app, clock)

    listed = _run(app, "links", "suggestions", "--tenant", "acme")
    assert listed.exit_code == 0, listed.output
    assert world.suggestion_id in listed.output
    assert f"{world.order_a} #{world.number_a}: requester wrote to A" in listed.output
    assert f"{world.order_b} #{world.number_b}: requester wrote to B" in listed.output

    accepted = _run(
        app,
        "links", "accept", world.suggestion_id, "--order", world.order_a,
        "--tenant", "acme", "--reason", "order number in the phone note", "--actor", "user:ops-1",
    )  # fmt: skip
    assert accepted.exit_code == 0, accepted.output
    assert "suggestion accepted" in accepted.output
    assert f"case opened: customer_chasing on {world.order_a}" in accepted.output
    assert ticket_order(app, world) == world.order_a
    assert ("record.linked", "user:ops-1") in [(a, who) for a, who, _ in audit_actions(app)]
    link_id = _link_id(app, world)

    shown = _run(app, "links", "show", "--order", world.order_a, "--tenant", "acme")
    assert shown.exit_code == 0, shown.output
    assert link_id in shown.output
    assert "order number in the phone note" in shown.output
    assert "active" in shown.output

    unlinked = _run(
        app, "links", "unlink", link_id, "--reason", "a colleague's mistake", "--tenant", "acme"
    )
    assert unlinked.exit_code == 0, unlinked.output
    assert f"case resolved: customer_chasing on {world.order_a}" in unlinked.output
    assert ticket_order(app, world) is None
    shown = _run(app, "links", "show", "--order", world.order_a, "--tenant", "acme")
    assert "revoked" in shown.output
    assert "a colleague's mistake" in shown.output

    relinked = _run(
        app,
        "links", "link", "ticket", world.record_ref, "--order", world.order_a,
        "--reason", "it was theirs after all", "--tenant", "acme",
    )  # fmt: skip
    assert relinked.exit_code == 0, relinked.output
    assert f"case reopened: customer_chasing on {world.order_a}" in relinked.output
    assert link_id not in relinked.output  # a new link row, the revoked one kept
    assert ticket_order(app, world) == world.order_a


def test_refusals_print_the_reason_and_exit_1(app: App, clock: FixedClock) -> None:
    world = suggested_ticket(app, clock)
    other = suggested_ticket(app, clock)

    not_offered = _run(
        app, "links", "accept", world.suggestion_id, "--order", other.order_a, "--tenant", "acme"
    )
    assert not_offered.exit_code == 1
    assert f"order {other.order_a} is not a candidate" in not_offered.output

    rejected = _run(
        app, "links", "reject", world.suggestion_id, "--reason", "another shop", "--tenant", "acme"
    )
    assert rejected.exit_code == 0, rejected.output
    assert "suggestion rejected" in rejected.output
    again = _run(
        app, "links", "accept", world.suggestion_id, "--order", world.order_a, "--tenant", "acme"
    )
    assert again.exit_code == 1
    assert "rejected already" in again.output
    assert ticket_order(app, world) is None

    elsewhere = _run(
        app, "links", "accept", other.suggestion_id, "--order", other.order_a, "--tenant", "globex"
    )
    assert elsewhere.exit_code == 1
    assert f"no link suggestion {other.suggestion_id}" in elsewhere.output
    assert _run(app, "links", "unlink", "nope", "--reason", "r", "--tenant", "acme").exit_code == 1
    unknown = _run(app, "links", "show", "--order", "no-such-order", "--tenant", "acme")
    assert unknown.exit_code == 1
    assert "no order no-such-order" in unknown.output
    bad_status = _run(app, "links", "suggestions", "--status", "maybe", "--tenant", "acme")
    assert bad_status.exit_code == 2


def test_a_payment_moved_by_hand_changes_both_orders_money(app: App, clock: FixedClock) -> None:
    now = clock.now()
    items = [
        order_placed("o-pay-1", at=now - timedelta(hours=3), number="5101", total_minor=4000),
        order_placed("o-pay-2", at=now - timedelta(hours=2), number="5102", total_minor=4000),
        payment("o-pay-1", status="captured", at=now - timedelta(hours=1), payment_ref="pi_m",
                amount_minor=4000),
    ]  # fmt: skip
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="t", clock=clock)
    assert report.rejected == []
    moved = _run(
        app,
        "links", "link", "payment", "stripe:pi_m", "--order", "o-pay-2",
        "--reason", "paid on the second checkout", "--tenant", "acme",
    )  # fmt: skip
    assert moved.exit_code == 0, moved.output
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        first, second = uow.commerce.order_by_ref("o-pay-1"), uow.commerce.order_by_ref("o-pay-2")
        assert first is not None
        assert second is not None
        assert (first.financial_status, second.financial_status) == ("pending", "paid")
    unknown_type = _run(
        app, "links", "link", "invoice", "x:1", "--order", "o-pay-2", "--reason", "r", "-t", "acme"
    )
    assert unknown_type.exit_code == 1
    assert "unknown record type 'invoice'" in unknown_type.output


def test_backfill_names_rows_stored_before_resolve_and_releases_what_waited(
    app: App, clock: FixedClock
) -> None:
    now = clock.now()
    before = [
        order_placed("4411223344556", at=now - timedelta(days=2), number="#1538"),
        payment("4411223344556", status="captured", at=now - timedelta(days=2), payment_ref="pi_B"),
        shipment("4411223344556", at=now - timedelta(days=1), tracking="1Z 999 AA1"),
        ticket("8001", at=now - timedelta(hours=6), order_ref="4411223344556"),
    ]
    ingest_items(app.sessions, tenant_id="acme", items=before, channel="t", clock=clock)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:  # as migration 0016 found them
        uow.session.execute(delete(EntityAlias).where(EntityAlias.tenant_id == "acme"))
        uow.commit()
    dispute = envelope(
        "fraud.signal",
        {
            "kind": "dispute",
            "signal_ref": "dp_1",
            "order_keys": [{"kind": "stripe.payment_intent", "value": "pi_B"}],
        },
        at=now - timedelta(hours=1),
        source="test://stripe",
    )
    ingest_items(app.sessions, tenant_id="acme", items=[dispute], channel="t", clock=clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        waiting = uow.session.scalars(
            select(InboxEvent.status).where(InboxEvent.type == "fraud.signal")
        ).all()
    assert waiting == ["deferred"]
    listed = _run(app, "resolve", "waiting", "--tenant", "acme")
    assert listed.exit_code == 0, listed.output
    assert "1 records waiting" in listed.output
    assert "waits for stripe.payment_intent:pi_B" in listed.output

    first = _run(app, "resolve", "backfill", "--tenant", "acme")
    assert first.exit_code == 0, first.output
    assert "1 waiting records released" in first.output
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        store = AliasStore(ResolveRepository(uow.session, "acme"))
        assert store.lookup("order.number", "1538") == [("order", "4411223344556")]
        paid, asked = uow.commerce.payment("stripe", "pi_B"), uow.commerce.ticket("zendesk", "8001")
        assert paid is not None
        assert asked is not None
        assert store.lookup("stripe.payment_intent", "pi_B") == [("payment", paid.id)]
        assert store.lookup("zendesk.ticket", "8001") == [("ticket", asked.id)]
        [(kind, shipment_id)] = store.lookup("tracking", "1z999aa1")
        assert kind == "shipment"
        assert uow.commerce.shipment_by_id(shipment_id) is not None
        assert store.lookup("email", "4411223344556@example.com")[0][0] == "customer"

    process_pending(app.sessions, tenant_id="acme", clock=clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        kinds = [s.kind for s in uow.commerce.fraud_signals_for("4411223344556")]
    assert kinds == ["dispute"]
    assert "0 records waiting" in _run(app, "resolve", "waiting", "--tenant", "acme").output

    second = _run(app, "resolve", "backfill", "--tenant", "acme")
    assert second.exit_code == 0, second.output
    assert "registered 0 aliases; 0 waiting records released" in second.output
