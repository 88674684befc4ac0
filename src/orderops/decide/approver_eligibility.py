"""Who may check a maker's work: a person, not the maker, and not an identity the maker made.

Called inside the deciding transaction, before anything is recorded: for an action
(``decide/approvals.py``) the maker is its proposer and the window comes from the policy
version the action was judged under; for a dispute evidence pack (``recommend/disputes.py``)
the maker is whoever assembled it and the window comes from the case's pinned version.
Every refusal names the reason, and for provenance, each act with its actor and time.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from orderops.decide.policy_versions import current_version, version_info
from orderops.domain.approval_policy import ApprovalPolicy
from orderops.domain.approver_provenance import (
    ApproverNotAPerson,
    disqualifying,
    refusal,
)
from orderops.domain.decision_errors import SelfApproval
from orderops.domain.roles import Role
from orderops.storage.tables import Action
from orderops.storage.tables.access import User
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.identity_acts import acts_on
from orderops.tenancy.tenants import Principal
from orderops.tenancy.users import UserKind

USER_SUBJECT = "user:"


def check_action_approver(
    uow: UnitOfWork, action: Action, *, principal: Principal, at: datetime
) -> None:
    check_approver(
        uow,
        maker=action.proposed_by,
        principal=principal,
        at=at,
        window=provenance_window(uow, action.policy_version),
        subject=f"action {action.id}",
    )


def check_approver(
    uow: UnitOfWork,
    *,
    maker: str,
    principal: Principal,
    at: datetime,
    window: timedelta,
    subject: str,
) -> None:
    """Raise unless ``principal`` is a person other than ``maker`` whom ``maker`` did not
    create, re-role, reset or key within ``window`` before ``at``."""
    user = person_behind(uow, principal)
    if principal.identity == maker:
        raise SelfApproval(f"you prepared {subject}; another person must approve it")
    since = at - window
    found = disqualifying(acts_on(uow, user.id, since=since), proposer=maker, now=at, window=window)
    if found:
        raise refusal(
            approver=f"{principal.identity} ({user.display_name})",
            proposer=maker,
            subject=subject,
            acts=found,
            window=window,
        )


def person_behind(uow: UnitOfWork, principal: Principal) -> User:
    """The active human identity acting; approvals are never made by services or bare keys."""
    if not principal.subject.startswith(USER_SUBJECT):
        raise ApproverNotAPerson(
            f"{principal.identity} is an API key with no person behind it; "
            "approvals are made by people (issue the key to a user)"
        )
    user = uow.session.scalar(
        select(User).where(
            User.tenant_id == uow.tenant_id,
            User.id == principal.subject.removeprefix(USER_SUBJECT),
        )
    )
    if user is None or user.disabled_at is not None:
        raise ApproverNotAPerson(f"{principal.identity} is not an active person of this tenant")
    if user.kind != UserKind.HUMAN or user.role == Role.SERVICE:
        raise ApproverNotAPerson(
            f"{principal.identity} ({user.display_name}) is a service identity; "
            "approvals are made by people"
        )
    return user


def provenance_window(uow: UnitOfWork, policy_version: int | None = None) -> timedelta:
    """The window of the given policy version (default: the tenant's current one)."""
    version = current_version(uow) if policy_version is None else policy_version
    body = version_info(uow, version).body
    # Validated shape only: the window must be readable even from a version stored before
    # newer whole-policy checks existed.
    return timedelta(days=ApprovalPolicy.model_validate(body).provenance_window_days)
