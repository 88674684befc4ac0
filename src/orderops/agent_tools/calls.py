"""How every tool call is held to its key: who calls, may they, not too often, and audited.

A call carries an API key (stdio: the one the server was started with, from
``ORDEROPS_API_KEY``; HTTP: the request's ``Authorization: Bearer``). Each call
authenticates it again (``tenancy.tenants.authenticate``), so a key revoked, expired or
retired mid-session stops at its next call, and a key naming another environment than
its tenant's is refused as on the REST API. Then, in the REST API's order
(``api/auth.py``): the key's and the tenant's API rate limits (the same limiter and
quotas as ``/v1``), then the role's permission from ``domain/roles.py``. An object outside
the caller's tenant or scope is not found: the work runs in the principal's scoped unit of
work, as the REST routes do.

Every authenticated call appends one ``agent.call`` audit record to its tenant's chain,
whatever the outcome (``ok`` or the refusal's code), naming the tool, the key's prefix and
the arguments without their free text (a reason or a message body is recorded by length:
the audit log keeps no customer text the erasure path would have to find). A dry run is
audited like any call and writes nothing else. A key that does not authenticate has no
tenant whose chain could take the record: it is refused unaudited, as on the REST API.

Every authenticated call is also counted in the tenant's usage, meter ``agent_tool_calls``
by tool (``resource:policies``, ``resource:playbooks`` for resource reads), in the
transaction of its audit record: a dry run counts, and so do refusals (rate limited,
forbidden, not found, over a money limit), as the REST API counts its 403s and 429s. A
hard monthly quota on the meter (``orderops usage quota set --meter agent_tool_calls``)
refuses calls with ``quota-exceeded`` once reached, checked after the rate limits; a call
the quota refused is not counted (it is not a use of the quota), but audited.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import select

from orderops.bootstrap import App
from orderops.domain.errors import Forbidden, OrderOpsError, Unauthorized
from orderops.domain.rate_limits import RateLimited, RateScope
from orderops.domain.roles import Permission, allows
from orderops.domain.usage import Meter, QuotaExceeded
from orderops.evidence.store import BlobStore
from orderops.metering import usage
from orderops.storage.tables import ApiKey
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.rate_limits import RateLimiter
from orderops.tenancy.tenants import Principal, authenticate

T = TypeVar("T")

AUDIT_ACTION = "agent.call"
FREE_TEXT = frozenset({"reason", "body", "subject", "text", "note"})
"""Arguments recorded by their length only."""


@dataclass(frozen=True, kw_only=True)
class ToolDesk:
    """What the tools run against: the desk, the rate limiter (None: no limits, as in an
    app without one) and the evidence store proposals freeze their facts into.
    ``tenant_id``: the tenant a stdio server was started for (its key must be one of
    that tenant's); None over HTTP, where each request names its key."""

    app: App
    limiter: RateLimiter | None
    evidence: BlobStore
    tenant_id: str | None = None


def authenticated(desk: ToolDesk, secret: str | None) -> Principal:
    """The caller behind ``secret``, or ``Unauthorized`` (missing, unknown, revoked,
    expired, retired, another environment's, another tenant's than the server's)."""
    if not secret:
        raise Unauthorized(
            "missing API key: send Authorization: Bearer oo_... (HTTP) or set "
            "ORDEROPS_API_KEY (stdio)"
        )
    principal = authenticate(desk.app.sessions, secret, clock=desk.app.clock)
    if desk.tenant_id is not None and principal.tenant_id != desk.tenant_id:
        raise Unauthorized(
            f"this server serves tenant {desk.tenant_id}; the key is not one of its keys"
        )
    return principal


def call(
    desk: ToolDesk,
    *,
    secret: str | None,
    tool: str,
    permission: Permission,
    arguments: Mapping[str, Any],
    work: Callable[[Principal], T],
) -> T:
    """Run one tool call for the key's principal: rate limits, permission, the work, and
    its ``agent.call`` record whatever happened. Refusals raise ``OrderOpsError``s."""
    principal = authenticated(desk, secret)
    outcome = "ok"
    metered = True
    try:
        _hold_to_limits(desk, principal)
        _hold_to_quota(desk, principal)
        if not allows(principal.role, permission):
            raise Forbidden(f"role {principal.role} may not {permission} (tool {tool})")
        return work(principal)
    except QuotaExceeded as exc:
        outcome, metered = exc.code, False
        raise
    except OrderOpsError as exc:
        outcome = exc.code
        raise
    finally:
        _audit(desk, principal, tool=tool, arguments=arguments, outcome=outcome, metered=metered)


def _hold_to_limits(desk: ToolDesk, principal: Principal) -> None:
    if desk.limiter is None:
        return
    admission = desk.limiter.admit(
        tenant_id=principal.tenant_id, scope=RateScope.API, key_id=principal.key_id
    )
    if not admission.allowed:
        raise RateLimited(admission, tenant_id=principal.tenant_id)


def _hold_to_quota(desk: ToolDesk, principal: Principal) -> None:
    """``QuotaExceeded`` at the tenant's hard limit on tool calls; the soft limit's warning
    recorded (once a month). One indexed read when the tenant has no quota."""
    now = desk.app.clock.now()
    try:
        with UnitOfWork(desk.app.sessions, tenant_id=principal.tenant_id) as uow:
            usage.hold_to_quota(uow, Meter.AGENT_TOOL_CALLS, now=now)
            uow.commit()
    except QuotaExceeded as refusal:
        usage.record_refusal(desk.app.sessions, refusal, now=now)
        raise


def metered_tool(tool: str) -> str:
    """The meter's dimension: the tool, or ``resource:<kind>`` (a resource's name after its
    kind is the caller's text, and would make a counter row per name tried)."""
    return tool.split("/", 1)[0]


def recorded_arguments(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The arguments as the audit record keeps them: free text by its length."""
    kept: dict[str, Any] = {}
    for name, value in arguments.items():
        if name in FREE_TEXT and isinstance(value, str):
            kept[f"{name}_chars"] = len(value)
        elif name == "params" and isinstance(value, Mapping):
            kept[name] = recorded_arguments(value)
        else:
            kept[name] = value
    return kept


def _audit(
    desk: ToolDesk,
    principal: Principal,
    *,
    tool: str,
    arguments: Mapping[str, Any],
    outcome: str,
    metered: bool,
) -> None:
    """The call's ``agent.call`` record, and its count unless the quota refused it."""
    now = desk.app.clock.now()
    with UnitOfWork(desk.app.sessions, tenant_id=principal.tenant_id) as uow:
        if metered:
            usage.count(uow, Meter.AGENT_TOOL_CALLS, metered_tool(tool), 1, at=now)
        prefix = uow.session.scalar(
            select(ApiKey.prefix).where(
                ApiKey.tenant_id == principal.tenant_id, ApiKey.id == principal.key_id
            )
        )
        uow.audit.append(
            at=now,
            actor=principal.identity,
            action=AUDIT_ACTION,
            entity_type="api_key",
            entity_id=principal.key_id or "",
            data={
                "tool": tool,
                "key": prefix,
                "role": str(principal.role),
                "outcome": outcome,
                "arguments": recorded_arguments(arguments),
            },
        )
        uow.commit()
