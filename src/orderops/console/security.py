"""Passwords and CSRF tokens. Pure: no I/O, time passed in.

Sessions themselves are server-side rows (``tenancy/console_sessions.py``) named by an
opaque cookie token; the user is also re-read on every request, so disabling someone or
changing their role takes effect at once. CSRF tokens are derived from the session's
secret token (or, before sign-in, from the form's nonce and issue time), so they need no
storage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from datetime import UTC, datetime, timedelta

SCRYPT_N = 2**14
SCRYPT_R = 8
SCRYPT_P = 1
LOGIN_FORM_LIFETIME = timedelta(minutes=30)
CLOCK_SKEW = timedelta(minutes=5)
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


def csrf_token(session_token: str, secret: str) -> str:
    """The CSRF token of one session: derived from its secret cookie token, so it needs no
    storage, changes with every sign-in, and is useless in another session."""
    return _mac(secret, "csrf", session_token)


def csrf_ok(session_token: str, secret: str, token: str | None) -> bool:
    return token is not None and hmac.compare_digest(token, csrf_token(session_token, secret))


def login_form_token(nonce: str, secret: str, now: datetime) -> str:
    """The sign-in form's CSRF token: bound to the form's nonce cookie and to the time it
    was issued, so it lapses after ``LOGIN_FORM_LIFETIME`` (the page issues a fresh nonce
    each time it is shown, and after each refused attempt)."""
    issued = str(int(now.timestamp()))
    return f"{issued}.{_mac(secret, 'login', f'{nonce}.{issued}')}"


def login_form_ok(nonce: str, secret: str, token: str | None, now: datetime) -> bool:
    if not nonce or not token or token.count(".") != 1:
        return False
    issued, mac = token.split(".")
    if not issued.isdigit() or not hmac.compare_digest(
        mac, _mac(secret, "login", f"{nonce}.{issued}")
    ):
        return False
    age = now - datetime.fromtimestamp(int(issued), tz=UTC)
    return -CLOCK_SKEW <= age <= LOGIN_FORM_LIFETIME


def _mac(secret: str, purpose: str, message: str) -> str:
    key = hashlib.sha256(f"orderops-console:{purpose}:{secret}".encode()).digest()
    return _b64(hmac.new(key, message.encode(), hashlib.sha256).digest())


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, dklen=32)


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
