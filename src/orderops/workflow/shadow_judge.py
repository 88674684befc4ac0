"""Judging an order with the tenant's shadow candidate, beside the live judgement.

The pipeline calls :func:`running_shadow` for each event it applies: one query per
processing chunk (kept with the chunk's rows, ``storage/repositories/loaded.py``), a
dictionary lookup for the chunk's other events. Only when a candidate is running does it
call :func:`judge_in_shadow` for each order the event touched, on the state the live
judgement just judged. That runs the detectors with the candidate's thresholds under the
live rules of when a case may open (an event never opens a time-based verdict; the
worker's sweep, which calls it too, opens any), and writes ``shadow_decisions`` rows only:
never a case, timeline entry, action, outbox row, message or notice.

Time-based verdicts need the sweep to come when the *candidate's* deadline passes, not
only the live one's: the candidate's earliest recheck lowers the order's
``next_check_at`` (the one live column shadow mode writes). A sweep visiting an order
early changes nothing live: detectors judge state, and the live next check is set again
by the live judgement at every visit, as after any event.

For each case the candidate would open it records what it would do next, and what the live
policy does on the same facts, judged the same way (so a candidate equal to live differs
in nothing): the queue and priority the routing rules give, the playbook's top
recommendation and the money it moves, and who the approval policy would have approve it.

A failure in shadow code must never cost a live event: it runs in a savepoint of its own,
and anything but a transient database error is logged, and the event goes on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.cases.routing import routing_input
from orderops.detect.registry import DETECTORS
from orderops.detect.silence import SOURCE_PREFIX
from orderops.detect.thresholds import DEFAULT_CONFIG, DetectorConfig, config_from_policy
from orderops.detect.verdict import Detector, Verdict
from orderops.domain.approval_policy import DecisionInputs, evaluate
from orderops.domain.cases import CaseStatus, is_open
from orderops.domain.policy import promise_for
from orderops.domain.routing import RoutingInput, route
from orderops.recommend.engine import recommend
from orderops.recommend.facts import CaseFacts
from orderops.recommend.store_facts import case_facts
from orderops.storage.repositories.loaded import loaded_rows
from orderops.storage.tables import Case, Order
from orderops.storage.tables.shadow import ShadowCandidate, ShadowDecision
from orderops.storage.transient import transient_kind
from orderops.storage.uow import UnitOfWork
from orderops.workflow.candidate_policy import CandidatePolicy, parse_candidate, resolved
from orderops.workflow.detection import snapshot

log = logging.getLogger(__name__)

RUNNING = ("active", "promotion_proposed")
OPEN, CLEARED = "open", "cleared"
_PARSED: dict[str, CandidatePolicy] = {}


@dataclass(frozen=True)
class RunningShadow:
    """The tenant's running candidate, resolved against the live policy of this chunk."""

    candidate_id: str
    candidate: CandidatePolicy
    live: CandidatePolicy
    config: DetectorConfig


def running_shadow(uow: UnitOfWork) -> RunningShadow | None:
    """The tenant's running candidate, read once per processing chunk."""
    loaded = loaded_rows(uow.session)
    if loaded is not None and loaded.tenant_id == uow.tenant_id:
        return loaded.value("shadow_candidate", lambda: _read(uow))
    return _read(uow)


def _read(uow: UnitOfWork) -> RunningShadow | None:
    row = uow.session.execute(
        select(ShadowCandidate.id, ShadowCandidate.text).where(
            ShadowCandidate.tenant_id == uow.tenant_id, ShadowCandidate.status.in_(RUNNING)
        )
    ).first()
    if row is None:
        return None
    candidate_id, text = row
    key = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if key not in _PARSED:
        _PARSED[key] = parse_candidate(text)  # validated when registered
    live = resolved(uow, CandidatePolicy(None, None, None, None, text=""))
    candidate = resolved(uow, _PARSED[key])
    config = (
        config_from_policy(candidate.fulfillment, strict=False)
        if candidate.fulfillment is not None
        else DEFAULT_CONFIG
    )
    return RunningShadow(candidate_id, candidate, live, config)


