"""A closed case takes no new work from the console: no proposal, no recommendation, no
applying one, no choice offered to the customer.

The case page hides those controls on a resolved or rejected case (``CasePage.closed``),
but a page open since before the case closed, or a replayed form, still posts: each of
those routes asks ``refuse_closed`` first, so the reviewer reads why (and how to go on:
reopen it) instead of a half-done change or a bare "illegal transition". The services
refuse proposals on closed cases too; this says it in the reviewer's words, and covers
asking the recommender, which the service would otherwise answer.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from orderops.decide.actions import get_case
from orderops.domain.cases import CLOSED_STATUSES, CaseStatus
from orderops.domain.errors import IllegalTransition
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

CLOSED = frozenset(str(s) for s in CLOSED_STATUSES)


class CaseClosed(IllegalTransition):
    """Work asked of a resolved or rejected case (answers 409)."""

    code = "case-closed"


def is_closed(status: str) -> bool:
    return status in CLOSED


def refuse_closed(
    sessions: sessionmaker[Session], principal: Principal, case_id: str, *, doing: str
) -> None:
    """Raise ``CaseClosed`` when the case is closed; ``doing`` names the refused work in a
    reviewer's words ("propose an action")."""
    with UnitOfWork(
        sessions, tenant_id=principal.tenant_id, write=False, scope=principal.scope
    ) as uow:
        status = get_case(uow, case_id).status
    if is_closed(status):
        said = CaseStatus(status).value.replace("_", " ")
        raise CaseClosed(
            f"This case is {said}, so you cannot {doing} on it. "
            "Reopen it first (Move case: reopen) if it needs more work."
        )
