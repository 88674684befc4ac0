"""Hashing and verifying a tenant's audit chain. Pure: no database here.

Each record's hash covers its own fields and the previous record's hash, so editing,
deleting or reordering any record breaks every hash after it, and the stored chain
head catches a truncated tail.
"""

from __future__ import annotations

import hashlib
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


def record_hash(prev_hash: str, entry: AuditEntry) -> str:
    body = json.dumps(
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
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class VerifyResult:
    ok: bool
    checked: int
    problem: str | None = None
    bad_seq: int | None = None


def verify_chain(
    records: Iterable[StoredRecord], *, head_seq: int | None, head_hash: str | None
) -> VerifyResult:
    """Walk the chain from genesis; report the first record that does not hold."""
    prev_hash, expected_seq, checked = GENESIS_HASH, 1, 0
    for record in records:
        if record.seq != expected_seq:
            return VerifyResult(
                False,
                checked,
                f"sequence gap: expected {expected_seq}, found {record.seq}",
                record.seq,
            )
        if record.prev_hash != prev_hash:
            return VerifyResult(False, checked, "link to the previous record is broken", record.seq)
        entry = AuditEntry(
            tenant_id=record.tenant_id,
            seq=record.seq,
            at=record.at,
            actor=record.actor,
            action=record.action,
            entity_type=record.entity_type,
            entity_id=record.entity_id,
            data=record.data,
        )
        if record_hash(prev_hash, entry) != record.hash:
            return VerifyResult(
                False, checked, "record content does not match its hash", record.seq
            )
        prev_hash, expected_seq, checked = record.hash, expected_seq + 1, checked + 1
    if (head_seq or 0) != checked or (head_hash or GENESIS_HASH) != prev_hash:
        return VerifyResult(
            False, checked, f"chain ends at {checked} but its head says {head_seq or 0}", None
        )
    return VerifyResult(True, checked)
