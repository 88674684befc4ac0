"""The resources: the tenant's playbook and its policies, read-only.

Read through the services that keep them (``recommend/service.py`` the playbook,
``decide/policy_versions.py`` the approval policy, ``resolve/policy_in_force.py`` the
fulfillment policy, ``cases/routing.py`` the routing rules), in a unit of work that is
never committed. Each is read with the permission its REST read needs (the same table):
the approval policy with ``policies:manage`` (``GET /v1/admin/approval-policy``), the
playbook and routing rules with ``cases:read`` (``GET /v1/playbook``,
``GET /v1/routing-rules``), the fulfillment policy (no REST read; detector thresholds and
promises, nothing about people or money limits) with ``cases:read``. Changing any of them
stays with administrators on the REST API and the CLI. What approval a proposal needs is in
every ``dry_run`` answer, whoever asks.
"""

from __future__ import annotations

import json
from typing import Any

from orderops.bootstrap import App
from orderops.cases.routing import active_rules
from orderops.decide.policy_versions import version_info
from orderops.domain.errors import NotFound
from orderops.domain.roles import Permission
from orderops.domain.routing import rule_to_dict
from orderops.recommend.playbook import playbook_document
from orderops.recommend.playbook_pins import playbook_at
from orderops.recommend.service import current_playbook
from orderops.resolve.policy_in_force import policy_in_force
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal

POLICIES = ("approval", "fulfillment", "routing")


def permission_for(name: str) -> Permission:
    """What reading policy ``name`` needs: what its REST read needs."""
    return Permission.POLICIES_MANAGE if name == "approval" else Permission.CASES_READ


def policy(app: App, principal: Principal, name: str) -> dict[str, Any]:
    with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, write=False) as uow:
        if name == "approval":
            info = version_info(uow)
            return {"policy": "approval", "version": info.version, "body": info.body}
        if name == "fulfillment":
            found = policy_in_force(uow)
            return {
                "policy": "fulfillment",
                "version": 0 if found is None else found.version,
                "body": None if found is None else json.loads(found.key),
            }
        if name == "routing":
            rules = active_rules(uow)
            return {
                "policy": "routing",
                "version": rules.version,
                "rules": [rule_to_dict(r) for r in rules.rules],
                "fallback_queue": str(rules.fallback_queue),
                "fallback_priority": str(rules.fallback_priority),
            }
    raise NotFound(f"no policy {name!r}; one of {', '.join(POLICIES)}")


def playbook(app: App, principal: Principal, version: str) -> dict[str, Any]:
    """``current``, or a version number the tenant stored (0: the packaged default)."""
    with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, write=False) as uow:
        if version == "current":
            found, number = current_playbook(uow)
            return {"version": number, "playbook": playbook_document(found)}
        if not version.isdigit() or len(version) > 9:
            raise NotFound(f"no playbook version {version!r}")
        return {
            "version": int(version),
            "playbook": playbook_document(playbook_at(uow, int(version))),
        }
