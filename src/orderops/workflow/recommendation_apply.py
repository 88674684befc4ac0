"""Applying a recommendation: propose its top candidate's actions and insert its drafts.

One press does what a reviewer would do by hand, through the same paths: each action is
proposed by ``decide.actions.propose_in`` (so the approval policy, the remedy ledger
and maker-checker judge it exactly as if typed), and each customer draft becomes a
drafted message (``decide.communications.draft``), fact-checked again on the page and
approved like any other. All of it is one transaction: a refused action leaves nothing
half-applied.

Applying is idempotent per recommendation: the ``recommendation_applied`` timeline entry
names it, and a second press finds that entry and does nothing. The order's row is
locked first (``remedy_ledger.lock_order``, FOR UPDATE on PostgreSQL; SQLite writers
begin IMMEDIATE and queue), so two presses at once are decided one after the other and
the second sees the first's entry.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from orderops.cases.cases import record
from orderops.cases.conflicts import InvalidWorkRequest
from orderops.decide import communications
from orderops.decide.actions import get_case, propose_in
from orderops.decide.remedy_ledger import lock_order
from orderops.domain.errors import NotFound
from orderops.evidence.store import BlobStore
from orderops.recommend.service import drafts_of, get_recommendation
from orderops.storage.tables import Case
from orderops.storage.tables.cases import CaseTimelineEntry
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

APPLIED = "recommendation_applied"


@dataclass(frozen=True, kw_only=True)
class Applied:
    recommendation_id: str
    action_ids: tuple[str, ...]
    message_ids: tuple[str, ...]
    already: bool
    """True when an earlier press applied it: nothing was proposed or drafted now."""


def apply_recommendation(
    uow: UnitOfWork,
    case_id: str,
    recommendation_id: str,
    *,
    principal: Principal,
    now: datetime,
    evidence: BlobStore,
) -> Applied:
    """Propose the top candidate's actions and draft its customer messages, once."""
    case = get_case(uow, case_id)
    row = get_recommendation(uow, recommendation_id)
    if row.case_id != case.id:
        raise NotFound(f"no recommendation {recommendation_id} on case {case_id}")
    lock_order(uow, case.order_id)
    earlier = applied_entry(uow, case, recommendation_id)
    if earlier is not None:
        return Applied(
            recommendation_id=recommendation_id,
            action_ids=tuple(earlier.data.get("action_ids", ())),
            message_ids=tuple(earlier.data.get("message_ids", ())),
            already=True,
        )
    candidates = row.body.get("candidates") or []
    if not candidates:
        raise InvalidWorkRequest("this recommendation proposes no action: no playbook rule fit")
    top = candidates[0]
    actions = [
        propose_in(
            uow,
            case_id=case.id,
            kind=str(step["kind"]),
            params=dict(step["params"]),
            principal=principal,
            now=now,
            evidence=evidence,
            note=f"from recommendation {top['rule']}",
        )
        for step in top["actions"]
    ]
    messages = [
        communications.draft(
            uow,
            case,
            channel="email",
            subject=d.subject,
            body=d.body,
            actor=principal.identity,
            now=now,
        )
        for d in drafts_of(uow, recommendation_id)
        if d.audience == "customer" and d.body.strip()
    ]
    applied = Applied(
        recommendation_id=recommendation_id,
        action_ids=tuple(a.id for a in actions),
        message_ids=tuple(m.id for m in messages),
        already=False,
    )
    record(
        uow,
        case,
        at=now,
        actor=principal.identity,
        kind=APPLIED,
        summary=f"{principal.name} applied recommendation {top['rule']}: proposed "
        + ", ".join(a.kind for a in actions)
        + (f" and drafted {len(messages)} message(s)" if messages else ""),
        data={
            "recommendation_id": recommendation_id,
            "rule": top["rule"],
            "action_ids": list(applied.action_ids),
            "message_ids": list(applied.message_ids),
        },
    )
    return applied


def applied_entry(uow: UnitOfWork, case: Case, recommendation_id: str) -> CaseTimelineEntry | None:
    """The entry recording that ``recommendation_id`` was applied, if it was."""
    entries = uow.session.scalars(
        select(CaseTimelineEntry).where(
            CaseTimelineEntry.tenant_id == uow.tenant_id,
            CaseTimelineEntry.case_id == case.id,
            CaseTimelineEntry.kind == APPLIED,
        )
    )
    return next((e for e in entries if e.data.get("recommendation_id") == recommendation_id), None)
