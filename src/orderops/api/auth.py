"""Bearer API keys and per-route permissions.

The authenticated key's environment is noted on the request, and
``api/environment_header.py`` puts it on the answer (``OrderOps-Environment``), so a
client can see whether it just talked to live or test.
"""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orderops.api.environment_header import note_environment
from orderops.api.idempotency import claim
from orderops.api.rate_limits import hold
from orderops.api.usage_meter import note_caller
from orderops.bootstrap import App
from orderops.domain.errors import Forbidden, Unauthorized
from orderops.domain.rate_limits import RateScope
from orderops.domain.roles import Permission, allows
from orderops.tenancy.tenants import Principal, authenticate

_bearer = HTTPBearer(
    auto_error=False, description="A tenant API key: `Authorization: Bearer oo_...`"
)


def app_of(request: Request) -> App:
    app: App = request.app.state.orderops
    return app


def require(permission: Permission, *, rate: RateScope = RateScope.API) -> Callable[..., Principal]:
    """A dependency that authenticates the caller, holds the request to the key's and the
    tenant's ``rate`` limits (429 when over), checks one permission, and claims the
    request's ``Idempotency-Key`` if it has one (or answers it from the first request)."""

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        if credentials is None:
            raise Unauthorized("missing bearer API key")
        app = app_of(request)
        principal = authenticate(app.sessions, credentials.credentials, clock=app.clock)
        note_environment(request, principal.environment)
        note_caller(request, principal.tenant_id)  # an API call of the tenant's (usage)
        hold(request, tenant_id=principal.tenant_id, scope=rate, key_id=principal.key_id)
        if not allows(principal.role, permission):
            raise Forbidden(f"role {principal.role} may not {permission}")
        claim(request, principal)  # a keyed POST's Idempotency-Key (api/idempotency.py)
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by route audits
    return dependency
