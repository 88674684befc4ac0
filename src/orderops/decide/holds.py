"""The desk's holds from approval to release (``domain/holds.py`` says what a hold is).

A hold is recorded in the approving transaction, next to the outbox row that places it,
so there is never a placed hold the desk does not know about. It ends in one of three
ways: its case clears (a detector resolves it, or a reviewer resolves or rejects it), it
expires (``release_due``, a step of the worker's full pass), or someone releases it by
hand. The case resolving because the hold itself was delivered is not its case clearing:
the hold was the remedy, and it lasts until one of the three.

Ending a hold is two compare-and-set updates on its row, ``active -> release_due ->
released``, each guarded by the status it expects, so of two transactions racing on one
hold (two sweeps, a sweep and a reviewer) exactly one moves it and queues the release;
the release's idempotency key comes from the hold's id, so the outbox refuses a second
one even if a guard were ever bypassed. A hold whose placing is still on its way stays
``release_due`` until that message settles, so a release never overtakes its hold.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import record
from orderops.decide.policy_versions import load_policy
from orderops.domain.clock import Clock
from orderops.domain.errors import Conflict, Forbidden, NotFound
from orderops.domain.holds import (
    VENDOR_HOLDS,
    HoldStatus,
    PlacingState,
    ReleaseReason,
    check_hold_transition,
    expires_at,
    release_key,
    vendor_hold_for,
)
from orderops.domain.roles import Permission, Role, allows
from orderops.domain.scopes import UNRESTRICTED, AccessScope
from orderops.storage.repositories import keyset
from orderops.storage.tables import Action, Case, DeskHold, OutboxMessage, User
from orderops.storage.uow import UnitOfWork
from orderops.writeback.outbox import enqueue
from orderops.writeback.states import OPEN, OutboxStatus

SWEEPER = "holds:sweep"


class HoldAlreadyReleased(Conflict):
    code = "hold-already-released"


@dataclass(frozen=True)
class QueuedEffect:
    """One outbox row an approval queued: what ``record_placed`` needs to know of it."""

    outbox_id: str
    system: str
    operation: str


def record_placed(
    uow: UnitOfWork,
    case: Case,
    action: Action,
    effects: Sequence[QueuedEffect],
    *,
    owner: str,
    at: datetime,
) -> list[DeskHold]:
    """One record per effect that places a hold, in the approving transaction.

    ``owner`` is the approver; when a policy rule approved it (``policy:<rule>``), the
    hold belongs to the identity that proposed it, since a rule cannot be asked why. The
    hold lasts the ``hold_expiry_hours`` of the approval policy version the action was
    judged by (the tenant's setting when it was decided; 48 hours unless changed)."""
    if owner.startswith("policy:"):
        owner = action.proposed_by
    holds: list[DeskHold] = []
    lasts: timedelta | None = None
    for effect in effects:
        vendor = vendor_hold_for(effect.system, effect.operation)
        if vendor is None:
            continue
        if lasts is None:
            lasts = timedelta(hours=load_policy(uow, action.policy_version).hold_expiry_hours)
        hold = DeskHold(
            tenant_id=uow.tenant_id,
            order_ref=case.order_ref,
            case_id=case.id,
            action_id=action.id,
            kind=str(vendor.kind),
            reason=_reason_of(action.params),
            owner=owner,
            status=str(HoldStatus.ACTIVE),
            placed_at=at,
            expires_at=expires_at(at, lasts),
            place_outbox_id=effect.outbox_id,
        )
        uow.session.add(hold)
        uow.session.flush()
        until = f"{hold.expires_at:%Y-%m-%d %H:%M}"
        record(
            uow,
            case,
            at=at,
            actor=owner,
            kind="hold_placed",
            summary=f"{vendor.kind} hold placed ({hold.reason}) until {until} UTC",
            data=_hold_data(hold),
        )
        holds.append(hold)
    return holds


def on_case_cleared(uow: UnitOfWork, case: Case, *, at: datetime, actor: str) -> list[DeskHold]:
    """The case was resolved or rejected by a detector or a reviewer: its holds end."""
    active = uow.session.scalars(
        select(DeskHold).where(
            DeskHold.tenant_id == uow.tenant_id,
            DeskHold.case_id == case.id,
            DeskHold.status == str(HoldStatus.ACTIVE),
        )
    )
    ended = []
    for hold in list(active):
        if _request(uow, hold, reason=ReleaseReason.CASE_CLEARED, at=at, actor=actor):
            ended.append(hold)
    return ended


def release_by_hand(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    hold_id: str,
    actor: str,
    clock: Clock,
    scope: AccessScope = UNRESTRICTED,
) -> DeskHold:
    """A person ends a hold now; one that has already ended is a 409 naming how."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id, scope=scope) as uow:
        hold = _visible(uow, hold_id)
        if hold.status != HoldStatus.ACTIVE or not _request(
            uow, hold, reason=ReleaseReason.MANUAL, at=now, actor=actor
        ):
            uow.session.refresh(hold)
            raise HoldAlreadyReleased(
                f"hold {hold_id} is already {hold.status} ({hold.release_reason})"
            )
        uow.commit()
        uow.session.refresh(hold)
        uow.session.expunge(hold)
        return hold


def releaser(sessions: sessionmaker[Session], *, tenant_id: str, user_id: str) -> str:
    """The identity a command-line release is recorded under: an active person of the
    tenant whose role may approve actions (the API route's rule), else Forbidden."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        user = uow.session.scalar(
            select(User).where(User.tenant_id == tenant_id, User.id == user_id)
        )
        if user is None:
            raise NotFound(f"no user {user_id} in tenant {tenant_id}")
        if user.disabled_at is not None or not allows(Role(user.role), Permission.ACTIONS_APPROVE):
            raise Forbidden(f"user {user_id} ({user.role}) may not release holds")
        return f"user:{user.id}"


def release_due(
    sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock, limit: int = 200
) -> list[str]:
    """The full pass's step: expire what is past its time, finish what waited for its
    placing to settle. Idempotent; a racing sweep finds the rows already moved."""
    now = clock.now()
    released: list[str] = []
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        expired = uow.session.scalars(
            select(DeskHold)
            .where(
                DeskHold.tenant_id == tenant_id,
                DeskHold.status == str(HoldStatus.ACTIVE),
                DeskHold.expires_at <= now,
            )
            .order_by(DeskHold.expires_at, DeskHold.id)
            .limit(limit)
        )
        for hold in list(expired):
            moved = _request(uow, hold, reason=ReleaseReason.EXPIRED, at=now, actor=SWEEPER)
            if moved and hold.status == HoldStatus.RELEASED:
                released.append(hold.id)
        waiting = uow.session.scalars(
            select(DeskHold)
            .where(
                DeskHold.tenant_id == tenant_id,
                DeskHold.status == str(HoldStatus.RELEASE_DUE),
            )
            .order_by(DeskHold.release_requested_at, DeskHold.id)
            .limit(limit)
        )
        for hold in list(waiting):
            if _complete(uow, hold, at=now, actor=SWEEPER):
                released.append(hold.id)
        uow.commit()
    return released


def holds_of_case(uow: UnitOfWork, case_id: str) -> list[DeskHold]:
    return list(
        uow.session.scalars(
            select(DeskHold)
            .where(DeskHold.tenant_id == uow.tenant_id, DeskHold.case_id == case_id)
            .order_by(DeskHold.placed_at, DeskHold.id)
        )
    )


def list_holds(
    uow: UnitOfWork,
    *,
    status: HoldStatus | None = None,
    limit: int = 200,
    after: Sequence[object] | None = None,
) -> list[DeskHold]:
    """Newest first; ``after`` (placed_at, id) starts the page after that row."""
    query = select(DeskHold).where(DeskHold.tenant_id == uow.tenant_id)
    if status is not None:
        query = query.where(DeskHold.status == str(status))
    order = (keyset.SortPart(DeskHold.placed_at, descending=True), keyset.SortPart(DeskHold.id))
    if after is not None:
        query = query.where(keyset.after(order, after))
    return list(uow.session.scalars(query.order_by(*keyset.ordering(order)).limit(limit)))


def _visible(uow: UnitOfWork, hold_id: str) -> DeskHold:
    """Another tenant's hold, or one on a case outside the caller's scope, is not found."""
    hold = uow.session.scalar(
        select(DeskHold).where(DeskHold.tenant_id == uow.tenant_id, DeskHold.id == hold_id)
    )
    if hold is None or uow.cases.get(hold.case_id) is None:
        raise NotFound(f"no hold {hold_id}")
    return hold


def _request(
    uow: UnitOfWork, hold: DeskHold, *, reason: ReleaseReason, at: datetime, actor: str
) -> bool:
    """``active -> release_due`` if nobody moved it first, then as far as it can go."""
    check_hold_transition(HoldStatus(hold.status), HoldStatus.RELEASE_DUE)
    moved = _compare_and_set(
        uow,
        hold,
        expected=HoldStatus.ACTIVE,
        values={
            "status": str(HoldStatus.RELEASE_DUE),
            "release_reason": str(reason),
            "release_requested_at": at,
            "released_by": actor,
        },
    )
    if moved:
        _complete(uow, hold, at=at, actor=actor)
    return moved


def _complete(uow: UnitOfWork, hold: DeskHold, *, at: datetime, actor: str) -> bool:
    """``release_due -> released``: queue the vendor's release if the hold was placed."""
    state = _placing_state(uow, hold)
    if state is PlacingState.ON_ITS_WAY:
        return False
    if not _compare_and_set(
        uow,
        hold,
        expected=HoldStatus.RELEASE_DUE,
        values={"status": str(HoldStatus.RELEASED), "released_at": at},
    ):
        return False
    case = uow.cases.get(hold.case_id)
    if state is PlacingState.PLACED:
        hold.release_outbox_id = _queue_release(uow, hold, at=at)
    assert case is not None  # the foreign key keeps a hold's case
    what = "release queued" if hold.release_outbox_id else "never placed, nothing to release"
    record(
        uow,
        case,
        at=at,
        actor=actor,
        kind="hold_released",
        summary=f"{hold.kind} hold released ({hold.release_reason}): {what}",
        data=_hold_data(hold),
    )
    return True


def _compare_and_set(
    uow: UnitOfWork, hold: DeskHold, *, expected: HoldStatus, values: dict[str, Any]
) -> bool:
    result = uow.session.execute(
        update(DeskHold)
        .where(
            DeskHold.tenant_id == uow.tenant_id,
            DeskHold.id == hold.id,
            DeskHold.status == str(expected),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    moved = bool(result.rowcount)  # type: ignore[attr-defined]
    if moved:
        for name, value in values.items():
            setattr(hold, name, value)
    else:
        uow.session.refresh(hold)
    return moved


def _placing_state(uow: UnitOfWork, hold: DeskHold) -> PlacingState:
    status = uow.session.scalar(
        select(OutboxMessage.status).where(
            OutboxMessage.tenant_id == uow.tenant_id, OutboxMessage.id == hold.place_outbox_id
        )
    )
    if status == OutboxStatus.DELIVERED:
        return PlacingState.PLACED
    if status is not None and OutboxStatus(status) in OPEN:
        return PlacingState.ON_ITS_WAY
    return PlacingState.NEVER_PLACED


def _queue_release(uow: UnitOfWork, hold: DeskHold, *, at: datetime) -> str:
    place = uow.session.scalar(
        select(OutboxMessage).where(
            OutboxMessage.tenant_id == uow.tenant_id, OutboxMessage.id == hold.place_outbox_id
        )
    )
    assert place is not None
    vendor = next(v for v in VENDOR_HOLDS if (v.system, v.place) == (place.system, place.operation))
    carried: dict[str, Any] = {
        k: place.payload[k] for k in ("order_ref", "currency", "order_id") if k in place.payload
    }
    return enqueue(
        uow,
        system=vendor.system,
        operation=vendor.release,
        idempotency_key=release_key(hold.id),
        payload={
            **carried,
            "note": f"desk hold released: {hold.release_reason}",
            "hold_id": hold.id,
            "case_id": hold.case_id,
        },
        now=at,
        case_id=hold.case_id,
        order_ref=hold.order_ref,
    )


def _reason_of(params: dict[str, Any]) -> str:
    reason = str(params.get("reason") or "unstated")
    note = params.get("note")
    return f"{reason}: {note}" if note else reason


def _hold_data(hold: DeskHold) -> dict[str, Any]:
    return {
        "hold_id": hold.id,
        "kind": hold.kind,
        "reason": hold.reason,
        "owner": hold.owner,
        "status": hold.status,
        "expires_at": hold.expires_at.isoformat(),
        "release_reason": hold.release_reason,
        "place_outbox_id": hold.place_outbox_id,
        "release_outbox_id": hold.release_outbox_id,
    }
