"""Hashing and verifying a tenant's audit chain. Pure: no database here.

Each record's hash covers its own fields and the previous record's hash, so editing,
deleting or reordering any record breaks every hash after it, and the stored chain
head catches a truncated tail.

Hashes are HMAC-SHA256 under a key kept outside the database (``audit/keys.py``): without
it, recomputing the hashes after an edit produces values that do not verify. Records
written before keys existed carry no key id and a plain SHA-256; they still verify by
that scheme, but only as the chain's prefix (an unkeyed record after a keyed one is a
downgrade) and only where something outside the database vouches for them: a signed
checkpoint covering them, or the operator's ``accept_unkeyed`` setting.

Records written since migration ``0038_retention_windows`` hash a digest of their
payload (``data_digest``, SHA-256 of its canonical JSON) instead of the payload itself,
so personal data in a payload can be erased without breaking the chain: erasure replaces
the payload with a redaction marker naming the record that erased it (``redacted_by``)
and keeps the digest. The verifier accepts a marker only when that later record exists,
is an erasure (``REDACTING_ACTIONS``) and lists the redacted seq; any other payload must
still hash to its digest. Records hashed before digests (``data_digest`` None) hash their
payload inline and cannot be redacted (``docs/RETENTION.md``).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

GENESIS_HASH = "0" * 64
REDACTED_KEY = "redacted_by"
"""A redacted payload is exactly ``{REDACTED_KEY: <seq of the erasure record>}``."""
REDACTING_ACTIONS = frozenset({"customer.erased"})
"""Records allowed to redact earlier payloads; they list them in ``data["redacted_seqs"]``."""


@dataclass(frozen=True, kw_only=True)
class AuditEntry:
    tenant_id: str
    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def data_digest(data: dict[str, Any]) -> str:
    """The digest a record's hash covers in place of its payload."""
    return hashlib.sha256(canonical_json(data)).hexdigest()


def redaction_marker(by_seq: int) -> dict[str, Any]:
    return {REDACTED_KEY: by_seq}


def redacted_by(data: dict[str, Any]) -> int | None:
    """The erasure record's seq when ``data`` is a redaction marker, else None."""
    if set(data) == {REDACTED_KEY} and isinstance(data[REDACTED_KEY], int):
        return int(data[REDACTED_KEY])
    return None


class ChainKey(Protocol):
    """What hashing and verifying need of the audit key (``audit.keys.AuditKey``)."""

    @property
    def key_id(self) -> str: ...

    @property
    def record_secret(self) -> bytes: ...

    @property
    def accept_unkeyed(self) -> bool: ...


class StoredRecord(Protocol):
    """What the verifier needs of a stored row (the ORM row satisfies it). A row may
    also carry ``data_digest`` (read with ``getattr``: rows from before 0038 have none)."""

    tenant_id: str
    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    prev_hash: str
    hash: str
    key_id: str | None


def _body(prev_hash: str, entry: AuditEntry, digest: str | None) -> bytes:
    body: dict[str, Any] = {
        "prev": prev_hash,
        "tenant": entry.tenant_id,
        "seq": entry.seq,
        "at": entry.at.isoformat(timespec="microseconds"),
        "actor": entry.actor,
        "action": entry.action,
        "entity_type": entry.entity_type,
        "entity_id": entry.entity_id,
    }
    if digest is None:
        body["data"] = entry.data
    else:
        body["data_sha256"] = digest
    return canonical_json(body)


def payload_problem(entry: AuditEntry, digest: str | None) -> str | None:
    """Why a digest record's payload does not hold (None: it holds, or is redacted and
    left to ``Redactions`` to vouch for)."""
    if digest is None or redacted_by(entry.data) is not None:
        return None
    if not hmac.compare_digest(data_digest(entry.data), digest):
        return "record content does not match its hash"
    return None