def judge_in_shadow(
    uow: UnitOfWork,
    shadow: RunningShadow,
    order: Order,
    *,
    now: datetime,
    inbox_id: str | None,
    from_sweep: bool = False,
    detectors: Sequence[Detector] = DETECTORS,
) -> None:
    """Record what the candidate would open and clear for ``order``; see the module doc.
    ``from_sweep``: the worker's sweep is judging, so time-based verdicts may open, as
    they do live; ``detectors`` are the ones live just ran (the tenant's delay scorer)."""
    if order.order_ref.startswith(SOURCE_PREFIX):
        return  # a source's stand-in: the sweep judges it with judge_source_in_shadow
    try:
        verdicts = _verdicts(
            uow, shadow, order, now=now, from_sweep=from_sweep, detectors=detectors
        )
        _schedule(order, verdicts, now=now)
        _record(uow, shadow, order, verdicts, now=now, inbox_id=inbox_id)
    except Exception as exc:  # shadow code must never fail a live event
        if transient_kind(exc) is not None:
            raise
        log.exception("shadow judgement of order %s failed; the live one stands", order.id)


def judge_source_in_shadow(
    uow: UnitOfWork, shadow: RunningShadow, order: Order, verdict: Verdict, *, now: datetime
) -> None:
    """Record the candidate's silence verdict for a source, on the stand-in order its
    cases hang on (``workflow/sweeps.sweep_sources``, which judged it with the
    candidate's thresholds); a sweep may open it, as live."""
    try:
        _record(uow, shadow, order, [(verdict, True)], now=now, inbox_id=None)
    except Exception as exc:  # shadow code must never fail a live sweep
        if transient_kind(exc) is not None:
            raise
        log.exception("shadow judgement of source %s failed; the live one stands", order.source)


def _record(
    uow: UnitOfWork,
    shadow: RunningShadow,
    order: Order,
    verdicts: list[tuple[Verdict, bool]],
    *,
    now: datetime,
    inbox_id: str | None,
) -> None:
    if not any((v.detected and may_open) or v.cleared for v, may_open in verdicts):
        return  # nothing to open or clear: no statement at all
    latest = _latest(uow, shadow.candidate_id, order.id)
    moves = _moves(latest, verdicts)
    if moves:
        with uow.session.begin_nested():
            _apply(uow, shadow, order, latest, moves, now=now, inbox_id=inbox_id)
            uow.session.flush()


def _schedule(order: Order, verdicts: list[tuple[Verdict, bool]], *, now: datetime) -> None:
    """Bring the order's next sweep forward to the candidate's earliest recheck, and to now
    for a verdict only a sweep may open (as live does). Whether a decision already holds
    that verdict is not read here (a statement per event): a sweep that finds it held
    changes nothing."""
    checks = [v.recheck_at for v, _ in verdicts if v.recheck_at is not None]
    checks += [
        min(v.detected_at or now, now) for v, may_open in verdicts if v.detected and not may_open
    ]
    if checks and (order.next_check_at is None or min(checks) < order.next_check_at):
        order.next_check_at = min(checks)


def _verdicts(
    uow: UnitOfWork,
    shadow: RunningShadow,
    order: Order,
    *,
    now: datetime,
    from_sweep: bool,
    detectors: Sequence[Detector],
) -> list[tuple[Verdict, bool]]:
    """Each enabled detector's verdict under the candidate, and whether it may open now
    (``evaluate_order``'s rule). The snapshot's reads were just made by the live judgement
    of the same order, so the chunk's kept rows answer them."""
    facts = snapshot(uow, order)
    policy = shadow.candidate.fulfillment
    promise = promise_for(policy, order.service_level, order.placed_at) if policy else None
    facts = replace(facts, handling_due=promise.handling_due if promise is not None else None)
    found = []
    for detector in detectors:
        if not shadow.config.enabled(detector.exception_type):
            continue
        verdict = detector.judge(
            facts, now=now, thresholds=shadow.config.thresholds(detector.exception_type)
        )
        may_open = from_sweep or (detector.opens_on_events and not verdict.time_based)
        found.append((verdict, may_open))
    return found


def _latest(uow: UnitOfWork, candidate_id: str, order_id: str) -> dict[str, ShadowDecision]:
    """The order's decisions (``_latest_decisions``), read once per processing chunk: the
    chunk's later events of the order find them (and what this chunk wrote) in memory."""
    loaded = loaded_rows(uow.session)
    memo: dict[str, dict[str, ShadowDecision]] = (
        loaded.values().setdefault("shadow_latest", {})
        if loaded is not None and loaded.tenant_id == uow.tenant_id
        else {}
    )
    if order_id not in memo:
        with uow.session.begin_nested():
            memo[order_id] = _latest_decisions(uow, candidate_id, order_id)
    return memo[order_id]


OPENS, REKEYS, CLEARS = "open", "rekey", "clear"


