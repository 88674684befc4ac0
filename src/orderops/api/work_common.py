"""What the case-work routers share: permissions per route, the caller's name, and the
version a change is based on (If-Match or a ``version`` field)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import Annotated

from fastapi import Depends, Header, HTTPException

from orderops.api.auth import require
from orderops.api.case_work_schemas import MessageVersion, Versioned
from orderops.domain.errors import NotFound, OrderOpsError
from orderops.domain.roles import Permission
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

Reader = Annotated[Principal, Depends(require(Permission.CASES_READ))]
Worker = Annotated[Principal, Depends(require(Permission.CASES_WORK))]
Approver = Annotated[Principal, Depends(require(Permission.ACTIONS_APPROVE))]
Manager = Annotated[Principal, Depends(require(Permission.POLICIES_MANAGE))]
EvidenceReader = Annotated[Principal, Depends(require(Permission.EVIDENCE_READ))]
EvidenceWriter = Annotated[Principal, Depends(require(Permission.EVIDENCE_WRITE))]
IfMatch = Annotated[str | None, Header(description='The version you saw, e.g. "3".')]


_FROM_IF_MATCH: ContextVar[bool] = ContextVar("version_from_if_match", default=False)


def version_from(if_match: str | None, body: Versioned | MessageVersion) -> int:
    """The version the change is based on; a change without one is refused (428)."""
    _FROM_IF_MATCH.set(if_match is not None)  # read by conflict_status, in this request
    if if_match is not None:
        text = if_match.strip().removeprefix("W/").strip('"')
        if not text.isdigit():
            raise HTTPException(400, f"If-Match is not a version: {if_match!r}")
        return int(text)
    if body.version is None:
        raise HTTPException(428, "send the version you saw, as If-Match or a version field")
    return body.version


def conflict_status(exc: OrderOpsError) -> int:
    """409 for a conflict, but 412 when it is a stale version the caller sent as If-Match:
    the precondition failed (RFC 9110). A stale ``version`` field stays 409."""
    stale = exc.code.startswith("stale-")
    return 412 if stale and _FROM_IF_MATCH.get() else 409


def actor_of(principal: Principal) -> str:
    """Who acts, on timelines and the audit log: a stable id (``user:<id>``/``key:<id>``),
    never a display name, which can be changed or shared (one place to change)."""
    return principal.identity


def member_of(principal: Principal) -> str:
    """How a person holds cases and sits on queues: their display name, as queue members
    are named."""
    return principal.name


def case_or_404(uow: UnitOfWork, case_id: str) -> Case:
    case = uow.cases.get(case_id)
    if case is None:
        raise NotFound(f"no case {case_id}")
    return case
