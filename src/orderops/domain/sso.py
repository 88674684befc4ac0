"""Single sign-on as a tenant configures it, and the role a person's claims earn. Pure.

The identity provider says who someone is; the tenant's rules say what that person may do
here. A rule names one claim and one value ("the ``groups`` claim contains ``ops-leads``")
and the role it grants; rules are read in the order they were given and the first match
wins, so an administrator orders them from the most specific to the broadest. A person no
rule matches gets no role and is refused, never a default: a new group at the provider must
not quietly open the console to its members.

Roles are for people, so no rule may grant ``service``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from orderops.domain.errors import InvalidEvent
from orderops.domain.roles import Role

REQUIRED_SCOPE = "openid"
DEFAULT_SCOPES = ("openid", "email", "profile")
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})
_RULE = re.compile(r"^(?P<claim>[^=\s]+)=(?P<value>[^\s].*):(?P<role>[a-z_]+)$")
_SCOPE = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]+$")
"""RFC 6749 scope-token characters: printable ASCII without space, quote or backslash."""


class InvalidSsoSettings(InvalidEvent):
    code = "invalid-sso-settings"


@dataclass(frozen=True)
class ClaimRule:
    """``claim=value:role``: a person whose ``claim`` is, or contains, ``value`` gets ``role``."""

    claim: str
    value: str
    role: Role

    @classmethod
    def parse(cls, text: str) -> ClaimRule:
        found = _RULE.match(text.strip())
        if found is None:
            raise InvalidSsoSettings(
                f"a role rule reads claim=value:role (e.g. groups=ops-leads:approver), got {text!r}"
            )
        try:
            role = Role(found["role"])
        except ValueError as exc:
            known = ", ".join(r.value for r in Role if r is not Role.SERVICE)
            raise InvalidSsoSettings(
                f"unknown role {found['role']!r} in {text!r}; roles: {known}"
            ) from exc
        if role is Role.SERVICE:
            raise InvalidSsoSettings("single sign-on is for people; no rule may grant 'service'")
        return cls(found["claim"], found["value"], role)

    def __str__(self) -> str:
        return f"{self.claim}={self.value}:{self.role}"

    def matches(self, claims: Mapping[str, Any]) -> bool:
        """A string claim must equal the value; a list claim must contain it."""
        held = claims.get(self.claim)
        if isinstance(held, str):
            return held == self.value
        if isinstance(held, list):
            return self.value in [item for item in held if isinstance(item, str)]
        return False


@dataclass(frozen=True, kw_only=True)
class SsoSettings:
    """A tenant's OpenID Connect client, without its secret (stored sealed, apart)."""

    display_name: str
    issuer: str
    client_id: str
    scopes: tuple[str, ...] = DEFAULT_SCOPES
    rules: tuple[ClaimRule, ...]
    provision: bool = False
    """Create a person at their first sign-in (with the role their claims earn); otherwise
    only people linked already, or with an existing account under a verified email, get in."""
    allow_passwords: bool = True
    """Whether local passwords still sign in to this tenant beside single sign-on."""

    def __post_init__(self) -> None:
        check_issuer(self.issuer)
        if not self.display_name.strip() or len(self.display_name) > 100:
            raise InvalidSsoSettings(
                "the provider's name (shown on the sign-in page) needs 1-100 characters"
            )
        if not self.client_id.strip() or len(self.client_id) > 255:
            raise InvalidSsoSettings("a client id needs 1-255 characters")
        if REQUIRED_SCOPE not in self.scopes:
            raise InvalidSsoSettings("the scopes must include 'openid'")
        bad = [s for s in self.scopes if not _SCOPE.match(s)]
        if bad:
            raise InvalidSsoSettings(f"not a scope: {bad[0]!r}")
        if not self.rules:
            raise InvalidSsoSettings(
                "at least one role rule is needed (claim=value:role): without one nobody "
                "could be given a role, so nobody could sign in"
            )


def check_issuer(issuer: str) -> None:
    """An issuer is an https URL without query or fragment (OpenID Connect Discovery 1.0,
    section 2); plain http is accepted for loopback addresses only, for a provider on the
    same machine (development and tests)."""
    parts = urlsplit(issuer)
    if parts.query or parts.fragment or not parts.hostname or len(issuer) > 500:
        raise InvalidSsoSettings(f"an issuer is an https URL without query or fragment: {issuer!r}")
    if parts.scheme == "https":
        return
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return
    raise InvalidSsoSettings(f"an issuer must use https (http only on this machine): {issuer!r}")


def role_for(claims: Mapping[str, Any], rules: Sequence[ClaimRule]) -> Role | None:
    """The role of the first rule the claims match; None when no rule does."""
    for rule in rules:
        if rule.matches(claims):
            return rule.role
    return None
