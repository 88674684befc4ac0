"""Moving open cases to the tenant's current playbook: an explicit, recorded call.

A case stays on the playbook version it was first recommended with until someone asks
for this (``recommend.playbook_pins``). A move is a timeline entry and an audit record on
the case naming the version before and after; the next recommendation follows the new
one. A dry run answers the same list and writes nothing, so "what would change" can be
read before anything does. Closed cases keep their pin: their advice is history. A case
never recommended has no pin to move (its first recommendation takes the current one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import record
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.clock import Clock
from orderops.domain.errors import Conflict, NotFound
from orderops.domain.scopes import UNRESTRICTED, AccessScope
from orderops.recommend.playbook_pins import current_version, move_pin
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork

_CLOSED = [str(s) for s in CLOSED_STATUSES]


@dataclass(frozen=True, kw_only=True)
class PlaybookMove:
    case_id: str
    from_version: int | None
    to_version: int

    @property
    def changes(self) -> bool:
        return self.from_version is not None and self.from_version != self.to_version


def reevaluate_case(
    uow: UnitOfWork, case_id: str, *, actor: str, now: datetime, dry_run: bool = False
) -> PlaybookMove:
    """Move one open case to the current version; unchanged if already there or unpinned.

    Another tenant's case (or one outside the caller's scope) is not found; a closed case
    is a conflict, since its pin records the advice it was handled with."""
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    if case.status in _CLOSED:
        raise Conflict(f"case {case_id} is {case.status}: its playbook pin is kept as history")
    move = PlaybookMove(
        case_id=case.id, from_version=case.playbook_version, to_version=current_version(uow)
    )
    if move.changes and not dry_run and not _move(uow, case, move, actor, now):
        # a concurrent re-evaluation moved it first: report the pin as it now stands
        return PlaybookMove(
            case_id=case.id, from_version=case.playbook_version, to_version=move.to_version
        )
    return move


def reevaluate_open_cases(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    actor: str,
    clock: Clock,
    dry_run: bool = False,
    scope: AccessScope = UNRESTRICTED,
) -> list[PlaybookMove]:
    """Every open case pinned to an older version, moved to the current one (or, with
    ``dry_run``, listed as it would be), oldest case first, in one transaction. A caller
    limited to a ``scope`` below the tenant moves only the cases it can see."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id, write=not dry_run, scope=scope) as uow:
        target = current_version(uow)
        behind = uow.session.scalars(
            select(Case)
            .where(
                Case.tenant_id == tenant_id,
                Case.status.not_in(_CLOSED),
                Case.playbook_version.is_not(None),
                Case.playbook_version != target,
            )
            .order_by(Case.opened_at, Case.id)
        ).all()
        moves = [
            PlaybookMove(case_id=c.id, from_version=c.playbook_version, to_version=target)
            for c in behind
        ]
        if dry_run:
            return moves
        done = [m for c, m in zip(behind, moves, strict=True) if _move(uow, c, m, actor, now)]
        if done:
            uow.audit.append(
                at=now,
                actor=actor,
                action="playbook.reevaluated",
                entity_type="playbook",
                entity_id=str(target),
                data={"to_version": target, "cases": [m.case_id for m in done]},
            )
        uow.commit()
        return done


def _move(uow: UnitOfWork, case: Case, move: PlaybookMove, actor: str, now: datetime) -> bool:
    """False when a concurrent re-evaluation moved the case first (it recorded the move)."""
    if not move_pin(uow, case, expected=move.from_version, to=move.to_version):
        return False
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="playbook_reevaluated",
        summary=(
            f"Playbook moved to tenant version {move.to_version} (was {move.from_version}); "
            "the next recommendation follows it"
        ),
        data={"from_version": move.from_version, "to_version": move.to_version},
    )
    return True
