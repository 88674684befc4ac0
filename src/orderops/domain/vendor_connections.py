"""Which vendor account a tenant's environment may write to, decided without I/O.

A vendor connection is one tenant row's account at one external system (Stripe, Shopify,
EasyPost, the WMS, the CRM, Zendesk). Since every environment is its own tenant row
(``domain/environments.py``), "per tenant" already means "per environment"; what is left
to decide here is which kind of account an environment may hold:

- A **test** environment never holds, and never uses, a **live** account. This is checked
  when a connection is added or rotated and again when the writeback worker builds the
  connector for a delivery (``writeback/connections.py``), so a row written around the
  service (a restored backup, a hand-edited database) still cannot reach a live account.
- A **live** environment refuses a **test**-mode Stripe key unless the connection says
  ``allow_test_mode``: a live desk writing refunds into Stripe's test mode would mark
  cases resolved while no customer got money back. For the other systems the mode is the
  admin's own declaration (their keys do not say), so declaring ``test`` is that choice.

Stripe's mode is read from its key (``sk_test_``/``rk_test_`` or ``sk_live_``/
``rk_live_``), never taken on trust; a declared mode that contradicts the key is refused.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from enum import StrEnum
from urllib.parse import urlsplit

from orderops.domain.environments import Environment
from orderops.domain.errors import InvalidEvent


class VendorSystem(StrEnum):
    STRIPE = "stripe"
    SHOPIFY = "shopify"
    EASYPOST = "easypost"
    WMS = "wms"
    CRM = "crm"
    ZENDESK = "zendesk"


class AccountMode(StrEnum):
    TEST = "test"
    LIVE = "live"


MIN_SECRET_LENGTH = 8
MAX_SECRET_LENGTH = 4096
MAX_URL_LENGTH = 500
MAX_USERNAME_LENGTH = 320
LOOPBACK_HOSTS = frozenset({"localhost"})

_STRIPE_PREFIXES = {
    "sk_test_": AccountMode.TEST,
    "rk_test_": AccountMode.TEST,
    "sk_live_": AccountMode.LIVE,
    "rk_live_": AccountMode.LIVE,
}


class InvalidConnection(InvalidEvent):
    """A connection's address, credentials or mode cannot be used as given."""

    code = "invalid-connection"


class EnvironmentBoundary(InvalidConnection):
    """The account's mode does not belong in the tenant's environment."""

    code = "connection-environment-refused"


def parse_system(value: str) -> VendorSystem:
    try:
        return VendorSystem(value.strip().lower())
    except ValueError:
        names = ", ".join(s.value for s in VendorSystem)
        raise InvalidConnection(f"unknown system {value[:40]!r}; one of {names}") from None


def check_base_url(url: str) -> str:
    """An absolute http(s) URL with a host and nothing that could smuggle credentials.

    Plain ``http`` is accepted only for a loopback host (the sandboxes, a local proxy):
    anywhere else the credentials would cross the network unencrypted."""
    url = url.strip().rstrip("/")
    if not url or len(url) > MAX_URL_LENGTH:
        raise InvalidConnection(f"a base URL has 1-{MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidConnection("a base URL is an absolute http(s) URL with a host")
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidConnection("a base URL carries no user, password, query or fragment")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise InvalidConnection("a base URL has no spaces or control characters")
    if parts.scheme == "http" and not _loopback(parts.hostname):
        raise InvalidConnection("plain http is accepted only for a loopback host; use https")
    return url


def _loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_HOSTS:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_secret(secret: str) -> str:
    secret = secret.strip()
    if not MIN_SECRET_LENGTH <= len(secret) <= MAX_SECRET_LENGTH:
        raise InvalidConnection(
            f"a credential has {MIN_SECRET_LENGTH}-{MAX_SECRET_LENGTH} characters"
        )
    if any(ord(c) < 33 or ord(c) == 127 for c in secret):
        raise InvalidConnection("a credential has no spaces or control characters")
    return secret


def check_username(system: VendorSystem, username: str | None) -> str | None:
    """Zendesk signs in as an agent's email plus a token; no other system takes a user."""
    username = (username or "").strip() or None
    if system is VendorSystem.ZENDESK:
        if username is None or "@" not in username or len(username) > MAX_USERNAME_LENGTH:
            raise InvalidConnection("a Zendesk connection needs the agent's email (--username)")
        return username
    if username is not None:
        raise InvalidConnection(f"a {system} connection takes no username")
    return None


def stripe_key_mode(secret: str) -> AccountMode:
    for prefix, mode in _STRIPE_PREFIXES.items():
        if secret.startswith(prefix):
            return mode
    raise InvalidConnection(
        "a Stripe key starts with sk_test_, rk_test_, sk_live_ or rk_live_ (its mode)"
    )


def account_mode(system: VendorSystem, secret: str, declared: AccountMode | None) -> AccountMode:
    """The account's mode: Stripe's from its key, the others' as declared (required)."""
    if system is VendorSystem.STRIPE:
        mode = stripe_key_mode(secret)
        if declared is not None and declared is not mode:
            raise InvalidConnection(f"the Stripe key is a {mode} key, not {declared}")
        return mode
    if declared is None:
        raise InvalidConnection(f"say whether the {system} account is test or live (--mode)")
    return declared


def check_environment(
    *,
    tenant_id: str,
    environment: Environment,
    system: VendorSystem,
    mode: AccountMode,
    allow_test_mode: bool,
) -> None:
    """Refuse an account whose mode does not belong in the environment (module docstring)."""
    if environment is Environment.TEST and mode is AccountMode.LIVE:
        raise EnvironmentBoundary(
            f"tenant {tenant_id} is a test environment: its {system} connection may not be "
            "a live account"
        )
    if (
        environment is Environment.LIVE
        and system is VendorSystem.STRIPE
        and mode is AccountMode.TEST
        and not allow_test_mode
    ):
        raise EnvironmentBoundary(
            f"tenant {tenant_id} is a live environment: a test-mode Stripe key needs "
            "allow_test_mode (--allow-test-mode), or belongs in its test environment"
        )


def fingerprint(secret: str, *, key: bytes) -> str:
    """What shells show instead of a credential: a keyed hash, so two connections with the
    same key are recognisable, a rotation visibly changes it, and it reveals nothing a
    guess could be checked against without the installation's secret key."""
    digest = hmac.new(key, secret.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"fp_{digest[:16]}"
