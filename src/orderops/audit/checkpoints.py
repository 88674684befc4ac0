"""Signed checkpoints: a tenant's chain head, written out of the database and signed.

A checkpoint names (tenant, seq, hash, time) and carries an HMAC-SHA256 signature under
the audit key's checkpoint sub-key. Kept outside the database (a file, a ticket, a mail),
it pins history: whoever later rewrites the chain, even with the key, changes the hash of
the record at that seq, and ``verify_against`` says so. HMAC rather than Ed25519: the
records themselves are keyed, so whoever verifies needs the audit key anyway, and one
secret is one thing less to manage; public verifiability would buy nothing here.

Taking a checkpoint is also how a chain written before keys is brought in: the checkpoint
vouches for its unkeyed prefix, so verifying against it accepts those records.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.audit.chain import VerifyResult
from orderops.audit.keys import AuditKey, audit_key_of
from orderops.audit.verify import verify_in
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork

CHECKPOINT_FORMAT = "orderops.audit-checkpoint/1"


class CheckpointError(ValueError):
    """A checkpoint that cannot be read, or that this database's chain contradicts."""


@dataclass(frozen=True, kw_only=True)
class Checkpoint:
    tenant: str
    seq: int
    hash: str
    at: str
    key_id: str
    signature: str
    format: str = CHECKPOINT_FORMAT

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"


def sign(key: AuditKey, *, tenant: str, seq: int, head_hash: str, at: datetime) -> Checkpoint:
    stamp = at.isoformat(timespec="seconds")
    return Checkpoint(
        tenant=tenant,
        seq=seq,
        hash=head_hash,
        at=stamp,
        key_id=key.key_id,
        signature=_signature(key, tenant, seq, head_hash, stamp),
    )


def parse(text: str) -> Checkpoint:
    try:
        raw: Any = json.loads(text)
        if not isinstance(raw, dict) or raw.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError("not an OrderOps audit checkpoint")
        return Checkpoint(
            tenant=str(raw["tenant"]),
            seq=int(raw["seq"]),
            hash=str(raw["hash"]),
            at=str(raw["at"]),
            key_id=str(raw["key_id"]),
            signature=str(raw["signature"]),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointError(f"the checkpoint cannot be read: {exc}") from exc


def take_checkpoint(
    sessions: sessionmaker[Session], *, tenant_id: str, now: datetime
) -> Checkpoint:
    """Sign the tenant's current head, refusing a chain that does not verify (a checkpoint
    must never vouch for a rewrite). Unkeyed records from before keys are accepted as
    the prefix here: taking the checkpoint is the act of vouching for them."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        head = uow.audit.head()
        result = verify_in(uow, unkeyed_through=head.seq if head else 0)
        if not result.ok:
            raise CheckpointError(f"the chain of {tenant_id} does not verify: {result.problem}")
        return sign(
            audit_key_of(uow.session),
            tenant=tenant_id,
            seq=head.seq if head else 0,
            head_hash=head.hash if head else "0" * 64,
            at=now,
        )


def verify_against(
    sessions: sessionmaker[Session], *, tenant_id: str, checkpoint: Checkpoint
) -> VerifyResult:
    """The chain as stored, checked against what the checkpoint signed: its signature,
    its tenant, the record at its seq still having its hash, and the whole chain."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        key = audit_key_of(uow.session)
        expected = _signature(
            key, checkpoint.tenant, checkpoint.seq, checkpoint.hash, checkpoint.at
        )
        if checkpoint.key_id != key.key_id or not hmac.compare_digest(
            expected, checkpoint.signature
        ):
            return VerifyResult(
                False,
                0,
                "the checkpoint's signature does not verify with the configured audit key: "
                "it was edited, or signed with another key",
            )
        if checkpoint.tenant != tenant_id:
            return VerifyResult(
                False, 0, f"the checkpoint is for tenant {checkpoint.tenant}, not {tenant_id}"
            )
        anchored = _anchor(uow, checkpoint)
        if anchored is not None:
            return anchored
        return verify_in(uow, unkeyed_through=checkpoint.seq)


def _anchor(uow: UnitOfWork, checkpoint: Checkpoint) -> VerifyResult | None:
    if checkpoint.seq == 0:
        return None
    record = uow.session.scalar(
        select(AuditRecord).where(
            AuditRecord.tenant_id == uow.tenant_id, AuditRecord.seq == checkpoint.seq
        )
    )
    if record is None:
        head = uow.audit.head()
        return VerifyResult(
            False,
            0,
            f"the chain ends at {head.seq if head else 0} but the checkpoint vouches for "
            f"record {checkpoint.seq}: records were removed",
            checkpoint.seq,
        )
    if not hmac.compare_digest(record.hash, checkpoint.hash):
        return VerifyResult(
            False,
            0,
            f"record {checkpoint.seq} no longer has the hash the checkpoint signed "
            f"({checkpoint.at}): the chain was rewritten",
            checkpoint.seq,
        )
    return None


def _signature(key: AuditKey, tenant: str, seq: int, head_hash: str, at: str) -> str:
    message = json.dumps(
        {"format": CHECKPOINT_FORMAT, "tenant": tenant, "seq": seq, "hash": head_hash, "at": at},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hmac.new(key.checkpoint_secret, message.encode("utf-8"), hashlib.sha256).hexdigest()
