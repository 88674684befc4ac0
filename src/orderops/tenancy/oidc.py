"""Talking to a tenant's OpenID Connect provider: discovery, the authorization request, the
code exchange, and the checks an ID token must pass before anyone is signed in.

The provider's endpoints come from its discovery document, whose ``issuer`` must be the
issuer configured (OpenID Connect Discovery 1.0, section 4.3): a document naming another
issuer could point token checks at someone else's keys. Documents and key sets are cached
per issuer in the process (an hour); a token signed with a key id the cached set lacks
fetches the set again, at most every ``JWKS_REFRESH_SECONDS``, so a provider's key rotation
is followed without letting a stream of forged key ids turn us into its load generator.

authlib supplies the OAuth protocol pieces (the authorization URL, PKCE's S256 challenge,
the token request body, random tokens); the requests are plain httpx, with a timeout, so a
slow provider costs one sign-in a clear error rather than a hung worker. joserfc checks the
ID token: its signature against the provider's published keys, with asymmetric algorithms
only (never ``none``, never an HMAC keyed by something the client also holds), then ``iss``,
``aud`` (and ``azp`` when there are several audiences), ``exp`` and ``iat`` within a small
leeway, ``sub``, and the nonce this browser's sign-in sent.

Nothing here logs: codes, tokens and secrets pass through without being written anywhere
(the sign-in flow seals the one token it keeps).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import httpx
from authlib.common.security import generate_token  # type: ignore[import-untyped]
from authlib.oauth2.rfc6749.parameters import (  # type: ignore[import-untyped]
    prepare_grant_uri,
    prepare_token_request,
)
from authlib.oauth2.rfc7636 import create_s256_code_challenge  # type: ignore[import-untyped]
from joserfc import jwt
from joserfc.errors import (
    BadSignatureError,
    ExpiredTokenError,
    InvalidClaimError,
    InvalidKeyIdError,
    JoseError,
    MissingClaimError,
)
from joserfc.jwk import KeySet

from orderops.domain.errors import OrderOpsError, Unauthorized

DISCOVERY_PATH = "/.well-known/openid-configuration"
CACHE_SECONDS = 3600.0
JWKS_REFRESH_SECONDS = 30.0
SIGNING_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
)
"""Asymmetric only: the provider signs, everyone else can merely verify."""
MAX_DOCUMENT_BYTES = 256 * 1024


class ProviderUnavailable(OrderOpsError):
    """The provider could not be reached, or answered something that is not OpenID Connect."""

    code = "sso-provider-unavailable"


class CodeRefused(Unauthorized):
    """The token endpoint refused the code (expired, used, PKCE verifier wrong, ...)."""

    code = "sso-code-refused"


class TokenRejected(Unauthorized):
    """The ID token failed a check; ``reason`` names which, for the audit record."""

    code = "sso-token-rejected"

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class ProviderMetadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None
    algorithms: tuple[str, ...]
    basic_auth: bool
    """Send the client's credentials with HTTP Basic (the default) or in the body."""


@dataclass(frozen=True)
class AuthorizationRequest:
    """What one sign-in sends the provider through the browser; the state, nonce and PKCE
    verifier are new random values each time."""

    state: str
    nonce: str
    verifier: str

    @classmethod
    def new(cls) -> AuthorizationRequest:
        return cls(state=generate_token(43), nonce=generate_token(43), verifier=generate_token(64))


def digest(value: str) -> str:
    """How state, nonce and browser secrets are stored: compared, never read back."""
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


def same_digest(value: object, stored: str) -> bool:
    return isinstance(value, str) and hmac.compare_digest(digest(value), stored)


