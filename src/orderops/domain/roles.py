"""Roles and what each may do. Every API route declares one permission and is checked here.

The table is the whole policy: a test walks every role against every permission, so a
change here is a visible, reviewed change of who may do what.
"""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    VIEWER = "viewer"
    AGENT = "agent"
    APPROVER = "approver"
    FINANCE_APPROVER = "finance_approver"
    FRAUD_ANALYST = "fraud_analyst"
    ADMIN = "admin"
    SERVICE = "service"


class Permission(StrEnum):
    CASES_READ = "cases:read"
    CASES_WORK = "cases:work"
    """Triage, claim, assign, snooze, escalate, comment, draft communications."""
    ACTIONS_PROPOSE = "actions:propose"
    ACTIONS_APPROVE = "actions:approve"
    ACTIONS_APPROVE_FINANCE = "actions:approve_finance"
    ACTIONS_APPROVE_FRAUD = "actions:approve_fraud"
    ACTIONS_OVERRIDE = "actions:override"
    EVENTS_WRITE = "events:write"
    DEAD_LETTERS_READ = "dead_letters:read"
    AUDIT_READ = "audit:read"
    EVIDENCE_READ = "evidence:read"
    EVIDENCE_WRITE = "evidence:write"
    OUTBOX_MANAGE = "outbox:manage"
    POLICIES_MANAGE = "policies:manage"
    USERS_MANAGE = "users:manage"
    SOURCES_MANAGE = "sources:manage"
    USAGE_READ = "usage:read"
    """Usage, quotas and the invoice export: what the tenant used and may use."""


_HUMANS = frozenset(
    {
        Role.VIEWER,
        Role.AGENT,
        Role.APPROVER,
        Role.FINANCE_APPROVER,
        Role.FRAUD_ANALYST,
        Role.ADMIN,
    }
)
_WORKERS = frozenset(
    {Role.AGENT, Role.APPROVER, Role.FINANCE_APPROVER, Role.FRAUD_ANALYST, Role.ADMIN}
)

GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.CASES_READ: _HUMANS | {Role.SERVICE},
    Permission.CASES_WORK: _WORKERS,
    # Services propose too (recommenders, incident tooling): the approval policy, not the
    # role, decides whether a person must look, and a service never approves.
    Permission.ACTIONS_PROPOSE: _WORKERS | {Role.SERVICE},
    Permission.ACTIONS_APPROVE: frozenset(
        {Role.APPROVER, Role.FINANCE_APPROVER, Role.FRAUD_ANALYST, Role.ADMIN}
    ),
    Permission.ACTIONS_APPROVE_FINANCE: frozenset({Role.FINANCE_APPROVER, Role.ADMIN}),
    Permission.ACTIONS_APPROVE_FRAUD: frozenset({Role.FRAUD_ANALYST, Role.ADMIN}),
    Permission.ACTIONS_OVERRIDE: frozenset({Role.ADMIN}),
    Permission.EVENTS_WRITE: frozenset({Role.SERVICE, Role.ADMIN}),
    Permission.DEAD_LETTERS_READ: frozenset({Role.ADMIN, Role.SERVICE}),
    Permission.AUDIT_READ: frozenset({Role.ADMIN, Role.APPROVER, Role.FINANCE_APPROVER}),
    Permission.EVIDENCE_READ: _HUMANS,
    Permission.EVIDENCE_WRITE: _WORKERS,
    Permission.OUTBOX_MANAGE: frozenset({Role.ADMIN}),
    Permission.POLICIES_MANAGE: frozenset({Role.ADMIN}),
    Permission.USERS_MANAGE: frozenset({Role.ADMIN}),
    Permission.SOURCES_MANAGE: frozenset({Role.ADMIN}),
    Permission.USAGE_READ: frozenset({Role.ADMIN, Role.FINANCE_APPROVER}),
}


def allows(role: Role, permission: Permission) -> bool:
    return role in GRANTS[permission]
