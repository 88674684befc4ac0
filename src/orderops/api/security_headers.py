"""Browser-facing protections on every response: the console, the API and the docs.

Everything the console and the docs load is served by this app (console assets under
/console/static, Swagger UI and ReDoc under /docs/static), so the policy names no other
origin. Nothing is framed (clickjacking), nothing is sniffed into another type (an
uploaded file is never run as HTML), and other sites learn only our origin from links.
The console redirects back to the page a form came from by its Referer, which
``strict-origin-when-cross-origin`` still sends within the same origin.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # the charts' colour swatches are style attributes; attributes cannot run script
        "style-src-attr 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

DOCS_CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Swagger UI and ReDoc style their pages at run time; ReDoc works in a blob: worker
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self'",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)

DOCS_PATHS = ("/docs", "/redoc")

SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "strict-origin-when-cross-origin",
}


STRICT_TRANSPORT = "max-age=31536000; includeSubDomains"
"""HSTS, sent only on answers that went out over TLS (the request's scheme is https:
directly, or as a trusted proxy's X-Forwarded-Proto, which uvicorn applies): on plain
http a browser ignores it, and a local install without TLS must stay reachable."""


def policy_for(path: str) -> str:
    if path in DOCS_PATHS:
        return DOCS_CONTENT_SECURITY_POLICY
    return CONTENT_SECURITY_POLICY


class SecurityHeaders:
    """Adds the headers to every HTTP response that does not set its own."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        added = [*SECURITY_HEADERS.items(), ("Content-Security-Policy", policy_for(scope["path"]))]
        if scope.get("scheme") == "https":
            added.append(("Strict-Transport-Security", STRICT_TRANSPORT))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in added:
                    if name not in headers:
                        headers[name] = value
            await send(message)

        await self.app(scope, receive, send_with_headers)
