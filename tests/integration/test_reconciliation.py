"""Reconciliation against the vendor sandboxes: a refund changed at Stripe after the desk
delivered it is found, and opens one case however often reconciliation runs; an agreeing
refund opens nothing; a vendor that errors is "could not check"; one tenant's effects are
never read with another's credentials."""

from __future__ import annotations

import json
from datetime import timedelta

import typer
from sqlalchemy import func, select
from typer.testing import CliRunner

from builders.writeback import (
    Sandboxes,
    drain,
    make_case,
)
from orderops.bootstrap import App
from orderops.commands import reconcile as reconcile_commands
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import FixedClock
from orderops.sandbox import Fault, FaultKind
from orderops.storage.tables import (
    AuditRecord,
    Case,
    OutboxMessage,
    ReconciliationFinding,
    ReconciliationRun,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow.reconciliation import reconcile, reconcile_if_due
from orderops.workflow.writeback_worker import WritebackRuntime
from orderops.writeback.outbox import enqueue


def refund_delivered(
    app: App, clock: FixedClock, box: Sandboxes, runtime: WritebackRuntime, *, ref: str
) -> tuple[str, str]:
    """An order with a case, a 2000 refund of its 5000 payment delivered to Stripe: the
    outbox id and Stripe's refund id."""
    case_id = make_case(app, clock, order_ref=ref)
    intent = box.stripe.add_payment_intent(amount=5000)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        message_id = enqueue(
            uow,
            system="stripe",
            operation="refund",
            idempotency_key=f"refund-{ref}",
            payload={
                "payment_intent": intent,
                "amount_minor": 2000,
                "order_ref": ref,
                "currency": "USD",
                "expect": {"status": "succeeded", "refunded_minor": 0},
            },
            now=clock.now(),
            case_id=case_id,
            order_ref=ref,
        )
        uow.commit()
    drain(app, runtime, clock)
    (refund,) = box.stripe.refunds_for(intent)
    return message_id, str(refund["id"])


def mismatch_cases(app: App, tenant: str = "acme") -> list[Case]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = list(
            uow.session.scalars(
                select(Case).where(Case.exception_type == ExceptionType.VENDOR_MISMATCH)
            )
        )
        uow.session.expunge_all()
        return rows


def count(app: App, model: type, tenant: str = "acme") -> int:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        return int(uow.session.scalar(select(func.count()).select_from(model)) or 0)


def test_a_refund_changed_at_stripe_opens_one_case_even_when_run_twice(
    app: App, clock: FixedClock, sandboxes: Sandboxes, runtime: WritebackRuntime
) -> None:
    message_id, refund_id = refund_delivered(app, clock, sandboxes, runtime, ref="R-1")
    sandboxes.stripe.amend_refund(refund_id, amount=1500)

    first = reconcile(app.sessions, runtime.connectors, tenant_id="acme", clock=clock)
    second = reconcile(app.sessions, runtime.connectors, tenant_id="acme", clock=clock)

    assert (first.checked, first.agreed, first.disagreed, first.unchecked) == (1, 0, 1, 0)
    (found,) = first.mismatches
    assert (found.outbox_id, found.vendor_ref, found.kind, found.new) == (
        message_id,
        refund_id,
        "amount_differs",
        True,
    )
    assert "1500" in found.sentence
    assert "2000" in found.sentence
    (case,) = mismatch_cases(app)
    assert case.id == found.case_id
    assert case.order_ref == "R-1"
    assert case.facts["outbox_id"] == message_id
    assert case.facts["actual"] == 1500
    assert second.disagreed == 1
    assert second.mismatches[0].new is False
    assert second.mismatches[0].case_id == case.id
    assert len(mismatch_cases(app)) == 1
    assert count(app, ReconciliationFinding) == 1
    assert count(app, ReconciliationRun) == 2
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        actions = list(
            uow.session.scalars(
                select(AuditRecord.action).where(AuditRecord.action.like("reconciliation.%"))
            )
        )
    assert sorted(actions) == [
        "reconciliation.mismatch",
        "reconciliation.run",
        "reconciliation.run",
    ]


def test_an_agreeing_refund_opens_nothing_and_an_old_one_is_not_read(
    app: App, clock: FixedClock, sandboxes: Sandboxes, runtime: WritebackRuntime
) -> None:
    refund_delivered(app, clock, sandboxes, runtime, ref="R-2")
    before = len(sandboxes.stripe.control.requests())

    agreed = reconcile(app.sessions, runtime.connectors, tenant_id="acme", clock=clock)
    reads = sandboxes.stripe.control.requests()[before:]
    clock.advance(timedelta(days=8))
    too_old = reconcile(app.sessions, runtime.connectors, tenant_id="acme", clock=clock)

    assert (agreed.checked, agreed.agreed, agreed.disagreed) == (1, 1, 0)
    assert reads
    assert all(method == "GET" for method, _ in reads)
    assert mismatch_cases(app) == []
    assert (too_old.checked, too_old.run_id) == (0, None)


def test_a_vendor_answering_500_is_could_not_check_never_a_disagreement(
    app: App, clock: FixedClock, sandboxes: Sandboxes, runtime: WritebackRuntime
) -> None:
    _, refund_id = refund_delivered(app, clock, sandboxes, runtime, ref="R-3")
    sandboxes.stripe.amend_refund(refund_id, amount=100)
    sandboxes.stripe.control.inject(
        Fault(kind=FaultKind.SERVER_ERROR, status=500, count=10, method="GET")
    )

    report = reconcile(app.sessions, runtime.connectors, tenant_id="acme", clock=clock)

    assert (report.checked, report.disagreed, report.unchecked) == (0, 0, 1)
    assert "stripe" in report.could_not_check[0]["reason"]
    assert mismatch_cases(app) == []
    assert count(app, ReconciliationFinding) == 0


def test_another_tenants_effects_are_never_read_with_this_tenants_credentials(
    app: App, clock: FixedClock, sandboxes: Sandboxes, runtime: WritebackRuntime
) -> None:
    """Globex holds a delivered refund naming acme's Stripe refund (forged, or a bad
    import); globex has no Stripe connection. Acme's run reads only acme's effect, and
    globex's run asks nobody."""
    _, refund_id = refund_delivered(app, clock, sandboxes, runtime, ref="R-4")
    (intent,) = {r.payload["payment_intent"] for r in _outbox(app, "acme")}
    with UnitOfWork(app.sessions, tenant_id="globex") as uow:
        forged = enqueue(
            uow,
            system="stripe",
            operation="refund",
            idempotency_key="forged",
            payload={"payment_intent": intent, "amount_minor": 9999},
            now=clock.now(),
            order_ref="R-4",
        )
        row = uow.session.get(OutboxMessage, forged)
        assert row is not None
        row.status, row.completed_at = "delivered", clock.now()
        row.result = {"refund_id": refund_id, "amount_minor": 9999}
        uow.commit()
    before = len(sandboxes.stripe.control.requests())

    acme = reconcile(app.sessions, runtime.connectors, tenant_id="acme", clock=clock)
    after_acme = len(sandboxes.stripe.control.requests())
    globex = reconcile(app.sessions, runtime.connectors, tenant_id="globex", clock=clock)

    assert (acme.checked, acme.agreed, acme.disagreed) == (1, 1, 0)
    assert after_acme - before == 1  # acme's one effect, one list of its intent's refunds
    assert (globex.checked, globex.unchecked) == (0, 1)
    assert "not connected" in globex.could_not_check[0]["reason"]
    assert len(sandboxes.stripe.control.requests()) == after_acme
    assert mismatch_cases(app, "globex") == []
    assert count(app, ReconciliationFinding, "globex") == 0


def test_the_worker_step_runs_once_per_interval(
    app: App, clock: FixedClock, sandboxes: Sandboxes, runtime: WritebackRuntime
) -> None:
    refund_delivered(app, clock, sandboxes, runtime, ref="R-5")

    first = reconcile_if_due(app.sessions, runtime.connectors, tenant_id="acme", clock=clock)
    clock.advance(timedelta(hours=23))
    too_soon = reconcile_if_due(app.sessions, runtime.connectors, tenant_id="acme", clock=clock)
    clock.advance(timedelta(hours=2))
    next_day = reconcile_if_due(app.sessions, runtime.connectors, tenant_id="acme", clock=clock)

    assert first is not None
    assert first.checked == 1
    assert too_soon is None
    assert next_day is not None
    assert next_day.checked == 1
    assert count(app, ReconciliationRun) == 2


def _outbox(app: App, tenant: str) -> list[OutboxMessage]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        rows = list(uow.session.scalars(select(OutboxMessage)))
        uow.session.expunge_all()
        return rows


def _cli(app: App, runtime: WritebackRuntime, *args: str) -> tuple[int, str]:
    cli = typer.Typer()

    @cli.callback()
    def root() -> None:
        """Keep `reconcile` a named subcommand."""

    reconcile_commands.register(
        cli, make_app=lambda: app, make_pool=lambda _app: runtime.connectors
    )
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_the_cli_prints_the_counts_and_each_disagreement_and_json(
    app: App, clock: FixedClock, sandboxes: Sandboxes, runtime: WritebackRuntime
) -> None:
    _, refund_id = refund_delivered(app, clock, sandboxes, runtime, ref="R-6")
    sandboxes.stripe.amend_refund(refund_id, status="canceled")

    code, text = _cli(app, runtime, "reconcile", "--tenant", "acme", "--days", "3")
    code_json, raw = _cli(app, runtime, "reconcile", "--tenant", "acme", "--json")
    bad_days, _ = _cli(app, runtime, "reconcile", "--tenant", "acme", "--days", "0")

    assert code == 0
    assert "checked 1  agreed 0  disagreed 1  could not check 0  (last 3 days)" in text
    assert refund_id in text
    assert "refund_not_succeeded" in text
    assert "new" in text
    assert code_json == 0
    report = json.loads(raw)
    assert (report["checked"], report["disagreed"], report["could_not_check"]) == (1, 1, 0)
    assert report["days"] == 7
    assert report["disagreements"][0]["vendor_ref"] == refund_id
    assert report["disagreements"][0]["new"] is False
    assert bad_days == 2
    assert len(mismatch_cases(app)) == 1
