"""Console single sign-on: the tenant's sign-in page, the way out to its identity provider,
the way back, and leaving through the provider's logout.

The page at ``/console/sso?tenant=T`` offers "Sign in with <provider>" as a link, not a
form: the console's Content-Security-Policy has ``form-action 'self'``, which browsers also
apply to where a form's answer redirects, so a form could not lead to the provider. For
the same reason signing out of a single sign-on session answers a page that moves on to the
provider's logout by ``<meta http-equiv="refresh">`` (a new navigation) with a link beside
it, rather than redirecting the sign-out form's post there.

The sign-in cookie (``oo_sso``) names this browser's sign-in row and its secret; it is
HttpOnly, SameSite=Lax (the provider's redirect back is a top-level GET, which Lax lets
through), scoped to ``/console/sso`` and lives as long as the sign-in may take. The
console session then starts with the same cookie a password sign-in sets.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.accounts import session_policy
from orderops.console.web import (
    PREFIX,
    SESSION_COOKIE,
    ConsoleRoute,
    app_of,
    local_path,
    redirect,
    render,
)
from orderops.domain.errors import Forbidden, Unauthorized
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.oidc import OidcClient, ProviderUnavailable
from orderops.tenancy.sso_config import SsoNotConfigured, sso_settings
from orderops.tenancy.sso_sign_in import (
    LOGIN_LIFETIME,
    SignInNotMatched,
    finish_sign_in,
    start_sign_in,
)

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)
SSO_COOKIE = "oo_sso"
SSO_PATH = f"{PREFIX}/sso"
NO_SSO = "This tenant does not sign in with single sign-on here; use your password."


@router.get("/sso")
async def sso_page(request: Request, tenant: str = "", next: str = "") -> Response:
    """The tenant's sign-in page: its provider's button, and passwords when still allowed."""
    app = app_of(request)
    target = local_path(next, f"{PREFIX}/queues")
    tenant = tenant.strip()[:64]
    if not tenant:
        return render(request, "sso.html", tenant="", next=target)

    def read() -> tuple[str, bool] | None:
        try:
            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                settings = sso_settings(uow)
        except SsoNotConfigured:
            return None
        return settings.display_name, settings.allow_passwords

    found = await run_in_threadpool(read)
    if found is None:
        return render(request, "sso.html", status=404, tenant=tenant, next=target, error=NO_SSO)
    provider, passwords = found
    return render(
        request, "sso.html", tenant=tenant, next=target, provider=provider, passwords=passwords
    )


@router.get("/sso/start")
async def sso_start(request: Request, tenant: str = "", next: str = "") -> Response:
    app = app_of(request)
    target = local_path(next, f"{PREFIX}/queues")
    tenant = tenant.strip()[:64]
    client = OidcClient(timeout=app.settings.sso_http_timeout_seconds)
    try:
        started = await run_in_threadpool(
            lambda: start_sign_in(
                app.sessions,
                tenant_id=tenant,
                next_path=target,
                redirect_uri=str(request.url_for("sso_callback")),
                secret_key=app.settings.secret_key,
                clock=app.wall_clock,
                client=client,
            )
        )
    except SsoNotConfigured:
        return render(request, "sso.html", status=404, tenant=tenant, next=target, error=NO_SSO)
    except ProviderUnavailable as exc:
        return render(
            request, "sso.html", status=502, tenant=tenant, next=target, error=exc.message
        )
    response = redirect(started.authorization_url)
    response.set_cookie(
        SSO_COOKIE,
        started.browser_token,
        max_age=int(LOGIN_LIFETIME.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path=SSO_PATH,
    )
    return response


@router.get("/sso/callback", name="sso_callback")
async def sso_callback(
    request: Request, code: str = "", state: str = "", error: str = ""
) -> Response:
    """The provider's redirect back; a refusal is a page saying why, never an error 500."""
    app = app_of(request)
    client = OidcClient(timeout=app.settings.sso_http_timeout_seconds)
    try:
        signed = await run_in_threadpool(
            lambda: finish_sign_in(
                app.sessions,
                browser_token=request.cookies.get(SSO_COOKIE),
                state=state,
                code=code,
                provider_error=error,
                post_logout_redirect_uri=str(request.base_url).rstrip("/") + f"{PREFIX}/login",
                secret_key=app.settings.secret_key,
                clock=app.wall_clock,
                client=client,
                policy=session_policy(app.settings),
                address=request.client.host if request.client else "unknown",
                leeway_seconds=app.settings.sso_clock_leeway_seconds,
            )
        )
    except (Unauthorized, Forbidden, ProviderUnavailable, SsoNotConfigured) as exc:
        status = 502 if isinstance(exc, ProviderUnavailable) else 403
        if isinstance(exc, SignInNotMatched):
            status = 400
        refused = render(request, "sso_refused.html", status=status, error=exc.message)
        refused.delete_cookie(SSO_COOKIE, path=SSO_PATH)
        return refused
    response = redirect(signed.next_path)
    response.set_cookie(
        SESSION_COOKIE,
        signed.session.token,
        max_age=app.settings.console_session_hours * 3600,
        httponly=True,
        samesite="lax",
        secure=request.url.scheme == "https",
        path="/",
    )
    response.delete_cookie(SSO_COOKIE, path=SSO_PATH)
    return response


def leave_through_provider(request: Request, logout_url: str) -> Response:
    """After the console session ended: a page that moves on to the provider's logout."""
    return render(request, "signed_out.html", logout_url=logout_url)