class Redactions:
    """Redaction markers met so far, each waiting for the erasure record it names."""

    def __init__(self) -> None:
        self.waiting: dict[int, int] = {}

    def see(self, entry: AuditEntry, digest: str | None) -> str | None:
        """Note ``entry``; a problem when it settles (or breaks) a redaction."""
        by = redacted_by(entry.data) if digest is not None else None
        if by is not None:
            if by <= entry.seq:
                return f"record {entry.seq} names {by} as its erasure, which is not later"
            self.waiting[entry.seq] = by
        named = [seq for seq, by_seq in self.waiting.items() if by_seq == entry.seq]
        if named:
            listed = entry.data.get("redacted_seqs") if entry.action in REDACTING_ACTIONS else []
            missing = [seq for seq in named if seq not in (listed or [])]
            if missing:
                return f"record {missing[0]} was redacted but record {entry.seq} did not erase it"
            for seq in named:
                del self.waiting[seq]
        return None

    def unsettled(self) -> str | None:
        if not self.waiting:
            return None
        seq, by = min(self.waiting.items())
        return f"record {seq} was redacted by record {by}, which does not exist"


def record_hash(
    prev_hash: str, entry: AuditEntry, key: ChainKey, *, digest: str | None = None
) -> str:
    """The keyed hash every new record gets (over ``digest`` of its payload since 0038;
    over the payload itself before)."""
    body = _body(prev_hash, entry, digest)
    return hmac.new(key.record_secret, body, hashlib.sha256).hexdigest()


def unkeyed_record_hash(prev_hash: str, entry: AuditEntry) -> str:
    """The hash of records written before keys; only ever computed to verify them."""
    return hashlib.sha256(_body(prev_hash, entry, None)).hexdigest()


def entry_of(record: StoredRecord) -> AuditEntry:
    return AuditEntry(
        tenant_id=record.tenant_id,
        seq=record.seq,
        at=record.at,
        actor=record.actor,
        action=record.action,
        entity_type=record.entity_type,
        entity_id=record.entity_id,
        data=record.data,
    )


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    problem: str | None = None
    bad_seq: int | None = None
    unkeyed: int = 0
    """How many records (the chain's prefix) predate keys."""


def verify_chain(
    records: Iterable[StoredRecord],
    *,
    head_seq: int | None,
    head_hash: str | None,
    key: ChainKey,
    unkeyed_through: int = 0,
) -> VerifyResult:
    """Walk the chain from genesis; report the first record that does not hold.

    Unkeyed records are accepted up to ``unkeyed_through`` (what a checkpoint vouches
    for), or anywhere in the prefix when the key says ``accept_unkeyed``.
    """
    prev_hash, expected_seq, checked, unkeyed, keyed_seen = GENESIS_HASH, 1, 0, 0, False
    redactions = Redactions()

    def broken(problem: str, seq: int | None) -> VerifyResult:
        return VerifyResult(False, checked, problem, seq, unkeyed)

    for record in records:
        if record.seq != expected_seq:
            return broken(f"sequence gap: expected {expected_seq}, found {record.seq}", record.seq)
        if record.prev_hash != prev_hash:
            return broken("link to the previous record is broken", record.seq)
        entry = entry_of(record)
        # Unkeyed records predate digests: their hash covers the payload inline.
        digest = getattr(record, "data_digest", None) if record.key_id is not None else None
        if record.key_id is None:
            if keyed_seen:
                return broken(
                    f"record {record.seq} is unkeyed after keyed records: the chain was "
                    "rewritten without the audit key",
                    record.seq,
                )
            if record.seq > unkeyed_through and not key.accept_unkeyed:
                return broken(
                    f"record {record.seq} is unkeyed (written before audit keys) and nothing "
                    "vouches for it: verify against a checkpoint that covers it, or set "
                    "ORDEROPS_AUDIT_ACCEPT_UNKEYED",
                    record.seq,
                )
            expected = unkeyed_record_hash(prev_hash, entry)
            unkeyed += 1
        elif record.key_id != key.key_id:
            return broken(
                f"record {record.seq} was hashed with audit key {record.key_id}, "
                f"not the configured audit key {key.key_id}",
                record.seq,
            )
        else:
            expected, keyed_seen = record_hash(prev_hash, entry, key, digest=digest), True
        if not hmac.compare_digest(expected, record.hash):
            return broken("record content does not match its hash", record.seq)
        problem = payload_problem(entry, digest) or redactions.see(entry, digest)
        if problem is not None:
            return broken(problem, record.seq)
        prev_hash, expected_seq, checked = record.hash, expected_seq + 1, checked + 1
    if (problem := redactions.unsettled()) is not None:
        return broken(problem, None)
    if (head_seq or 0) != checked or (head_hash or GENESIS_HASH) != prev_hash:
        return broken(f"chain ends at {checked} but its head says {head_seq or 0}", None)
    return VerifyResult(True, checked, unkeyed=unkeyed)
