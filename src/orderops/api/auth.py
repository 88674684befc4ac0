"""Bearer API keys and per-route permissions."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from orderops.bootstrap import App
from orderops.domain.errors import Forbidden, Unauthorized
from orderops.domain.roles import Permission, allows
from orderops.workflow.tenants import Principal, authenticate

_bearer = HTTPBearer(
    auto_error=False, description="A tenant API key: `Authorization: Bearer oo_...`"
)


def app_of(request: Request) -> App:
    app: App = request.app.state.orderops
    return app


def require(permission: Permission) -> Callable[..., Principal]:
    """A dependency that authenticates the caller and checks one permission."""

    def dependency(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> Principal:
        if credentials is None:
            raise Unauthorized("missing bearer API key")
        app = app_of(request)
        principal = authenticate(app.sessions, credentials.credentials, clock=app.clock)
        if not allows(principal.role, permission):
            raise Forbidden(f"role {principal.role} may not {permission}")
        return principal

    dependency.permission = permission  # type: ignore[attr-defined]  # read by route audits
    return dependency
