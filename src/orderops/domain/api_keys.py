"""What an API key says about itself, and when it stops working.

A secret reads ``oo_<environment>_<short id>_<random>``. Its first part, the prefix
(``oo_live_ab12cd34``), is stored beside the hash and is what listings, audit records and
refusals show: enough for a person (or a secret scanner) to tell which key and which
environment is meant, never enough to use it. Keys from before environments
(``oo_<random>``) keep working; their prefix is their first ten characters and they carry
no environment of their own.

A key stops working when it is revoked (at once), when it expires, or when the overlap
after a rotation ends. A refusal names the key by its prefix and says which of these
happened and when, so the holder knows what to do; only the holder of the secret can see
it, since the key is found by its hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from orderops.domain.environments import Environment
from orderops.domain.errors import Conflict, InvalidEvent, Unauthorized

PRODUCT = "oo"
SHORT_ID_LENGTH = 8
SHORT_ID_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"
LEGACY_PREFIX_LENGTH = 10
"""Characters of a pre-environment key kept as its prefix (``oo_`` and seven more)."""


class KeyState(StrEnum):
    ACTIVE = "active"
    ROTATING = "rotating"
    """Rotated, and still accepted until its overlap ends."""
    EXPIRED = "expired"
    RETIRED = "retired"
    """Rotated, and its overlap is over."""
    REVOKED = "revoked"


class KeyRevoked(Unauthorized):
    code = "api-key-revoked"


class KeyExpired(Unauthorized):
    code = "api-key-expired"


class KeyRetired(KeyExpired):
    """A rotated key after its overlap: expired, with the successor to use instead."""

    code = "api-key-rotated"


class KeyWrongEnvironment(Unauthorized):
    """The environment in the key's prefix is not the environment of its tenant."""

    code = "api-key-wrong-environment"


class InvalidKeyRequest(InvalidEvent):
    code = "invalid-key-request"


class KeyNotRotatable(Conflict):
    """Revoked, or already rotated: rotating it again would fork the key's line."""

    code = "api-key-not-rotatable"


@dataclass(frozen=True)
class KeyName:
    prefix: str
    environment: Environment | None
    """None for a key from before environments."""


def compose(environment: Environment, short_id: str, token: str) -> str:
    return f"{PRODUCT}_{environment}_{short_id}_{token}"


def read(secret: str) -> KeyName:
    """The prefix and environment a presented secret declares (nothing is verified)."""
    product, _, rest = secret.partition("_")
    named, _, rest = rest.partition("_")
    short_id, separator, _token = rest.partition("_")
    if (
        product == PRODUCT
        and named in set(Environment)
        and separator
        and len(short_id) == SHORT_ID_LENGTH
        and all(c in SHORT_ID_ALPHABET for c in short_id)
    ):
        return KeyName(f"{product}_{named}_{short_id}", Environment(named))
    return KeyName(secret[:LEGACY_PREFIX_LENGTH], None)


def expiry(
    now: datetime, *, expires_in: timedelta | None = None, expires_at: datetime | None = None
) -> datetime | None:
    """When a new key stops working: after ``expires_in``, at ``expires_at``, or never."""
    if expires_in is not None and expires_at is not None:
        raise InvalidKeyRequest("give an expiry as a duration or as a time, not both")
    if expires_in is not None:
        if expires_in <= timedelta(0):
            raise InvalidKeyRequest("a key's lifetime must be longer than zero")
        return now + expires_in
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidKeyRequest(
                f"expiry {expires_at.isoformat()} has no time zone; add one, e.g. +00:00"
            )
        if expires_at <= now:
            raise InvalidKeyRequest(
                f"expiry {expires_at.isoformat()} is not after now ({now.isoformat()})"
            )
    return expires_at


def successor_expiry(
    now: datetime, *, created_at: datetime, expires_at: datetime | None
) -> datetime | None:
    """A successor lives as long as its predecessor was issued for (or forever, like it)."""
    return None if expires_at is None else now + (expires_at - created_at)


def retirement(now: datetime, *, overlap: timedelta, expires_at: datetime | None) -> datetime:
    """When a rotated key stops: after the overlap, or at its own expiry if that is sooner."""
    if overlap < timedelta(0):
        raise InvalidKeyRequest("a rotation's overlap cannot be negative")
    ends = now + overlap
    return ends if expires_at is None else min(ends, expires_at)


@dataclass(frozen=True, kw_only=True)
class KeyLifetime:
    prefix: str
    revoked_at: datetime | None = None
    expires_at: datetime | None = None
    rotated_at: datetime | None = None
    successor_prefix: str | None = None

    def state(self, now: datetime) -> KeyState:
        if self.revoked_at is not None:
            return KeyState.REVOKED
        if self.expires_at is not None and now >= self.expires_at:
            return KeyState.EXPIRED if self.rotated_at is None else KeyState.RETIRED
        return KeyState.ACTIVE if self.rotated_at is None else KeyState.ROTATING

    def refusal(self, now: datetime) -> Unauthorized | None:
        """Why the key may not be used at ``now``, or None while it works."""
        name = f"key {self.prefix}..."
        state = self.state(now)
        if state is KeyState.REVOKED:
            assert self.revoked_at is not None
            return KeyRevoked(f"{name} was revoked at {_at(self.revoked_at)}")
        if state is KeyState.EXPIRED:
            assert self.expires_at is not None
            return KeyExpired(f"{name} expired at {_at(self.expires_at)}")
        if state is KeyState.RETIRED:
            assert self.expires_at is not None
            assert self.rotated_at is not None
            successor = (
                f"; use its successor {self.successor_prefix}..." if self.successor_prefix else ""
            )
            return KeyRetired(
                f"{name} was rotated at {_at(self.rotated_at)} and expired at "
                f"{_at(self.expires_at)} when its overlap ended{successor}"
            )
        return None


def _at(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")
