"""The audit key: what makes the chain's hashes impossible to recompute from the database.

The key lives in the settings (``ORDEROPS_AUDIT_KEY``, or derived from the secret key),
never in the database, so someone who can write every table still cannot produce a hash
that verifies. One secret yields separate sub-keys for record hashes and checkpoint
signatures (a signature can never be replayed as a record hash), and a short public
fingerprint, the key id, stored on each record so a verifier can tell "hashed with
another key" from "edited".

The key travels with the session factory (``bind_audit_key``), so every unit of work
that appends or verifies has it without threading it through each service call.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass, field

from sqlalchemy.orm import Session, sessionmaker

from orderops.config import Settings

_INFO = "orderops.audit_key"


class MissingAuditKey(RuntimeError):
    """A session factory without an audit key: appending would write unverifiable rows."""


@dataclass(frozen=True)
class AuditKey:
    secret: bytes = field(repr=False)
    accept_unkeyed: bool = False
    """Accept a prefix of records written before keys with nothing else vouching for it."""

    @property
    def key_id(self) -> str:
        return self._derive("key-id").hex()[:16]

    @property
    def record_secret(self) -> bytes:
        return self._derive("record")

    @property
    def checkpoint_secret(self) -> bytes:
        return self._derive("checkpoint")

    def _derive(self, purpose: str) -> bytes:
        return hmac.new(self.secret, f"orderops-audit:{purpose}".encode(), hashlib.sha256).digest()


def audit_key_from(settings: Settings) -> AuditKey:
    if settings.audit_key is not None:
        secret = settings.audit_key.get_secret_value().encode("utf-8")
    else:
        secret = hmac.new(
            settings.secret_key.encode("utf-8"), b"orderops-audit-key/1", hashlib.sha256
        ).digest()
    return AuditKey(secret, accept_unkeyed=settings.audit_accept_unkeyed)


def bind_audit_key(factory: sessionmaker[Session], key: AuditKey) -> None:
    factory.configure(info={_INFO: key})


def audit_key_of(session: Session) -> AuditKey:
    key = session.info.get(_INFO)
    if not isinstance(key, AuditKey):
        raise MissingAuditKey("this session factory has no audit key (see bind_audit_key)")
    return key
