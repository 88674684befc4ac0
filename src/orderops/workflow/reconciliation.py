"""Reconciliation: read back what the desk delivered, and open a case where a vendor disagrees.

For one tenant, every outbox effect delivered in the last ``days`` whose lasting state a
vendor can show (``domain/reconciliation.CHECKED_PAIRS``) is read back through that
tenant's own connectors: read-only calls, a few at a time, outside any transaction. A
vendor that cannot be asked (an error, no connection, an open circuit) makes the effect
"could not check", never a disagreement: an outage must not open cases. Each disagreement
is a ``reconciliation_findings`` row, unique per outbox message, and a ``vendor_mismatch``
case on the effect's order (the desk's one open case per order and cause: a second
disagreement on the same order joins it as a timeline entry), with an audit record; a run
row keeps the counts, and is what the worker's daily pass reads to know a run is due.

An effect the desk itself undid later (a hold released by a delivered release, a label
refunded by a delivered refund) is not expected to stand, so it is not checked.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.detect.verdict import Verdict
from orderops.domain.cases import ExceptionType
from orderops.domain.clock import Clock
from orderops.domain.errors import ConfigurationError
from orderops.domain.reconciliation import (
    CHECKED_PAIRS,
    CheckedEffect,
    Disagreement,
    Observed,
    Recorded,
    checked_effect,
    compare,
)
from orderops.storage.base import new_id
from orderops.storage.repositories._dialect import insert_if_absent
from orderops.storage.tables import (
    Case,
    Order,
    OutboxMessage,
    ReconciliationFinding,
    ReconciliationRun,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow.detection import apply_verdict
from orderops.writeback.connections import ConnectorPool
from orderops.writeback.connectors.base import ConnectorError
from orderops.writeback.connectors.markers import tag_marker
from orderops.writeback.registry import Connectors
from orderops.writeback.states import OutboxStatus

ACTOR = "reconciliation"
REFUND_STATUSES_GONE = frozenset({"submitted", "refunded"})
"""EasyPost refund statuses after which the label no longer carries postage."""


class ReconcileSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDEROPS_RECONCILE_", env_file=".env", extra="ignore"
    )

    days: int = Field(default=7, ge=1, le=90)
    """How far back delivered effects are read back."""
    concurrency: int = Field(default=4, ge=1, le=16)
    """Vendor reads in flight at once for one tenant."""
    interval_hours: float = Field(default=24.0, gt=0)
    """How often the worker's full pass reconciles each tenant."""


@dataclass(frozen=True, kw_only=True)
class EffectToCheck:
    outbox_id: str
    case_id: str | None
    order_ref: str | None
    system: str
    operation: str
    recorded: Recorded
    payload: dict[str, Any]
    idempotency_key: str


@dataclass(frozen=True, kw_only=True)
class Checked:
    effect: EffectToCheck
    disagreement: Disagreement | None = None
    error: str | None = None
    """Why the vendor could not be asked; set only for "could not check"."""


@dataclass(frozen=True, kw_only=True)
class Mismatch:
    outbox_id: str
    order_ref: str | None
    system: str
    operation: str
    vendor_ref: str
    kind: str
    sentence: str
    case_id: str | None
    new: bool
    """False when an earlier run already reported this effect (no second case)."""


@dataclass(kw_only=True)
class ReconcileReport:
    run_id: str | None
    """None when there was nothing to read back (no run was recorded)."""
    days: int
    checked: int = 0
    agreed: int = 0
    disagreed: int = 0
    unchecked: int = 0
    mismatches: list[Mismatch] = field(default_factory=list)
    could_not_check: list[dict[str, str]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "days": self.days,
            "checked": self.checked,
            "agreed": self.agreed,
            "disagreed": self.disagreed,
            "could_not_check": self.unchecked,
            "disagreements": [vars(m) for m in self.mismatches],
            "unchecked": self.could_not_check,
        }


