"""Optimistic concurrency for people working cases, and the errors it raises.

A person acts on the case as they last saw it: every change names the version it was
based on, and a change based on an older version is refused with the current state
rather than silently overwriting what a colleague just did.
"""

from __future__ import annotations

from sqlalchemy import select

from orderops.domain.errors import IllegalTransition, NotFound, OrderOpsError
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork


class StaleCase(IllegalTransition):
    """The case changed since the caller read it (answered 409 with the current case).

    A subclass of IllegalTransition only so the API's error map answers 409; it says
    "someone else moved first", not "this move is never allowed".
    """

    code = "stale-case"

    def __init__(self, message: str, *, case_id: str) -> None:
        super().__init__(message)
        self.case_id = case_id


class AlreadyClaimed(IllegalTransition):
    """Someone else holds the case; release or reassign it first."""

    code = "already-claimed"


class StaleCommunication(IllegalTransition):
    code = "stale-communication"


def load_case(uow: UnitOfWork, case_id: str, *, expected_version: int | None) -> Case:
    """The case locked for this transaction, refused when it is not the version expected.

    The row lock makes a concurrent writer wait for our commit and then see the new
    version (PostgreSQL; SQLite writers are already serialised by BEGIN IMMEDIATE), so
    two people acting on one version cannot both win.
    """
    case = uow.session.scalar(
        select(Case).where(Case.tenant_id == uow.tenant_id, Case.id == case_id).with_for_update()
    )
    if case is None:
        raise NotFound(f"no case {case_id}")
    if expected_version is not None and case.version != expected_version:
        raise StaleCase(
            f"case {case_id} is at version {case.version}, not {expected_version}: "
            "it changed since you read it",
            case_id=case_id,
        )
    return case


class InvalidWorkRequest(OrderOpsError):
    """A request about a case that can never succeed as asked (a snooze into the past, a
    resolution without a reason); answered 400."""

    code = "invalid-work-request"
