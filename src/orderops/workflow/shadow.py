"""Shadow mode's lifecycle: register a candidate, stop it, and promote it (issue #17 item 2).

A tenant runs at most one candidate (``shadow_candidates``; a partial unique index holds
it to one). Every change is an audited record: ``shadow.started`` (with the policy diff
against live), ``shadow.stopped``, ``shadow.promotion_proposed``,
``shadow.promotion_withdrawn`` and ``shadow.promoted``.

Promotion is a policy change like any other, made by two people: an administrator
proposes it, and it takes effect when another administrator approves it (the approver
rules of actions: a person, not the proposer, and not someone the proposer created,
re-roled, reset or keyed within the approval policy's provenance window). Approval writes
each section the candidate sets, and that differs from live, through the store that
section is always written through (``ingest/policy_file.store_policy``,
``cases/routing.publish_rules``, ``decide/policy_versions.set_policy``,
``recommend/service.store_playbook``), so versioning and audit records are theirs. The
four stores commit on their own: if one fails, the ones before it stand as ordinary
versions, the candidate stays proposed, and approving again finishes the rest (a section
that already equals live is skipped).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.routing import publish_rules
from orderops.decide import policy_versions
from orderops.decide.approver_eligibility import check_approver, provenance_window
from orderops.domain.clock import Clock
from orderops.domain.errors import Conflict, Forbidden, NotFound
from orderops.domain.roles import Permission, Role, allows
from orderops.domain.scopes import AccessScope
from orderops.ingest.policy_file import store_policy
from orderops.recommend.service import playbook_yaml, store_playbook
from orderops.storage.tables import User
from orderops.storage.tables.shadow import ShadowCandidate
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.workflow.candidate_policy import (
    CandidatePolicy,
    documents,
    live_policy,
    parse_candidate,
    policy_diff,
)


class ShadowStatus(StrEnum):
    ACTIVE = "active"
    PROMOTION_PROPOSED = "promotion_proposed"
    STOPPED = "stopped"
    PROMOTED = "promoted"


RUNNING = (ShadowStatus.ACTIVE, ShadowStatus.PROMOTION_PROPOSED)


class ShadowRunning(Conflict):
    """The tenant already runs a candidate; stop it first."""

    code = "shadow-running"


@dataclass(frozen=True, kw_only=True)
class CandidateInfo:
    id: str
    version: int
    status: str
    digest: str
    text: str
    started_by: str
    started_at: datetime
    stopped_by: str | None
    stopped_at: datetime | None
    proposed_by: str | None
    proposed_at: datetime | None
    promoted_by: str | None
    promoted_at: datetime | None
    promoted_versions: dict[str, Any] | None

    @classmethod
    def of(cls, row: ShadowCandidate) -> CandidateInfo:
        return cls(
            id=row.id,
            version=row.version,
            status=row.status,
            digest=row.digest,
            text=row.text,
            started_by=row.started_by,
            started_at=row.started_at,
            stopped_by=row.stopped_by,
            stopped_at=row.stopped_at,
            proposed_by=row.proposed_by,
            proposed_at=row.proposed_at,
            promoted_by=row.promoted_by,
            promoted_at=row.promoted_at,
            promoted_versions=row.promoted_versions,
        )


def admin_principal(sessions: sessionmaker[Session], *, tenant_id: str, user_id: str) -> Principal:
    """The person a command acts for (``--as``): an active user of the tenant allowed to
    manage policies, else NotFound / Forbidden, as the API would answer."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        user = uow.session.scalar(
            select(User).where(User.tenant_id == tenant_id, User.id == user_id)
        )
        if user is None:
            raise NotFound(f"no user {user_id} in tenant {tenant_id}")
        if user.disabled_at is not None or not allows(Role(user.role), Permission.POLICIES_MANAGE):
            raise Forbidden(f"user {user_id} ({user.role}) may not manage policies")
        return Principal(
            tenant_id=tenant_id,
            role=Role(user.role),
            name=user.display_name,
            subject=f"user:{user.id}",
        )