class _Cache:
    """Discovery documents and key sets by issuer, shared by every request of the process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._metadata: dict[str, tuple[float, ProviderMetadata]] = {}
        self._keys: dict[str, tuple[float, KeySet]] = {}

    def metadata(self, issuer: str) -> ProviderMetadata | None:
        with self._lock:
            found = self._metadata.get(issuer)
        return found[1] if found and time.monotonic() - found[0] < CACHE_SECONDS else None

    def keep_metadata(self, metadata: ProviderMetadata) -> None:
        with self._lock:
            self._metadata[metadata.issuer] = (time.monotonic(), metadata)

    def keys(self, jwks_uri: str) -> tuple[float, KeySet] | None:
        with self._lock:
            found = self._keys.get(jwks_uri)
        return found if found and time.monotonic() - found[0] < CACHE_SECONDS else None

    def keep_keys(self, jwks_uri: str, keys: KeySet) -> None:
        with self._lock:
            self._keys[jwks_uri] = (time.monotonic(), keys)


_CACHE = _Cache()


class OidcClient:
    """One provider conversation at a time; cheap to make per request (the cache is shared)."""

    def __init__(self, *, timeout: float, transport: httpx.BaseTransport | None = None) -> None:
        self._timeout = timeout
        self._transport = transport

    def metadata(self, issuer: str) -> ProviderMetadata:
        cached = _CACHE.metadata(issuer)
        if cached is not None:
            return cached
        document = self._get_json(issuer.rstrip("/") + DISCOVERY_PATH, what="discovery document")
        metadata = _metadata_from(issuer, document)
        _CACHE.keep_metadata(metadata)
        return metadata

    def authorization_url(
        self,
        metadata: ProviderMetadata,
        *,
        client_id: str,
        redirect_uri: str,
        scopes: Sequence[str],
        request: AuthorizationRequest,
    ) -> str:
        url: str = prepare_grant_uri(
            metadata.authorization_endpoint,
            client_id=client_id,
            response_type="code",
            redirect_uri=redirect_uri,
            scope=" ".join(scopes),
            state=request.state,
            nonce=request.nonce,
            code_challenge=create_s256_code_challenge(request.verifier),
            code_challenge_method="S256",
        )
        return url

    def exchange_code(
        self,
        metadata: ProviderMetadata,
        *,
        client_id: str,
        client_secret: str,
        code: str,
        redirect_uri: str,
        verifier: str,
    ) -> str:
        """Trade the code for tokens; the ID token (the only one we use)."""
        body: str = prepare_token_request(
            "authorization_code", redirect_uri=redirect_uri, code=code, code_verifier=verifier
        )
        fields = dict(parse_qsl(body))
        auth: tuple[str, str] | None = None
        if metadata.basic_auth:
            # RFC 6749, section 2.3.1: form-encoded before Basic's base64.
            auth = (quote(client_id, safe=""), quote(client_secret, safe=""))
        else:
            fields |= {"client_id": client_id, "client_secret": client_secret}
        try:
            status, document = self._send("POST", metadata.token_endpoint, data=fields, auth=auth)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"the identity provider's token endpoint did not answer ({type(exc).__name__})"
            ) from exc
        if status >= 500 or document is None:
            raise ProviderUnavailable(
                f"the identity provider's token endpoint answered {status} without a token response"
            )
        if status != 200 or "error" in document:
            error = str(document.get("error", f"http {status}"))[:80]
            raise CodeRefused(f"the identity provider refused to complete the sign-in ({error})")
        id_token = document.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise TokenRejected("no-id-token", "the identity provider sent no ID token")
        return id_token

    def verify_id_token(
        self,
        metadata: ProviderMetadata,
        id_token: str,
        *,
        client_id: str,
        nonce_digest: str,
        now: datetime,
        leeway_seconds: int,
    ) -> dict[str, Any]:
        """The token's claims once every check has passed; TokenRejected naming the first
        that failed otherwise."""
        algorithms = list(metadata.algorithms)
        try:
            try:
                token = jwt.decode(id_token, self._keys(metadata), algorithms=algorithms)
            except InvalidKeyIdError:
                token = jwt.decode(
                    id_token, self._keys(metadata, refresh=True), algorithms=algorithms
                )
        except (BadSignatureError, InvalidKeyIdError) as exc:
            raise TokenRejected(
                "signature", "the ID token's signature is not the identity provider's"
            ) from exc
        except JoseError as exc:
            raise TokenRejected(
                "malformed", f"the ID token could not be read ({exc.error})"
            ) from exc
        claims = token.claims
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=leeway_seconds,
            iss={"essential": True, "value": metadata.issuer},
            aud={"essential": True, "value": client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except ExpiredTokenError as exc:
            raise TokenRejected("expired", "the ID token has expired") from exc
        except MissingClaimError as exc:
            raise TokenRejected(
                "missing-claims", f"the ID token lacks required claims ({exc.description})"
            ) from exc
        except InvalidClaimError as exc:
            claim = str(exc.claim)
            words = {"iss": "issuer", "aud": "audience"}.get(claim, f"'{claim}' claim")
            raise TokenRejected(
                claim, f"the ID token's {words} is not the one this tenant expects"
            ) from exc
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        if len(audiences) > 1 and claims.get("azp") != client_id:
            raise TokenRejected("azp", "the ID token was issued to another client (azp)")
        if not same_digest(claims.get("nonce"), nonce_digest):
            raise TokenRejected("nonce", "the ID token does not answer this sign-in (nonce)")
        return claims

    def _keys(self, metadata: ProviderMetadata, *, refresh: bool = False) -> KeySet:
        cached = _CACHE.keys(metadata.jwks_uri)
        if cached is not None:
            fetched_at, keys = cached
            if not refresh or time.monotonic() - fetched_at < JWKS_REFRESH_SECONDS:
                return keys
        document = self._get_json(metadata.jwks_uri, what="key set")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, ValueError, TypeError, KeyError) as exc:
            raise ProviderUnavailable("the identity provider's key set could not be read") from exc
        _CACHE.keep_keys(metadata.jwks_uri, keys)
        return keys

    def _get_json(self, url: str, *, what: str) -> dict[str, Any]:
        try:
            status, document = self._send("GET", url)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(
                f"the identity provider's {what} could not be fetched ({type(exc).__name__})"
            ) from exc
        if status != 200 or document is None:
            raise ProviderUnavailable(
                f"the identity provider's {what} answered {status}, not a JSON object"
            )
        return document

    def _send(
        self,
        method: str,
        url: str,
        *,
        data: dict[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> tuple[int, dict[str, Any] | None]:
        """The status and JSON object of one request; None for a body that is not one, or
        is larger than any provider document needs to be (read no further than that)."""
        headers = {"Accept": "application/json"}
        with (
            httpx.Client(timeout=self._timeout, transport=self._transport) as http,
            http.stream(method, url, data=data, auth=auth, headers=headers) as answer,
        ):
            body = bytearray()
            for chunk in answer.iter_bytes():
                body += chunk
                if len(body) > MAX_DOCUMENT_BYTES:
                    return answer.status_code, None
            status = answer.status_code
        try:
            document = json.loads(body)
        except ValueError:
            return status, None
        return status, document if isinstance(document, dict) else None


def end_session_url(
    endpoint: str, *, id_token: str | None, client_id: str, post_logout_redirect_uri: str | None
) -> str:
    """RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0, section 2), keeping any
    query the endpoint already has."""
    parts = urlsplit(endpoint)
    query = parse_qsl(parts.query, keep_blank_values=True)
    if id_token:
        query.append(("id_token_hint", id_token))
    query.append(("client_id", client_id))
    if post_logout_redirect_uri:
        query.append(("post_logout_redirect_uri", post_logout_redirect_uri))
    return urlunsplit(parts._replace(query=urlencode(query)))


def _metadata_from(issuer: str, document: dict[str, Any]) -> ProviderMetadata:
    if document.get("issuer") != issuer:
        raise ProviderUnavailable(
            "the identity provider's discovery document names another issuer "
            f"({str(document.get('issuer'))[:200]!r}); check the configured issuer URL"
        )
    endpoints = {}
    for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        value = document.get(name)
        if not isinstance(value, str) or urlsplit(value).scheme not in ("https", "http"):
            raise ProviderUnavailable(f"the identity provider's discovery document lacks {name}")
        endpoints[name] = value
    end_session = document.get("end_session_endpoint")
    offered = document.get("id_token_signing_alg_values_supported") or ["RS256"]
    algorithms = tuple(a for a in offered if isinstance(a, str) and a in SIGNING_ALGORITHMS)
    if not algorithms:
        raise ProviderUnavailable(
            "the identity provider signs ID tokens with no asymmetric algorithm we accept "
            f"({', '.join(SIGNING_ALGORITHMS)})"
        )
    methods = document.get("token_endpoint_auth_methods_supported") or ["client_secret_basic"]
    return ProviderMetadata(
        issuer=issuer,
        authorization_endpoint=endpoints["authorization_endpoint"],
        token_endpoint=endpoints["token_endpoint"],
        jwks_uri=endpoints["jwks_uri"],
        end_session_endpoint=end_session if isinstance(end_session, str) else None,
        algorithms=algorithms,
        basic_auth="client_secret_basic" in methods or "client_secret_post" not in methods,
    )