def reconcile(
    sessions: sessionmaker[Session],
    connectors: ConnectorPool,
    *,
    tenant_id: str,
    clock: Clock,
    days: int | None = None,
    concurrency: int | None = None,
    actor: str = ACTOR,
) -> ReconcileReport:
    """Read back the tenant's recent delivered effects and record what disagrees."""
    settings = ReconcileSettings()
    days = days if days is not None else settings.days
    if days < 1:
        raise ValueError("days must be at least 1")
    started = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        effects = effects_to_check(uow, since=started - timedelta(days=days))
        systems = connectors.systems(tenant_id, session=uow.session)
    tenant = connectors.for_tenant(tenant_id)
    with ThreadPoolExecutor(max_workers=concurrency or settings.concurrency) as pool:
        results = list(pool.map(lambda e: _check(tenant, systems, e), effects))
    return _record(
        sessions,
        tenant_id=tenant_id,
        results=results,
        days=days,
        started=started,
        now=clock.now(),
        actor=actor,
    )


def effects_to_check(uow: UnitOfWork, *, since: datetime) -> list[EffectToCheck]:
    """The tenant's delivered, checkable effects completed since ``since``, oldest first,
    less the ones a later delivered effect of the desk undid."""
    pairs = [
        and_(OutboxMessage.system == s, OutboxMessage.operation == o) for s, o in CHECKED_PAIRS
    ]
    undo = [
        and_(OutboxMessage.system == "shopify", OutboxMessage.operation == "release_hold"),
        and_(OutboxMessage.system == "easypost", OutboxMessage.operation == "refund_label"),
    ]
    rows = uow.session.scalars(
        select(OutboxMessage)
        .where(OutboxMessage.status == str(OutboxStatus.DELIVERED))
        .where(OutboxMessage.completed_at >= since)
        .where(or_(*pairs, *undo))
        .order_by(OutboxMessage.completed_at, OutboxMessage.id)
    ).all()
    released = {
        (r.order_ref, r.completed_at)
        for r in rows
        if (r.system, r.operation) == ("shopify", "release_hold")
    }
    refunded_labels = {
        str((r.result or {}).get("shipment_id") or r.payload.get("shipment_id"))
        for r in rows
        if (r.system, r.operation) == ("easypost", "refund_label")
    }
    found: list[EffectToCheck] = []
    for row in rows:
        effect = checked_effect(row.system, row.operation)
        if effect is None or row.completed_at is None:
            continue
        recorded = _recorded(effect, row)
        if recorded is None:
            continue
        if effect is CheckedEffect.SHOPIFY_HOLD and any(
            ref == row.order_ref and at is not None and at >= row.completed_at
            for ref, at in released
        ):
            continue
        if effect is CheckedEffect.EASYPOST_LABEL and recorded.vendor_ref in refunded_labels:
            continue
        found.append(
            EffectToCheck(
                outbox_id=row.id,
                case_id=row.case_id,
                order_ref=row.order_ref,
                system=row.system,
                operation=row.operation,
                recorded=recorded,
                payload=dict(row.payload),
                idempotency_key=row.idempotency_key,
            )
        )
    return found


def _recorded(effect: CheckedEffect, row: OutboxMessage) -> Recorded | None:
    """Our record of the effect from the delivery's result; None when the result names
    nothing to read back (a hold that found nothing to hold)."""
    result = row.result or {}
    if effect is CheckedEffect.STRIPE_REFUND:
        if not result.get("refund_id"):
            return None
        return Recorded(
            effect=effect,
            vendor_ref=str(result["refund_id"]),
            amount_minor=int(result.get("amount_minor", row.payload["amount_minor"])),
        )
    if effect is CheckedEffect.SHOPIFY_HOLD:
        ids = result.get("fulfillment_order_ids") or []
        return Recorded(effect=effect, vendor_ref=",".join(str(i) for i in ids)) if ids else None
    if effect is CheckedEffect.EASYPOST_LABEL:
        shipment = result.get("shipment_id")
        return Recorded(effect=effect, vendor_ref=str(shipment)) if shipment else None
    ticket = row.payload.get("ticket_id")
    return Recorded(effect=effect, vendor_ref=str(ticket)) if ticket is not None else None