def require_whole_tenant(scope: AccessScope) -> None:
    """Shadow mode judges every order of the tenant: a caller limited to part of it is
    answered as if there were nothing to see or change."""
    if not scope.unrestricted:
        raise NotFound("shadow mode is for callers who see the whole tenant")


def running(uow: UnitOfWork) -> ShadowCandidate | None:
    return uow.session.scalar(
        select(ShadowCandidate).where(
            ShadowCandidate.tenant_id == uow.tenant_id,
            ShadowCandidate.status.in_([str(s) for s in RUNNING]),
        )
    )


def latest(uow: UnitOfWork) -> ShadowCandidate | None:
    """The running candidate, else the most recent one (for its report)."""
    return running(uow) or uow.session.scalar(
        select(ShadowCandidate)
        .where(ShadowCandidate.tenant_id == uow.tenant_id)
        .order_by(ShadowCandidate.version.desc())
        .limit(1)
    )


def start(
    sessions: sessionmaker[Session], *, tenant_id: str, text: str, actor: str, clock: Clock
) -> CandidateInfo:
    """Register ``text`` as the tenant's running candidate; ``InvalidPolicy`` names every
    problem of a bad file, ``ShadowRunning`` refuses a second candidate."""
    candidate = parse_candidate(text)
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        if running(uow) is not None:
            raise ShadowRunning("a shadow candidate is already running; stop it first")
        version = 1 + int(
            uow.session.scalar(
                select(func.max(ShadowCandidate.version)).where(
                    ShadowCandidate.tenant_id == tenant_id
                )
            )
            or 0
        )
        row = ShadowCandidate(
            tenant_id=tenant_id,
            version=version,
            status=ShadowStatus.ACTIVE,
            text=text,
            digest=hashlib.sha256(text.encode("utf-8")).hexdigest(),
            started_by=actor,
            started_at=now,
        )
        try:
            with uow.session.begin_nested():
                uow.session.add(row)
        except IntegrityError as exc:
            raise ShadowRunning("a shadow candidate was started concurrently") from exc
        _audit(
            uow,
            row,
            "shadow.started",
            actor=actor,
            at=now,
            diff=policy_diff(live_policy(uow), candidate),
        )
        uow.commit()
        return CandidateInfo.of(row)


def stop(
    sessions: sessionmaker[Session], *, tenant_id: str, actor: str, clock: Clock
) -> CandidateInfo:
    def step(uow: UnitOfWork, row: ShadowCandidate, now: datetime) -> dict[str, Any]:
        row.status, row.stopped_by, row.stopped_at = ShadowStatus.STOPPED, actor, now
        return {}

    return _change(sessions, tenant_id, "shadow.stopped", actor=actor, clock=clock, step=step)


def propose_promotion(
    sessions: sessionmaker[Session], *, tenant_id: str, actor: str, clock: Clock
) -> CandidateInfo:
    """Ask for the running candidate to become the live policy; another admin approves."""

    def step(uow: UnitOfWork, row: ShadowCandidate, now: datetime) -> dict[str, Any]:
        if row.status != ShadowStatus.ACTIVE:
            raise Conflict(f"promotion of candidate v{row.version} is already proposed")
        row.status, row.proposed_by, row.proposed_at = ShadowStatus.PROMOTION_PROPOSED, actor, now
        return {"diff": policy_diff(live_policy(uow), parse_candidate(row.text))}

    return _change(
        sessions, tenant_id, "shadow.promotion_proposed", actor=actor, clock=clock, step=step
    )


def withdraw_promotion(
    sessions: sessionmaker[Session], *, tenant_id: str, actor: str, clock: Clock
) -> CandidateInfo:
    """Turn a proposed promotion down (either admin may): the candidate keeps running."""

    def step(uow: UnitOfWork, row: ShadowCandidate, now: datetime) -> dict[str, Any]:
        _proposed_or_409(uow)
        row.status, row.proposed_by, row.proposed_at = ShadowStatus.ACTIVE, None, None
        return {}

    return _change(
        sessions, tenant_id, "shadow.promotion_withdrawn", actor=actor, clock=clock, step=step
    )