def _moves(
    latest: dict[str, ShadowDecision], verdicts: list[tuple[Verdict, bool]]
) -> list[tuple[str, Verdict]]:
    """What the verdicts change, as the live desk would change its cases: open (or reopen
    on a new signal), fold a new signal into the open one, clear."""
    moves: list[tuple[str, Verdict]] = []
    for verdict, may_open in verdicts:
        row = latest.get(str(verdict.exception_type))
        key = verdict.evidence_key[:300]
        open_now = row is not None and row.status == OPEN
        if verdict.detected and may_open:
            if row is None or (row.status == CLEARED and row.evidence_key != key):
                moves.append((OPENS, verdict))
                open_now = True
            elif open_now and row.evidence_key != key:
                moves.append((REKEYS, verdict))
        if verdict.cleared and open_now:
            moves.append((CLEARS, verdict))
    return moves


def _apply(
    uow: UnitOfWork,
    shadow: RunningShadow,
    order: Order,
    latest: dict[str, ShadowDecision],
    moves: list[tuple[str, Verdict]],
    *,
    now: datetime,
    inbox_id: str | None,
) -> None:
    live_cases: dict[str, Case] | None = None
    for move, verdict in moves:
        kind = str(verdict.exception_type)
        if move == OPENS:
            if live_cases is None:
                live_cases = uow.cases.by_type_for_order(order.id)
            live = live_cases.get(kind)
            row = _open(uow, shadow, order, verdict.summary, kind, now=now)
            row.evidence_key, row.inbox_id = verdict.evidence_key[:300], inbox_id
            row.live_case_id = live.id if live and is_open(CaseStatus(live.status)) else None
            uow.session.add(row)
            latest[kind] = row
        elif move == REKEYS:
            latest[kind].evidence_key = verdict.evidence_key[:300]
        else:
            latest[kind].status, latest[kind].cleared_at = CLEARED, now


def _latest_decisions(
    uow: UnitOfWork, candidate_id: str, order_id: str
) -> dict[str, ShadowDecision]:
    """Per exception type, the candidate's open decision for the order, else its latest."""
    rows = uow.session.scalars(
        select(ShadowDecision)
        .where(
            ShadowDecision.tenant_id == uow.tenant_id,
            ShadowDecision.candidate_id == candidate_id,
            ShadowDecision.order_id == order_id,
        )
        .order_by(ShadowDecision.opened_at, ShadowDecision.id)
    ).all()
    latest: dict[str, ShadowDecision] = {}
    for row in rows:
        if row.exception_type not in latest or latest[row.exception_type].status != OPEN:
            latest[row.exception_type] = row
    return latest


def _open(
    uow: UnitOfWork, shadow: RunningShadow, order: Order, summary: str, kind: str, *, now: datetime
) -> ShadowDecision:
    # A case that is never added to the session: what routing and the playbook read of one.
    probe = Case(order_id=order.id, order_ref=order.order_ref, exception_type=kind, facts={})
    facts = case_facts(uow, probe, now=now)
    routed_on = routing_input(uow, probe)
    return ShadowDecision(
        tenant_id=uow.tenant_id,
        candidate_id=shadow.candidate_id,
        order_id=order.id,
        order_ref=order.order_ref,
        exception_type=kind,
        status=OPEN,
        summary=summary,
        opened_at=now,
        currency=order.currency,
        outcome={
            "candidate": outcome(shadow.candidate, facts, routed_on),
            "live": outcome(shadow.live, facts, routed_on),
        },
    )


def outcome(policy: CandidatePolicy, facts: CaseFacts, routed_on: RoutingInput) -> dict[str, Any]:
    """Queue, priority, top recommendation, its money and its approvers under ``policy``
    (resolved: every section set but perhaps fulfillment)."""
    assert policy.routing is not None
    assert policy.playbook is not None
    assert policy.approval is not None
    decision = route(policy.routing, routed_on)
    advice = recommend(facts, policy.playbook)
    found: dict[str, Any] = {
        "priority": str(decision.priority),
        "queue": decision.queue,
        "routing_rule": decision.rule,
        "action": None,
        "playbook_rule": None,
        "amount_minor": 0,
        "approvals": [],
        "auto_rule": None,
    }
    top = advice.top
    if top is None:
        return found
    context = facts.action_context()
    evaluation = evaluate(
        policy.approval,
        version=0,
        inputs=DecisionInputs(
            kind=top.primary,
            amount_minor=top.actions[0].exposure_minor,
            order_total_minor=context.order_total_minor,
            fraud_score=context.fraud_score,
            customer_tier=context.customer_tier,
        ),
    )
    found.update(
        action=str(top.primary),
        playbook_rule=top.rule,
        amount_minor=sum(a.exposure_minor for a in top.actions),
        approvals=[str(r) for r in evaluation.required],
        auto_rule=evaluation.auto_rule,
    )
    return found
