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


class ChainKey(Protocol):
    """What hashing and verifying need of the audit key (``audit.keys.AuditKey``)."""

    @property
    def key_id(self) -> str: ...

    @property
    def record_secret(self) -> bytes: ...

    @property
    def accept_unkeyed(self) -> bool: ...


class StoredRecord(Protocol):
    """What the verifier needs of a stored row (the ORM row satisfies it)."""

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


def _body(prev_hash: str, entry: AuditEntry) -> bytes:
    return json.dumps(
        {
            "prev": prev_hash,
            "tenant": entry.tenant_id,
            "seq": entry.seq,
            "at": entry.at.isoformat(timespec="microseconds"),
            "actor": entry.actor,
            "action": entry.action,
            "entity_type": entry.entity_type,
            "entity_id": entry.entity_id,
            "data": entry.data,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
        default=str,
    ).encode("utf-8")


def record_hash(prev_hash: str, entry: AuditEntry, key: ChainKey) -> str:
    """The keyed hash every new record gets."""
    return hmac.new(key.record_secret, _body(prev_hash, entry), hashlib.sha256).hexdigest()


def unkeyed_record_hash(prev_hash: str, entry: AuditEntry) -> str:
    """The hash of records written before keys; only ever computed to verify them."""
    return hashlib.sha256(_body(prev_hash, entry)).hexdigest()


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

    def broken(problem: str, seq: int | None) -> VerifyResult:
        return VerifyResult(False, checked, problem, seq, unkeyed)

    for record in records:
        if record.seq != expected_seq:
            return broken(f"sequence gap: expected {expected_seq}, found {record.seq}", record.seq)
        if record.prev_hash != prev_hash:
            return broken("link to the previous record is broken", record.seq)
        entry = entry_of(record)
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
            expected, keyed_seen = record_hash(prev_hash, entry, key), True
        if not hmac.compare_digest(expected, record.hash):
            return broken("record content does not match its hash", record.seq)
        prev_hash, expected_seq, checked = record.hash, expected_seq + 1, checked + 1
    if (head_seq or 0) != checked or (head_hash or GENESIS_HASH) != prev_hash:
        return broken(f"chain ends at {checked} but its head says {head_seq or 0}", None)
    return VerifyResult(True, checked, unkeyed=unkeyed)