def _check(connectors: Connectors, systems: frozenset[str], effect: EffectToCheck) -> Checked:
    if effect.system not in systems:
        return Checked(effect=effect, error=f"{effect.system} is not connected for this tenant")
    try:
        observed = observe(connectors, effect)
    except ConnectorError as error:
        if error.status == 404:
            observed = Observed(found=False)
        else:
            return Checked(effect=effect, error=f"{effect.system}: {error}")
    except ConfigurationError as error:
        return Checked(effect=effect, error=str(error))
    return Checked(effect=effect, disagreement=compare(effect.recorded, observed))


def observe(connectors: Connectors, effect: EffectToCheck) -> Observed:
    """The vendor's current state of one effect, by read-only calls."""
    kind, ref = effect.recorded.effect, effect.recorded.vendor_ref
    if kind is CheckedEffect.STRIPE_REFUND:
        refunds = connectors.stripe().list_refunds(str(effect.payload["payment_intent"]))
        refund = next((r for r in refunds if r.refund_id == ref), None)
        if refund is None:
            return Observed(found=False)
        return Observed(found=True, amount_minor=refund.amount_minor, status=refund.status)
    if kind is CheckedEffect.SHOPIFY_HOLD:
        shopify = connectors.shopify()
        states = [shopify.get_fulfillment_order(int(i)) for i in ref.split(",")]
        released = next((s for s in states if s.status != "on_hold"), None)
        return Observed(
            found=True,
            present=released is None,
            status=None if released is None else released.status,
        )
    if kind is CheckedEffect.EASYPOST_LABEL:
        shipment = connectors.easypost().get_shipment(ref)
        voided = shipment.tracking_code is None or shipment.refund_status in REFUND_STATUSES_GONE
        return Observed(found=True, present=not voided, status=shipment.refund_status)
    zendesk = connectors.zendesk()
    comments = zendesk.list_comments(int(ref))
    posted = str(effect.payload.get("comment") or "")
    present = any(posted and posted in body for body in comments)
    if not present:  # the comment text may be rendered; our marker tag still says it
        present = tag_marker(effect.idempotency_key) in zendesk.get_ticket(int(ref)).tags
    return Observed(found=True, present=present)


def _record(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    results: Sequence[Checked],
    days: int,
    started: datetime,
    now: datetime,
    actor: str,
) -> ReconcileReport:
    report = ReconcileReport(run_id=None, days=days)
    if not results:
        # Nothing delivered to read back: no run row and no audit record, so a quiet
        # tenant's log is not filled with empty runs (the next pass simply looks again).
        return report
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        run = ReconciliationRun(
            id=new_id(),
            tenant_id=tenant_id,
            started_at=started,
            finished_at=now,
            days=days,
            checked=0,
            agreed=0,
            disagreed=0,
            unchecked=0,
            actor=actor,
        )
        uow.session.add(run)
        uow.session.flush()
        report.run_id = run.id
        for checked in results:
            if checked.error is not None:
                report.unchecked += 1
                report.could_not_check.append(
                    {"outbox_id": checked.effect.outbox_id, "reason": checked.error}
                )
                continue
            report.checked += 1
            if checked.disagreement is None:
                report.agreed += 1
                continue
            report.disagreed += 1
            report.mismatches.append(
                _report_mismatch(uow, checked.effect, checked.disagreement, run_id=run.id, now=now)
            )
        run.checked, run.agreed = report.checked, report.agreed
        run.disagreed, run.unchecked = report.disagreed, report.unchecked
        uow.audit.append(
            at=now,
            actor=actor,
            action="reconciliation.run",
            entity_type="reconciliation_run",
            entity_id=run.id,
            data={
                "days": days,
                "checked": report.checked,
                "agreed": report.agreed,
                "disagreed": report.disagreed,
                "could_not_check": report.unchecked,
            },
        )
        uow.commit()
    return report


