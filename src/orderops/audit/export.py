"""Exporting audit records as JSON lines that a reader can verify without our database.

Every exported record carries its ``prev_hash``, ``hash`` and ``key_id``, so each one can
be re-hashed on its own with the audit key (any edited field shows), and records with
consecutive sequence numbers must link (a removed one in the middle shows). The header
states whether the whole chain verified at export time and its head; the trailer gives
the count, so a truncated file shows too. The export command also writes a signed
checkpoint of the head beside the file (``audit/checkpoints.py``).

File layout: one ``header`` line, one ``record`` line per record in sequence order, one
``trailer`` line.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy.orm import Session, sessionmaker

from orderops.audit.chain import (
    AuditEntry,
    ChainKey,
    Redactions,
    payload_problem,
    record_hash,
    unkeyed_record_hash,
)
from orderops.audit.keys import audit_key_of
from orderops.audit.verify import verify_in
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork

EXPORT_FORMAT = "orderops.audit-export/1"


@dataclass(frozen=True, kw_only=True)
class ExportFilter:
    case_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def keeps(self, record: AuditRecord) -> bool:
        if self.since is not None and record.at < self.since:
            return False
        if self.until is not None and record.at >= self.until:
            return False
        if self.case_id is None:
            return True
        about_case = record.entity_type == "case" and record.entity_id == self.case_id
        return about_case or record.data.get("case_id") == self.case_id


@dataclass(frozen=True)
class ExportSummary:
    records: int
    chain_verified: bool
    chain_problem: str | None
    head_seq: int = 0
    head_hash: str | None = None
    """The head as read in the export's own transaction, for the checkpoint beside it."""


@dataclass(frozen=True)
class ExportCheck:
    ok: bool
    records: int
    problem: str | None = None


def export_audit(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    where: ExportFilter,
    out: IO[str],
    now: datetime,
) -> ExportSummary:
    """Write the tenant's records that ``where`` keeps to ``out`` as JSON lines."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        head = uow.audit.head()
        head_seq, head_hash = (head.seq, head.hash) if head else (0, None)
        chain = verify_in(uow)
        _write(
            out,
            {
                "kind": "header",
                "format": EXPORT_FORMAT,
                "tenant": tenant_id,
                "case": where.case_id,
                "since": _iso(where.since),
                "until": _iso(where.until),
                "exported_at": _iso(now),
                "key_id": audit_key_of(uow.session).key_id,
                "chain": {
                    "verified": chain.ok,
                    "checked": chain.checked,
                    "problem": chain.problem,
                    "head_seq": head.seq if head else 0,
                    "head_hash": head.hash if head else None,
                },
            },
        )
        count = 0
        for record in uow.audit.records():
            if where.keeps(record):
                _write(out, _record_line(record))
                count += 1
        _write(out, {"kind": "trailer", "records": count})
    return ExportSummary(count, chain.ok, chain.problem, head_seq, head_hash)


def verify_export(lines: Iterable[str], *, key: ChainKey) -> ExportCheck:
    """Check an export without the database, given the audit key: each record's hash, the
    links between consecutive records, no gaps in an unfiltered export, and the count
    against the trailer; in an unfiltered export, that each redacted payload is listed by
    the later erasure record it names (as the database verifier checks)."""
    redactions = Redactions()
    header: dict[str, Any] | None = None
    previous: dict[str, Any] | None = None
    count = 0
    for number, item in enumerate(_parsed(lines), 1):
        kind = item.get("kind")
        if number == 1:
            if kind != "header" or item.get("format") != EXPORT_FORMAT:
                return ExportCheck(False, 0, "the first line is not an audit export header")
            header = item
            continue
        whole = header is not None and all(
            header.get(k) is None for k in ("case", "since", "until")
        )
        if kind == "trailer":
            if item.get("records") != count:
                return ExportCheck(
                    False, count, f"trailer says {item.get('records')} records, found {count}"
                )
            if whole and (unsettled := redactions.unsettled()) is not None:
                return ExportCheck(False, count, unsettled)
            return ExportCheck(True, count)
        assert header is not None
        problem = _check_record(item, header["tenant"], previous, key=key, whole_chain=whole)
        if problem is None and whole:
            digest = item.get("data_digest") if item.get("key_id") is not None else None
            problem = redactions.see(_entry(item, header["tenant"]), digest)
        if problem is not None:
            return ExportCheck(False, count, f"line {number}: {problem}")
        previous, count = item, count + 1
    return ExportCheck(False, count, "no trailer: the export is truncated")


def _check_record(
    item: dict[str, Any],
    tenant_id: str,
    previous: dict[str, Any] | None,
    *,
    key: ChainKey,
    whole_chain: bool,
) -> str | None:
    """One record against its own hash and its predecessor; an unfiltered export must
    also hold every sequence number from 1, so a record removed from it shows."""
    if item.get("kind") != "record":
        return f"unexpected line kind {item.get('kind')!r}"
    entry = _entry(item, tenant_id)
    payload_digest = item.get("data_digest") if item.get("key_id") is not None else None
    key_id = item.get("key_id")
    if key_id is None:
        digest = unkeyed_record_hash(item["prev_hash"], entry)
    elif key_id != key.key_id:
        return f"record {entry.seq} was hashed with audit key {key_id}, not {key.key_id}"
    else:
        digest = record_hash(item["prev_hash"], entry, key, digest=payload_digest)
    if digest != item["hash"] or payload_problem(entry, payload_digest) is not None:
        return f"record {entry.seq} does not match its hash"
    expected = previous["seq"] + 1 if previous is not None else 1
    if whole_chain and entry.seq > expected:
        return f"records {expected}..{entry.seq - 1} are missing"
    if previous is not None:
        if entry.seq <= previous["seq"]:
            return f"record {entry.seq} is out of order after {previous['seq']}"
        if entry.seq == previous["seq"] + 1 and item["prev_hash"] != previous["hash"]:
            return f"record {entry.seq} does not link to record {previous['seq']}"
    return None


def _entry(item: dict[str, Any], tenant_id: str) -> AuditEntry:
    return AuditEntry(
        tenant_id=tenant_id,
        seq=item["seq"],
        at=datetime.fromisoformat(item["at"]),
        actor=item["actor"],
        action=item["action"],
        entity_type=item["entity_type"],
        entity_id=item["entity_id"],
        data=item["data"],
    )


def _record_line(record: AuditRecord) -> dict[str, Any]:
    return {
        "kind": "record",
        "seq": record.seq,
        "at": record.at.isoformat(timespec="microseconds"),
        "actor": record.actor,
        "action": record.action,
        "entity_type": record.entity_type,
        "entity_id": record.entity_id,
        "data": record.data,
        "data_digest": record.data_digest,
        "prev_hash": record.prev_hash,
        "hash": record.hash,
        "key_id": record.key_id,
    }


def _parsed(lines: Iterable[str]) -> Iterator[dict[str, Any]]:
    for line in lines:
        if line.strip():
            value = json.loads(line)
            yield value if isinstance(value, dict) else {"kind": None}


def _write(out: IO[str], value: dict[str, Any]) -> None:
    out.write(json.dumps(value, sort_keys=True, ensure_ascii=False, default=str) + "\n")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
