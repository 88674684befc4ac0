"""What a link decision does to cases: a "link" note on every open case of the orders
involved, the orders judged again, and the cases whose evidence left with the record
resolved.

Detectors clear a case when its blocker is gone, not when its evidence is: three tickets
that become two are no longer "chasing", yet nothing was fixed. So a case whose exception
an order showed before a record left it, and no longer shows, is resolved here, because
the record that raised it was never the order's.

A running shadow candidate judges the orders again beside live (workflow/shadow_judge.py),
so a case a link opens is not counted as one only live would open.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orderops.cases.cases import CaseEvent, record
from orderops.detect.registry import DETECTORS
from orderops.detect.verdict import clear
from orderops.domain.cases import CaseStatus, ExceptionType, is_open
from orderops.resolve.links import RecordType
from orderops.resolve.rollups import refresh_order_rollups
from orderops.storage.tables import Order
from orderops.storage.uow import UnitOfWork
from orderops.workflow.detection import apply_verdict, detector_config, evaluate_order, snapshot
from orderops.workflow.shadow_judge import judge_in_shadow, running_shadow

ROLLUP_RECORDS = frozenset({RecordType.PAYMENT, RecordType.SHIPMENT})
"""Records an order's money and delivery roll-ups are computed from."""


@dataclass(frozen=True)
class Note:
    """The timeline entry a decision leaves on the cases it touches."""

    summary: str
    data: dict[str, Any]


def rejudge(
    uow: UnitOfWork,
    kind: RecordType,
    orders: Sequence[Order],
    entry: Note,
    *,
    before: dict[str, set[str]],
    actor: str,
    now: datetime,
) -> tuple[CaseEvent, ...]:
    """Note the move on every open case of the orders, then judge each order again; a
    case the move opens gets the note too, so it says why it exists. ``before``: what
    each order the record left showed before it left (see the module's docstring)."""
    uow.session.flush()
    noted: set[str] = set()
    _note(uow, orders, entry, actor=actor, now=now, skip=noted)
    changes: list[CaseEvent] = []
    shadow = running_shadow(uow)
    for order in orders:
        if kind in ROLLUP_RECORDS:
            refresh_order_rollups(uow.commerce, order)
        changes += evaluate_order(uow, order, now=now, from_sweep=False)
        if shadow is not None:  # a case the move opens live is one the candidate judges too
            judge_in_shadow(uow, shadow, order, now=now, inbox_id=None)
        gone = before.get(order.order_ref, set()) - detected(uow, [order], now=now)[order.order_ref]
        for exception_type in sorted(gone):
            changes += _withdraw(uow, order, ExceptionType(exception_type), entry, now=now)
    _note(uow, orders, entry, actor=actor, now=now, skip=noted)
    return tuple(changes)


def _withdraw(
    uow: UnitOfWork, order: Order, exception_type: ExceptionType, entry: Note, *, now: datetime
) -> list[CaseEvent]:
    """Resolve the case whose evidence left with the record, and let it forget that
    evidence: the signal was withdrawn, not handled, so if the record comes back (a
    relink) the same signal reopens the case instead of being taken as already covered."""
    cases = uow.cases.by_type_for_order(order.id)
    verdict = clear(exception_type, f"{entry.summary}; no longer detected")
    changes = apply_verdict(
        uow, order, verdict, cases=cases, now=now, inbox_id=None, may_open=False
    )
    case = cases.get(exception_type)
    if changes and case is not None and case.facts.get("evidence_key"):
        withdrawn = case.facts["evidence_key"]
        case.facts = {**case.facts, "evidence_key": None, "withdrawn_evidence_key": withdrawn}
    return changes


def detected(uow: UnitOfWork, orders: Iterable[Order], *, now: datetime) -> dict[str, set[str]]:
    """Per order, the exception types its detectors find on its facts as they are now."""
    config = detector_config(uow)
    found: dict[str, set[str]] = {}
    for order in orders:
        facts = snapshot(uow, order)
        found[order.order_ref] = {
            str(detector.exception_type)
            for detector in DETECTORS
            if config.enabled(detector.exception_type)
            and detector.judge(
                facts, now=now, thresholds=config.thresholds(detector.exception_type)
            ).detected
        }
    return found


def _note(
    uow: UnitOfWork,
    orders: Iterable[Order],
    entry: Note,
    *,
    actor: str,
    now: datetime,
    skip: set[str],
) -> None:
    for order in orders:
        for case in uow.cases.by_type_for_order(order.id).values():
            if case.id in skip or not is_open(CaseStatus(case.status)):
                continue
            skip.add(case.id)
            record(
                uow, case, at=now, actor=actor, kind="link", summary=entry.summary, data=entry.data
            )
