"""What one replay did, read from its scratch desk, and the report comparing two of them.

``RunResult`` is plain data (case, action, outbox and message rows as dictionaries with
times in ISO form), so ``compare`` is a pure function: it takes the baseline (the live
policy) and the candidate runs and says, per exception type, how many cases each opened
and closed and how fast, how the queues were loaded hour by hour, which approvals each
would have needed from which role, how much money each would have moved, which customers
each would have contacted, and up to ``EXAMPLES`` examples of every kind of changed case.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from statistics import median
from typing import Any

from sqlalchemy import select

from orderops.domain.actions import catalogue
from orderops.storage.tables import Action, Case, OutboxMessage
from orderops.storage.tables.queues import Communication
from orderops.storage.uow import UnitOfWork

EXAMPLES = 5
MONEY_KINDS = frozenset({"refund", "store_credit", "reship"})
"""The kinds the report names apart; every other money-moving kind is counted as "other"."""
CaseKey = tuple[str, str]


@dataclass(frozen=True)
class RunResult:
    cases: list[dict[str, Any]] = field(default_factory=list)
    actions: list[dict[str, Any]] = field(default_factory=list)
    outbox: list[dict[str, Any]] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def case_keys(self) -> dict[CaseKey, dict[str, Any]]:
        """Each case by (order, type); of repeats, the first opened."""
        keyed: dict[CaseKey, dict[str, Any]] = {}
        for case in sorted(self.cases, key=lambda c: c["opened_at"]):
            keyed.setdefault((case["order_ref"], case["type"]), case)
        return keyed


def collect(uow: UnitOfWork) -> RunResult:
    """Read what a replay left in its (scratch) desk."""
    tenant = uow.tenant_id
    cases = list(uow.session.scalars(select(Case).where(Case.tenant_id == tenant)))
    by_id = {c.id: c for c in cases}
    actions = uow.session.scalars(
        select(Action).where(Action.tenant_id == tenant).order_by(Action.id)
    )
    outbox = uow.session.scalars(
        select(OutboxMessage).where(OutboxMessage.tenant_id == tenant).order_by(OutboxMessage.id)
    )
    messages = uow.session.scalars(
        select(Communication).where(Communication.tenant_id == tenant).order_by(Communication.id)
    )
    return RunResult(
        cases=[
            {
                "order_ref": c.order_ref,
                "type": c.exception_type,
                "status": c.status,
                "queue": c.queue,
                "priority": c.priority,
                "detected_at": _iso(c.detected_at),
                "opened_at": _iso(c.opened_at),
                "closed_at": _iso(c.closed_at),
            }
            for c in cases
        ],
        actions=[_action(a, by_id.get(a.case_id)) for a in actions],
        outbox=[
            {
                "order_ref": o.order_ref,
                "system": o.system,
                "operation": o.operation,
                "status": o.status,
                "action_id": o.action_id,
            }
            for o in outbox
        ],
        messages=[
            {
                "order_ref": by_id[m.case_id].order_ref if m.case_id in by_id else None,
                "recipient": m.recipient,
                "status": m.status,
                "topic": m.topic,
                "queued": m.outbox_id is not None,
            }
            for m in messages
        ],
    )


def compare(baseline: RunResult, candidate: RunResult) -> dict[str, Any]:
    """The report: each measure for both runs, and the cases that differ."""
    changes = changed_cases(baseline, candidate)
    return {
        "cases": {"live": _cases_per_type(baseline), "candidate": _cases_per_type(candidate)},
        "time_to_detection_minutes": {
            "live": _detection(baseline),
            "candidate": _detection(candidate),
        },
        "queue_load": {"live": _queue_load(baseline), "candidate": _queue_load(candidate)},
        "approvals": {"live": _approvals(baseline), "candidate": _approvals(candidate)},
        "money_minor": {"live": _money(baseline), "candidate": _money(candidate)},
        "customers": {"live": _customers(baseline), "candidate": _customers(candidate)},
        "changed": changes,
        "changed_cases": sum(len(v) for v in changes["all"].values()),
        "identical": not any(changes["all"].values()),
    }


def changed_cases(baseline: RunResult, candidate: RunResult) -> dict[str, Any]:
    """Cases only one run opened, and cases both opened that ended or were routed
    differently; ``examples`` holds up to ``EXAMPLES`` of each, ``all`` their keys."""
    live, cand = baseline.case_keys(), candidate.case_keys()
    only_live = sorted(live.keys() - cand.keys())
    only_candidate = sorted(cand.keys() - live.keys())
    differ = sorted(k for k in live.keys() & cand.keys() if _differs(live[k], cand[k]))
    return {
        "all": {
            "only_candidate": [list(k) for k in only_candidate],
            "only_live": [list(k) for k in only_live],
            "different": [list(k) for k in differ],
        },
        "examples": {
            "only_candidate": [_example(k, None, cand[k]) for k in only_candidate[:EXAMPLES]],
            "only_live": [_example(k, live[k], None) for k in only_live[:EXAMPLES]],
            "different": [_example(k, live[k], cand[k]) for k in differ[:EXAMPLES]],
        },
    }


COMPARED = ("status", "queue", "priority", "opened_at", "closed_at")


def _differs(a: dict[str, Any], b: dict[str, Any]) -> bool:
    return any(a[f] != b[f] for f in COMPARED)


def _example(
    key: CaseKey, live: dict[str, Any] | None, candidate: dict[str, Any] | None
) -> dict[str, Any]:
    def side(case: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if case is None else {f: case[f] for f in COMPARED}

    return {"order_ref": key[0], "type": key[1], "live": side(live), "candidate": side(candidate)}


def _cases_per_type(run: RunResult) -> dict[str, dict[str, int]]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    for case in run.cases:
        counts[case["type"]]["opened"] += 1
        counts[case["type"]]["closed"] += case["closed_at"] is not None
    return {t: {"opened": c["opened"], "closed": c["closed"]} for t, c in sorted(counts.items())}


def _detection(run: RunResult) -> dict[str, float]:
    minutes: dict[str, list[float]] = defaultdict(list)
    for case in run.cases:
        lag = _at(case["opened_at"]) - _at(case["detected_at"])
        minutes[case["type"]].append(max(lag.total_seconds(), 0.0) / 60)
    return {t: round(median(v), 1) for t, v in sorted(minutes.items())}


def _queue_load(run: RunResult) -> dict[str, dict[str, int]]:
    """Cases arriving in each queue, per hour of the day (UTC) they opened."""
    load: dict[str, Counter[str]] = defaultdict(Counter)
    for case in run.cases:
        load[case["queue"] or "(none)"][f"{_at(case['opened_at']).hour:02d}"] += 1
    return {q: dict(sorted(c.items())) for q, c in sorted(load.items())}


def _approvals(run: RunResult) -> dict[str, Any]:
    by_role: Counter[str] = Counter()
    auto = needed = 0
    for action in run.actions:
        if action["auto_rule"] is not None:
            auto += 1
            continue
        needed += 1
        for role in action["required"]:
            by_role[role] += 1
    return {
        "auto_approved": auto,
        "needing_approval": needed,
        "by_role": dict(sorted(by_role.items())),
    }


def _money(run: RunResult) -> dict[str, dict[str, int]]:
    totals: dict[str, Counter[str]] = defaultdict(Counter)
    queued = {o["action_id"] for o in run.outbox if o["action_id"] is not None}
    for action in run.actions:
        if not action["moves_money"]:
            continue
        kind = action["kind"] if action["kind"] in MONEY_KINDS else "other"
        amount = action["amount_minor"]
        totals[kind]["proposed"] += amount
        if action["auto_rule"] is not None:
            totals[kind]["auto_approved"] += amount
        if action["id"] in queued:
            totals[kind]["queued"] += amount
    return {
        k: {m: c[m] for m in ("proposed", "auto_approved", "queued")}
        for k, c in sorted(totals.items())
    }


def _customers(run: RunResult) -> dict[str, Any]:
    drafted = {m["recipient"] or m["order_ref"] for m in run.messages}
    queued = {m["recipient"] or m["order_ref"] for m in run.messages if m["queued"]}
    return {
        "messages": len(run.messages),
        "customers_drafted_for": len(drafted),
        "customers_contacted": len(queued),
    }


def _action(action: Action, case: Case | None) -> dict[str, Any]:
    evaluation = action.evaluation or {}
    inputs = evaluation.get("inputs") or {}
    spec = catalogue().get(action.kind)  # type: ignore[call-overload]
    return {
        "id": action.id,
        "order_ref": case.order_ref if case is not None else None,
        "case_type": case.exception_type if case is not None else None,
        "kind": action.kind,
        "status": action.status,
        "auto_rule": action.auto_rule,
        "required": list(evaluation.get("required") or []),
        "amount_minor": int(inputs.get("amount_minor") or 0),
        "moves_money": bool(spec is not None and spec.moves_money),
    }


def _iso(at: datetime | None) -> str | None:
    return None if at is None else at.isoformat()


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def changed_orders(report: dict[str, Any], kind: str) -> Sequence[CaseKey]:
    """The (order, type) keys of one kind of change in a stored report."""
    return [(k[0], k[1]) for k in report["changed"]["all"][kind]]


def types_of(keys: Iterable[CaseKey]) -> Counter[str]:
    return Counter(t for _, t in keys)
