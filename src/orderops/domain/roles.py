"""Roles and what each may do. The API declares a permission per route and checks it here."""

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
    EVENTS_WRITE = "events:write"
    DEAD_LETTERS_READ = "dead_letters:read"
    AUDIT_READ = "audit:read"


_READERS = {
    Role.VIEWER,
    Role.AGENT,
    Role.APPROVER,
    Role.FINANCE_APPROVER,
    Role.FRAUD_ANALYST,
    Role.ADMIN,
}

GRANTS: dict[Permission, frozenset[Role]] = {
    Permission.CASES_READ: frozenset(_READERS | {Role.SERVICE}),
    Permission.EVENTS_WRITE: frozenset({Role.SERVICE, Role.ADMIN}),
    Permission.DEAD_LETTERS_READ: frozenset({Role.ADMIN, Role.SERVICE}),
    Permission.AUDIT_READ: frozenset({Role.ADMIN, Role.APPROVER, Role.FINANCE_APPROVER}),
}


def allows(role: Role, permission: Permission) -> bool:
    return role in GRANTS[permission]