def _change(
    sessions: sessionmaker[Session],
    tenant_id: str,
    action: str,
    *,
    actor: str,
    clock: Clock,
    step: Callable[[UnitOfWork, ShadowCandidate, datetime], dict[str, Any]],
) -> CandidateInfo:
    """One move of the running candidate and its audit record, in one transaction."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _running_or_404(uow)
        data = step(uow, row, now)
        _audit(uow, row, action, actor=actor, at=now, **data)
        uow.commit()
        return CandidateInfo.of(row)


def approve_promotion(
    sessions: sessionmaker[Session], *, tenant_id: str, principal: Principal, clock: Clock
) -> CandidateInfo:
    """The checker's approval: write the candidate's sections through their stores, then
    mark it promoted. Refused (403) for the proposer, a service, or a person the proposer
    made within the provenance window."""
    now = clock.now()
    actor = principal.identity
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        row = _proposed_or_409(uow)
        assert row.proposed_by is not None
        check_approver(
            uow,
            maker=row.proposed_by,
            principal=principal,
            at=now,
            window=provenance_window(uow),
            subject=f"the promotion of shadow candidate v{row.version}",
        )
        candidate_id, version, proposer = row.id, row.version, row.proposed_by
        candidate = parse_candidate(row.text)
        live = documents(live_policy(uow))
    note = f"shadow candidate v{version}, proposed by {proposer}, approved by {actor}"
    stored = _store_sections(
        sessions,
        tenant_id=tenant_id,
        candidate=candidate,
        live=live,
        actor=actor,
        clock=clock,
        note=note,
    )
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _proposed_or_409(uow)
        if row.id != candidate_id:
            raise Conflict("the proposed candidate changed while it was being promoted")
        row.status, row.promoted_by, row.promoted_at = ShadowStatus.PROMOTED, actor, now
        row.promoted_versions = stored
        _audit(
            uow, row, "shadow.promoted", actor=actor, at=now, versions=stored, proposed_by=proposer
        )
        uow.commit()
        return CandidateInfo.of(row)


def _store_sections(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    candidate: CandidatePolicy,
    live: dict[str, Any],
    actor: str,
    clock: Clock,
    note: str,
) -> dict[str, Any]:
    """Each section the candidate sets that differs from live, stored the usual way; the
    version each became."""
    wanted = documents(candidate)
    stored: dict[str, Any] = {}
    changed = {s for s, body in wanted.items() if body is not None and body != live[s]}
    if candidate.fulfillment is not None and "fulfillment_policy" in changed:
        done = store_policy(
            sessions, tenant_id=tenant_id, policy=candidate.fulfillment, actor=actor, clock=clock
        )
        stored["fulfillment_policy"] = done.version
    if candidate.approval is not None and "approval_policy" in changed:
        update = policy_versions.set_policy(
            sessions,
            tenant_id=tenant_id,
            body=candidate.approval.body(),
            actor=actor,
            clock=clock,
            note=note,
        )
        stored["approval_policy"] = update.version
    if {"routing_rules", "playbook"} & changed:
        with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
            if candidate.routing is not None and "routing_rules" in changed:
                stored["routing_rules"] = publish_rules(
                    uow, rules=candidate.routing.rules, actor=actor, now=clock.now()
                )
            if candidate.playbook is not None and "playbook" in changed:
                stored["playbook"] = store_playbook(
                    uow, playbook_yaml(candidate.playbook), actor=actor, now=clock.now()
                )
            uow.commit()
    return stored


def _running_or_404(uow: UnitOfWork) -> ShadowCandidate:
    row = running(uow)
    if row is None:
        raise NotFound("no shadow candidate is running")
    return row


def _proposed_or_409(uow: UnitOfWork) -> ShadowCandidate:
    row = _running_or_404(uow)
    if row.status != ShadowStatus.PROMOTION_PROPOSED:
        raise Conflict(f"no promotion of candidate v{row.version} is proposed")
    return row


def _audit(
    uow: UnitOfWork, row: ShadowCandidate, action: str, *, actor: str, at: datetime, **data: Any
) -> None:
    uow.audit.append(
        at=at,
        actor=actor,
        action=action,
        entity_type="shadow_candidate",
        entity_id=row.id,
        data={"version": row.version, "digest": row.digest, "status": row.status, **data},
    )
