"""Who holds a case: claim, release, assign, or let the queue pick (round robin, least loaded).

Holding a case is one column, ``cases.assignee``, so it is covered by the case's version
counter: two people claiming the same version cannot both succeed.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from orderops.cases.cases import record
from orderops.cases.conflicts import AlreadyClaimed, InvalidWorkRequest
from orderops.cases.queues import ensure_queue
from orderops.domain.assignment import least_loaded, next_round_robin
from orderops.domain.cases import CaseStatus, is_open
from orderops.domain.errors import IllegalTransition
from orderops.storage.repositories.queues import queues_of
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork


class Strategy(StrEnum):
    ROUND_ROBIN = "round_robin"
    LEAST_LOADED = "least_loaded"


def claim(
    uow: UnitOfWork, case: Case, *, member: str, now: datetime, actor: str | None = None
) -> None:
    """Take the case; refused while someone else holds it. Claiming one's own is a no-op.
    ``actor``: who is recorded as acting (a stable id); the member by default."""
    _require_open(case, "claimed")
    if case.assignee == member:
        return
    if case.assignee is not None:
        raise AlreadyClaimed(f"case {case.id} is held by {case.assignee}")
    _set(
        uow,
        case,
        member,
        actor=actor or member,
        now=now,
        kind="claimed",
        summary=f"Claimed by {member}",
    )


def release(
    uow: UnitOfWork,
    case: Case,
    *,
    member: str,
    now: datetime,
    force: bool = False,
    actor: str | None = None,
) -> None:
    """Give the case back to its queue. Only its holder may, unless ``force`` (a lead)."""
    if case.assignee is None:
        raise IllegalTransition(f"case {case.id} is not held by anyone")
    if case.assignee != member and not force:
        raise AlreadyClaimed(f"case {case.id} is held by {case.assignee}, not {member}")
    holder = case.assignee
    _set(
        uow,
        case,
        None,
        actor=actor or member,
        now=now,
        kind="released",
        summary=f"Released by {member} (was {holder})",
    )


def assign(uow: UnitOfWork, case: Case, *, assignee: str, actor: str, now: datetime) -> None:
    """Give the case to a named person, taking it from whoever held it."""
    _require_open(case, "assigned")
    if not assignee.strip():
        raise InvalidWorkRequest("an assignment needs a person")
    if case.assignee == assignee:
        return
    _set(
        uow,
        case,
        assignee,
        actor=actor,
        now=now,
        kind="assigned",
        summary=f"Assigned to {assignee} by {actor}",
    )


def assign_next(
    uow: UnitOfWork, case: Case, *, strategy: Strategy, actor: str, now: datetime
) -> str | None:
    """Give the case to a member of its queue chosen by ``strategy``; None if nobody is on it.

    Round robin locks the queue row while it moves the rotation on, so two concurrent
    assignments take two consecutive members rather than the same one twice.
    """
    _require_open(case, "assigned")
    name = case.queue or "ops"
    ensure_queue(uow, name, now=now)
    repo = queues_of(uow)
    queue = repo.get(name, for_update=True)
    assert queue is not None
    members = repo.members(queue)
    if strategy is Strategy.ROUND_ROBIN:
        chosen = next_round_robin(members, queue.rr_last_member)
        if chosen is not None:
            queue.rr_last_member = chosen
    else:
        chosen = least_loaded(repo.open_loads(members))
    if chosen is None:
        return None
    if case.assignee != chosen:
        _set(
            uow,
            case,
            chosen,
            actor=actor,
            now=now,
            kind="assigned",
            summary=f"Assigned to {chosen} ({strategy.replace('_', ' ')} in {name})",
            strategy=strategy,
        )
    return chosen


def _set(
    uow: UnitOfWork,
    case: Case,
    assignee: str | None,
    *,
    actor: str,
    now: datetime,
    kind: str,
    summary: str,
    strategy: Strategy | None = None,
) -> None:
    previous = case.assignee
    case.assignee, case.updated_at = assignee, now
    data: dict[str, str | None] = {"assignee": assignee, "previous": previous, "queue": case.queue}
    if strategy is not None:
        data["strategy"] = strategy
    record(uow, case, at=now, actor=actor, kind=kind, summary=summary, data=data)


def _require_open(case: Case, what: str) -> None:
    if not is_open(CaseStatus(case.status)):
        raise IllegalTransition(f"a {case.status} case cannot be {what}; reopen it first")