def _report_mismatch(
    uow: UnitOfWork,
    effect: EffectToCheck,
    disagreement: Disagreement,
    *,
    run_id: str,
    now: datetime,
) -> Mismatch:
    """The finding once per effect (the unique key decides a race), and with it the case."""
    finding_id = new_id()
    values = {
        "id": finding_id,
        "tenant_id": uow.tenant_id,
        "outbox_id": effect.outbox_id,
        "run_id": run_id,
        "case_id": None,
        "order_ref": effect.order_ref,
        "system": effect.system,
        "operation": effect.operation,
        "vendor_ref": effect.recorded.vendor_ref,
        "kind": str(disagreement.kind),
        "sentence": disagreement.sentence,
        "detail": disagreement.as_json(),
        "found_at": now,
    }
    new = insert_if_absent(uow.session, ReconciliationFinding.__table__, values)  # type: ignore[arg-type]
    finding = uow.session.scalars(
        select(ReconciliationFinding).where(ReconciliationFinding.outbox_id == effect.outbox_id)
    ).one()
    if new:
        finding.case_id = _open_case(uow, effect, disagreement, now=now)
        uow.audit.append(
            at=now,
            actor=ACTOR,
            action="reconciliation.mismatch",
            entity_type="outbox",
            entity_id=effect.outbox_id,
            data={**disagreement.as_json(), "case_id": finding.case_id, "run_id": run_id},
        )
    return Mismatch(
        outbox_id=effect.outbox_id,
        order_ref=effect.order_ref,
        system=effect.system,
        operation=effect.operation,
        vendor_ref=finding.vendor_ref,
        kind=finding.kind,
        sentence=finding.sentence,
        case_id=finding.case_id,
        new=new,
    )


def _open_case(
    uow: UnitOfWork, effect: EffectToCheck, disagreement: Disagreement, *, now: datetime
) -> str | None:
    order = _order_of(uow, effect)
    if order is None:
        return None
    verdict = Verdict(
        exception_type=ExceptionType.VENDOR_MISMATCH,
        detected=True,
        cleared=False,
        summary=disagreement.sentence,
        evidence_key=f"reconcile:{effect.outbox_id}",
        facts={
            "outbox_id": effect.outbox_id,
            "system": effect.system,
            "operation": effect.operation,
            "vendor_ref": effect.recorded.vendor_ref,
            "source_case_id": effect.case_id,
            **disagreement.as_json(),
        },
        detected_at=now,
    )
    apply_verdict(
        uow,
        order,
        verdict,
        cases=uow.cases.by_type_for_order(order.id),
        now=now,
        inbox_id=None,
        may_open=True,
    )
    case = uow.cases.by_type_for_order(order.id).get(ExceptionType.VENDOR_MISMATCH)
    return case.id if case is not None else None


def _order_of(uow: UnitOfWork, effect: EffectToCheck) -> Order | None:
    if effect.case_id is not None:
        case = uow.session.get(Case, effect.case_id)
        if case is not None:
            return uow.session.get(Order, case.order_id)
    return uow.commerce.order_by_ref(effect.order_ref) if effect.order_ref else None


def reconcile_if_due(
    sessions: sessionmaker[Session], connectors: ConnectorPool, *, tenant_id: str, clock: Clock
) -> ReconcileReport | None:
    """The worker's daily step: a run when the tenant's latest is older than the interval."""
    interval = timedelta(hours=ReconcileSettings().interval_hours)
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        latest = uow.session.scalar(
            select(ReconciliationRun.started_at)
            .order_by(ReconciliationRun.started_at.desc())
            .limit(1)
        )
    if latest is not None and clock.now() - latest < interval:
        return None
    return reconcile(sessions, connectors, tenant_id=tenant_id, clock=clock)
