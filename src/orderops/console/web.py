"""What every console page shares: the signed-in person, forms with CSRF, rendering, errors.

Console routes run through ``ConsoleRoute``, which turns a missing session into a redirect
to the sign-in page and a domain error into a page (or, after a form post, a message on
the page the person came from). The API's problem+json handlers stay untouched.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Annotated, Any
from urllib.parse import parse_qsl, quote, unquote, urlsplit

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from jinja2 import Environment, PackageLoader, select_autoescape

from orderops.api.problems import status_for
from orderops.bootstrap import App
from orderops.console.accounts import active_user, session_policy
from orderops.console.security import csrf_ok, csrf_token
from orderops.domain.choices import OFFERABLE
from orderops.domain.errors import Forbidden, InvalidEvent, OrderOpsError, Unauthorized
from orderops.domain.roles import Permission, allows
from orderops.domain.scopes import UNRESTRICTED, AccessScope
from orderops.ingest.adapters.common import currency_exponent
from orderops.tenancy.access_scopes import user_scope
from orderops.tenancy.console_sessions import LiveSession, resume_session
from orderops.tenancy.tenants import Principal
from orderops.tenancy.users import UserInfo

PREFIX = "/console"
SESSION_COOKIE = "oo_session"
FLASH_COOKIE = "oo_flash"
MAX_FORM_BYTES = 512 * 1024


class LoginRequired(Exception):
    """No valid session: the route answers with a redirect to the sign-in page."""


@dataclass(frozen=True)
class Viewer:
    """The signed-in person as of this request (role re-read from the database)."""

    user: UserInfo
    session: LiveSession
    csrf: str
    scope: AccessScope = UNRESTRICTED
    """The person's scope below the tenant (re-read each request, like the role): every
    page reads through units of work carrying it."""

    @property
    def principal(self) -> Principal:
        return Principal(
            tenant_id=self.session.tenant_id,
            role=self.user.role,
            name=self.user.display_name,
            subject=self.user.subject,
            scope=self.scope,
        )

    @property
    def tenant_id(self) -> str:
        return self.session.tenant_id

    def can(self, permission: Permission) -> bool:
        return allows(self.user.role, permission)

    def need(self, permission: Permission) -> None:
        """Refuse on the server whatever the page showed: buttons are a courtesy."""
        if not self.can(permission):
            raise Forbidden(f"role {self.user.role} may not {permission}")


def app_of(request: Request) -> App:
    app: App = request.app.state.orderops
    return app


async def current_viewer(request: Request) -> Viewer:
    app = app_of(request)
    session = await run_in_threadpool(
        resume_session,
        app.sessions,
        request.cookies.get(SESSION_COOKIE),
        now=app.wall_clock.now(),
        policy=session_policy(app.settings),
    )
    if session is None:
        raise LoginRequired
    try:
        user = await run_in_threadpool(
            active_user, app.sessions, tenant_id=session.tenant_id, user_id=session.user_id
        )
    except Unauthorized as exc:
        raise LoginRequired from exc
    scope = await run_in_threadpool(
        user_scope, app.sessions, tenant_id=session.tenant_id, user_id=session.user_id
    )
    viewer = Viewer(
        user=user,
        session=session,
        csrf=csrf_token(session.token, app.settings.secret_key),
        scope=scope,
    )
    request.state.viewer = viewer
    return viewer


Signed = Annotated[Viewer, Depends(current_viewer)]


async def form_of(request: Request, viewer: Viewer) -> dict[str, str]:
    """The posted form (urlencoded), refused unless it carries this session's CSRF token."""
    refuse_cross_site(request)
    raw = await request.body()
    if len(raw) > MAX_FORM_BYTES:
        raise InvalidEvent("the form is too large")
    fields = dict(parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
    if not csrf_ok(viewer.session.token, app_of(request).settings.secret_key, fields.get("csrf")):
        raise Forbidden("the form's CSRF token is missing or wrong; reload the page")
    return fields


SAME_SITE_FETCHES = frozenset({"same-origin", "none"})


def refuse_cross_site(request: Request) -> None:
    """Refuse a form another site's page posted, whatever token it carries.

    The token alone fails open if it ever leaks (a log, a screenshot, a proxy), and the
    session cookie's SameSite=Lax is the browser's policy, not ours. Browsers say where a
    post comes from: ``Sec-Fetch-Site`` (computed by the browser, so a proxy rewriting
    Host cannot confuse it), else ``Origin`` against the Host it was sent to. A request
    naming neither (a script, an old browser) is left to the token.
    """
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        if site not in SAME_SITE_FETCHES:
            raise Forbidden("the form was posted from another site; open the console and retry")
        return
    origin = request.headers.get("origin")
    if origin is not None and urlsplit(origin).netloc != request.headers.get("host"):
        raise Forbidden("the form was posted from another site; open the console and retry")


def plain_money(minor: int | None, currency: str = "") -> str:
    """``1,234.56 USD``, ``12,345 JPY``: the amount with its currency's own decimals (the
    dashboards write money the babel way, console/money.py; tables keep the code)."""
    if minor is None:
        return "-"
    places = currency_exponent(currency) if currency else 2
    return f"{Decimal(minor).scaleb(-places):,.{places}f} {currency}".strip()


@cache
def templates() -> Environment:
    env = Environment(
        loader=PackageLoader("orderops.console", "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.filters["money"] = plain_money
    env.filters["label"] = lambda v: str(v or "").replace("_", " ")
    env.globals["OFFERABLE"] = sorted(OFFERABLE)  # case types a customer may choose on
    return env


def _when(value: datetime | str | None) -> str:
    """A moment as pages show it (minutes, UTC); an ISO string (a recommendation's stored
    JSON) is read first, where it showed raw with its microseconds."""
    if not value:
        return "-"
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M")
        except ValueError:
            return value
    return value.strftime("%Y-%m-%d %H:%M")


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> HTMLResponse:
    viewer = getattr(request.state, "viewer", None)
    flash = unquote(request.cookies.get(FLASH_COOKIE, "")) or None
    html = (
        templates()
        .get_template(template)
        .render(
            request=request,
            viewer=viewer,
            P=Permission,
            prefix=PREFIX,
            flash=flash,
            path=request.url.path,
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status)
    if flash:
        response.delete_cookie(FLASH_COOKIE, path="/")
    return response


def redirect(url: str, *, message: str | None = None) -> RedirectResponse:
    response = RedirectResponse(url, status_code=303)
    if message:
        response.set_cookie(
            FLASH_COOKIE, quote(message[:300]), max_age=60, httponly=True, samesite="lax"
        )
    return response


def local_path(target: str | None, default: str) -> str:
    """Only same-site paths under the console: never an open redirect."""
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith(PREFIX):
        return default
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _came_from(request: Request) -> str:
    """The page the form was on: browsers send the full URL as Referer, so one naming
    this very host is read as its path (any other host: the queues)."""
    referer = request.headers.get("referer") or ""
    parts = urlsplit(referer)
    if parts.netloc and parts.netloc == request.headers.get("host"):
        referer = parts.path + (f"?{parts.query}" if parts.query else "")
    return local_path(referer, f"{PREFIX}/queues")


Handler = Callable[[Request], Coroutine[Any, Any, Response]]


class ConsoleRoute(APIRoute):
    """Redirects to sign-in when there is no session; renders domain errors as pages."""

    def get_route_handler(self) -> Handler:
        handler = super().get_route_handler()

        async def guarded(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired:
                wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.method != "GET":
                    wanted = _came_from(request)
                return redirect(f"{PREFIX}/login?next={quote(wanted)}")
            except OrderOpsError as exc:
                status = status_for(exc)
                if request.method == "POST" and status not in (401, 403, 404, 500):
                    return redirect(_came_from(request), message=exc.message)
                return render(request, "error.html", status=status, error=exc)

        return guarded


def query_text(params: Mapping[str, str], name: str) -> str:
    return (params.get(name) or "").strip()
