"""A real OpenID Connect provider on 127.0.0.1, in the test process, and a browser's walk
through single sign-on against the console.

The provider serves discovery, its key set, an authorization endpoint that approves the
configured person at once and redirects back with a code, a token endpoint that checks the
client's secret, the redirect URI and the PKCE verifier (S256) before it signs an RS256 ID
token, and an end-session endpoint. Tokens are signed with a real key and timed by the
test's clock. Knobs make it misbehave the way an attacker or a broken provider would: sign
with another key, or put other claims in the token.

Each provider gets a fresh key id and issuer path, so the console's per-process discovery
and key cache never confuses two tests that happen to get the same port.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, parse_qsl, unquote, urlencode, urlsplit

import httpx
from fastapi.testclient import TestClient
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from orderops.domain.clock import Clock
from orderops.sandbox.runner import run_sandbox


@dataclass
class Person:
    """Who the provider signs in when the authorization endpoint is called."""

    sub: str = field(default_factory=lambda: f"sub-{uuid.uuid4().hex[:10]}")
    email: str | None = "pat@acme.example"
    email_verified: bool = True
    name: str = "Pat Lead"
    groups: list[str] = field(default_factory=lambda: ["ops-leads"])


@dataclass
class _Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    nonce: str
    person: Person
    used: bool = False


def new_key() -> RSAKey:
    return RSAKey.generate_key(
        2048, parameters={"kid": uuid.uuid4().hex[:12], "alg": "RS256", "use": "sig"}
    )


class Issuer:
    """The provider's state and behaviour; its URL is known once it is running."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.key = new_key()
        self.path = f"/realms/{uuid.uuid4().hex[:8]}"
        self.base_url = ""
        self.person = Person()
        self.clients: dict[str, str] = {}
        self.grants: dict[str, _Grant] = {}
        self.sign_with: RSAKey | None = None
        """Sign ID tokens with this key (the key id stays the published one's): a forgery."""
        self.claims: dict[str, Any] = {}
        """Claims to put in (or, with value None, leave out of) the next ID tokens."""
        self.end_session = True
        self.issued: list[str] = []
        self.token_refusals: list[str] = []

    @property
    def issuer(self) -> str:
        return self.base_url + self.path

    def register(self, client_id: str, secret: str) -> None:
        self.clients[client_id] = secret

    def app(self) -> Starlette:
        p = self.path
        return Starlette(
            routes=[
                Route(f"{p}/.well-known/openid-configuration", self._discovery),
                Route(f"{p}/jwks", self._jwks),
                Route(f"{p}/authorize", self._authorize),
                Route(f"{p}/token", self._token, methods=["POST"]),
                Route(f"{p}/logout", self._logout),
            ]
        )

    async def _discovery(self, request: Request) -> Response:
        document: dict[str, Any] = {
            "issuer": self.issuer,
            "authorization_endpoint": f"{self.issuer}/authorize",
            "token_endpoint": f"{self.issuer}/token",
            "jwks_uri": f"{self.issuer}/jwks",
            "response_types_supported": ["code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic"],
        }
        if self.end_session:
            document["end_session_endpoint"] = f"{self.issuer}/logout"
        return JSONResponse(document)

    async def _jwks(self, request: Request) -> Response:
        return JSONResponse(KeySet([self.key]).as_dict(private=False))

    async def _authorize(self, request: Request) -> Response:
        q = request.query_params
        if q.get("client_id") not in self.clients or q.get("response_type") != "code":
            return PlainTextResponse("unknown client or response type", status_code=400)
        if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
            return PlainTextResponse("PKCE S256 required", status_code=400)
        code = secrets.token_urlsafe(24)
        self.grants[code] = _Grant(
            client_id=q["client_id"],
            redirect_uri=q["redirect_uri"],
            challenge=q["code_challenge"],
            nonce=q.get("nonce", ""),
            person=self.person,
        )
        back = urlencode({"code": code, "state": q.get("state", "")})
        return RedirectResponse(f"{q['redirect_uri']}?{back}", status_code=302)

    async def _token(self, request: Request) -> Response:
        form = dict(parse_qsl((await request.body()).decode()))
        client_id, secret = _client_credentials(request, form)
        grant = self.grants.get(str(form.get("code", "")))
        if client_id not in self.clients or self.clients[client_id] != secret:
            return self._refuse("invalid_client")
        if grant is None or grant.used or grant.client_id != client_id:
            return self._refuse("invalid_grant")
        if form.get("redirect_uri") != grant.redirect_uri:
            return self._refuse("invalid_grant")
        if _s256(str(form.get("code_verifier", ""))) != grant.challenge:
            return self._refuse("invalid_grant")  # PKCE: not the verifier of the challenge
        grant.used = True
        id_token = self.id_token(client_id, grant)
        self.issued.append(id_token)
        return JSONResponse(
            {
                "access_token": secrets.token_urlsafe(16),
                "token_type": "Bearer",
                "id_token": id_token,
            }
        )

    def _refuse(self, error: str) -> Response:
        self.token_refusals.append(error)
        return JSONResponse({"error": error}, status_code=400)

    async def _logout(self, request: Request) -> Response:
        return PlainTextResponse("signed out of the provider")

    def id_token(self, client_id: str, grant: _Grant) -> str:
        now = int(self.clock.now().timestamp())
        person = grant.person
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": person.sub,
            "aud": client_id,
            "iat": now,
            "exp": now + 300,
            "nonce": grant.nonce,
            "name": person.name,
            "groups": person.groups,
        }
        if person.email is not None:
            claims |= {"email": person.email, "email_verified": person.email_verified}
        for name, value in self.claims.items():
            if value is None:
                claims.pop(name, None)
            else:
                claims[name] = value
        header = {"alg": "RS256", "kid": self.key.kid}
        return jwt.encode(header, claims, self.sign_with or self.key)


def _client_credentials(request: Request, form: dict[str, Any]) -> tuple[str, str]:
    basic = request.headers.get("authorization", "")
    if basic.startswith("Basic "):
        user, _, password = base64.b64decode(basic[6:]).decode().partition(":")
        return unquote(user), unquote(password)
    return str(form.get("client_id", "")), str(form.get("client_secret", ""))


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@contextmanager
def running_issuer(clock: Clock) -> Iterator[Issuer]:
    issuer = Issuer(clock)
    with run_sandbox(issuer.app()) as base_url:
        issuer.base_url = base_url
        yield issuer


# -- the browser's side ---------------------------------------------------------------


def begin(console: TestClient, tenant: str, next_path: str = "/console/queues") -> str:
    """Press "Sign in with ...": the provider's authorization URL the console redirects to."""
    started = console.get("/console/sso/start", params={"tenant": tenant, "next": next_path})
    assert started.status_code == 303, started.text
    return started.headers["location"]


def approve(authorization_url: str) -> str:
    """The provider's answer to the browser: where it sends it back (code and state)."""
    answer = httpx.get(authorization_url, follow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def come_back(console: TestClient, callback_url: str) -> httpx.Response:
    """The browser following the provider's redirect to the console's callback."""
    parts = urlsplit(callback_url)
    return console.get(f"{parts.path}?{parts.query}")


def sign_in_through(console: TestClient, tenant: str) -> httpx.Response:
    return come_back(console, approve(begin(console, tenant)))


def query_of(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def expired_by(clock: Clock, age: timedelta) -> dict[str, int]:
    """Claims of a token issued ``age`` ago that lived five minutes."""
    issued = int((clock.now() - age).timestamp())
    return {"iat": issued, "exp": issued + 300}
