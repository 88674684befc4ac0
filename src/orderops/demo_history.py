"""The demo's reviewed history: people settle part of the backfilled cases, so similar
past cases show from the first recommendation on.

A fresh desk has no resolved case, and a similar case is one a person resolved by an
approved action. ``orderops demo`` backfills two days of its simulated store and used to
start with none, so every recommendation said "no similar resolved cases". Here the
oldest open cases of that history are decided as a desk would decide them, through the
same services as the console (``recommend_case``, ``decide.actions.propose``,
``decide.approvals.approve``): the top recommendation is proposed by one person and
approved by as many others as the approval policy asks. Their writebacks are delivered
to the demo's sandboxes by the worker's first passes, and each case resolves when its
writeback has landed; the similar-case index picks them up before its next query.

A case the policy refuses (a guardrail, a ledger limit, a role the approvers lack) is
left open for a person, as it would be.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import select

from orderops.bootstrap import App
from orderops.decide.actions import propose
from orderops.decide.approvals import approve
from orderops.domain.errors import OrderOpsError
from orderops.evidence.service import default_store
from orderops.recommend.service import recommend_case
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.tenancy.users import list_users

log = logging.getLogger(__name__)

NOTE = "decided in the demo's reviewed history"


def people(app: App, *, tenant_id: str, emails: Sequence[str]) -> list[Principal]:
    """The tenant's users with these emails, as principals acting in their own roles."""
    users = {u.email: u for u in list_users(app.sessions, tenant_id=tenant_id)}
    return [
        Principal(
            tenant_id=tenant_id,
            role=users[email].role,
            name=users[email].display_name,
            subject=users[email].subject,
        )
        for email in emails
        if email in users
    ]


def settle_history(
    app: App,
    *,
    tenant_id: str,
    proposer: Principal,
    approvers: Sequence[Principal],
    per_type: int = 5,
) -> int:
    """Decide the oldest half (at most ``per_type``) of each exception type's new cases
    with their top recommendation, so the other half has precedents to be shown; the
    number decided (approved)."""
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.execute(
            select(Case.id, Case.exception_type)
            .where(Case.tenant_id == tenant_id, Case.status == "new")
            .order_by(Case.opened_at, Case.id)
        ).all()
    by_type: dict[str, list[str]] = {}
    for case_id, exception_type in rows:
        by_type.setdefault(exception_type, []).append(case_id)
    waiting = [
        case_id for ids in by_type.values() for case_id in ids[: min(per_type, len(ids) // 2)]
    ]
    decided = 0
    evidence = default_store(app.settings)
    for case_id in waiting:
        try:
            with UnitOfWork(app.sessions, tenant_id=tenant_id) as uow:
                stored = recommend_case(uow, case_id, now=app.clock.now(), actor="recommender")
                uow.commit()
            top = stored.advice.top
            if top is None or not top.actions:
                log.debug("demo history: case %s: nothing to recommend", case_id)
                continue
            first = top.actions[0]
            action = propose(
                app.sessions,
                tenant_id=tenant_id,
                case_id=case_id,
                kind=str(first.kind),
                params=dict(first.params),
                principal=proposer,
                clock=app.clock,
                evidence=evidence,
                note=NOTE,
            )
            for approver in approvers:
                if action.status != "awaiting_approval":
                    break
                action = approve(
                    app.sessions,
                    tenant_id=tenant_id,
                    action_id=action.id,
                    principal=approver,
                    clock=app.clock,
                    evidence=evidence,
                    reason=NOTE,
                )
            decided += action.status in {"approved", "executing", "executed"}
            log.debug("demo history: case %s: %s %s", case_id, action.kind, action.status)
        except OrderOpsError as exc:
            log.info("demo history: case %s left for a person: %s", case_id, exc)
    return decided
