"""Passwords, signed session cookies and CSRF tokens. Pure: no I/O, time passed in.

Sessions are a signed value, not a server-side row, so a restart logs nobody out; the user
is re-read on every request, so disabling someone or changing their role takes effect at
once. The CSRF token is derived from the session's random nonce, so it needs no storage
and a token from one session is useless in another.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
SESSION_LIFETIME = timedelta(hours=12)
MIN_PASSWORD_LENGTH = 10


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64url); the parameters travel with the hash."""
    salt = salt or secrets.token_bytes(16)
    digest = _scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        actual = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(actual, _unb64(digest))


@dataclass(frozen=True)
class SessionData:
    user_id: str
    tenant_id: str
    issued_at: datetime
    nonce: str

    def expired(self, now: datetime) -> bool:
        return now - self.issued_at > SESSION_LIFETIME or now < self.issued_at - timedelta(
            minutes=5
        )


def new_session(*, user_id: str, tenant_id: str, now: datetime) -> SessionData:
    return SessionData(user_id, tenant_id, now, secrets.token_urlsafe(16))


def sign_session(data: SessionData, secret: str) -> str:
    body = _b64(
        json.dumps(
            {
                "u": data.user_id,
                "t": data.tenant_id,
                "i": int(data.issued_at.timestamp()),
                "n": data.nonce,
            },
            separators=(",", ":"),
        ).encode()
    )
    return f"{body}.{_mac(secret, 'session', body)}"


def read_session(value: str | None, secret: str) -> SessionData | None:
    """The session a cookie carries; None when absent, malformed or not signed by us."""
    if not value or value.count(".") != 1:
        return None
    body, mac = value.split(".")
    if not hmac.compare_digest(mac, _mac(secret, "session", body)):
        return None
    try:
        raw = json.loads(_unb64(body))
        issued = datetime.fromtimestamp(int(raw["i"]), tz=UTC)
        return SessionData(str(raw["u"]), str(raw["t"]), issued, str(raw["n"]))
    except (ValueError, KeyError, TypeError):
        return None


def csrf_token(data: SessionData, secret: str) -> str:
    return _mac(secret, "csrf", data.nonce)


def csrf_ok(data: SessionData, secret: str, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(token, csrf_token(data, secret))


def _mac(secret: str, purpose: str, message: str) -> str:
    key = hashlib.sha256(f"orderops-console:{purpose}:{secret}".encode()).digest()
    return _b64(hmac.new(key, message.encode(), hashlib.sha256).digest())


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
