"""Audit records hash a digest of their payload, so erasure can redact a payload and the
chain still verifies, while any other change to a payload, its digest or a redaction
marker is caught."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from orderops.audit.chain import (
    GENESIS_HASH,
    AuditEntry,
    data_digest,
    record_hash,
    redaction_marker,
    verify_chain,
)
from orderops.audit.keys import AuditKey

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
KEY = AuditKey(b"r" * 32)


@dataclass
class Row:
    tenant_id: str
    seq: int
    at: datetime
    actor: str
    action: str
    entity_type: str
    entity_id: str
    data: dict[str, Any]
    data_digest: str | None
    prev_hash: str
    hash: str
    key_id: str | None


def chain(payloads: list[tuple[str, dict[str, Any]]]) -> list[Row]:
    """Rows as the audit writer stores them since digests: (action, payload) each."""
    rows, prev = [], GENESIS_HASH
    for seq, (action, data) in enumerate(payloads, 1):
        entry = AuditEntry(
            tenant_id="acme",
            seq=seq,
            at=T0 + timedelta(minutes=seq),
            actor="agent:1",
            action=action,
            entity_type="customer",
            entity_id="c-1",
            data=data,
        )
        payload = data_digest(data)
        digest = record_hash(prev, entry, KEY, digest=payload)
        fields = dataclasses.asdict(entry)
        rows.append(
            Row(**fields, data_digest=payload, prev_hash=prev, hash=digest, key_id=KEY.key_id)
        )
        prev = digest
    return rows


def verify(rows: list[Row]) -> Any:
    return verify_chain(rows, head_seq=rows[-1].seq, head_hash=rows[-1].hash, key=KEY)


ANA = {"email": "ana@example.com", "note": "called Ana Lima"}


def erased_history() -> list[Row]:
    """Record 1 names Ana; record 3 erased her and lists record 1; record 1 redacted."""
    rows = chain(
        [
            ("customer.note", ANA),
            ("case.transition", {"to": "resolved"}),
            ("customer.erased", {"redacted_seqs": [1], "counts": {"customers.email": 1}}),
        ]
    )
    rows[0].data = redaction_marker(3)
    return rows


def test_a_chain_of_digest_records_verifies() -> None:
    assert verify(chain([("customer.note", ANA), ("case.open", {"x": 1})])).ok


def test_a_payload_redacted_by_the_erasure_that_lists_it_still_verifies() -> None:
    rows = erased_history()

    result = verify(rows)

    assert result.ok, result.problem
    assert result.checked == 3
    assert "ana" not in repr([r.data for r in rows]).lower()


def test_editing_a_digest_records_payload_is_caught() -> None:
    rows = chain([("customer.note", ANA), ("case.open", {"x": 1})])
    rows[0].data = {"email": "someone@else.example", "note": "called Ana Lima"}

    result = verify(rows)

    assert (result.ok, result.bad_seq) == (False, 1)
    assert result.problem == "record content does not match its hash"


def test_changing_the_digest_with_the_payload_is_caught_by_the_hash() -> None:
    rows = chain([("customer.note", ANA), ("case.open", {"x": 1})])
    forged = {"email": "someone@else.example"}
    rows[0].data, rows[0].data_digest = forged, data_digest(forged)

    assert (verify(rows).ok, verify(rows).bad_seq) == (False, 1)


def test_a_redaction_no_erasure_record_lists_is_caught() -> None:
    rows = chain([("customer.note", ANA), ("case.transition", {"to": "resolved"})])
    rows[0].data = redaction_marker(2)

    result = verify(rows)

    assert not result.ok
    assert result.problem == "record 1 was redacted but record 2 did not erase it"


def test_an_erasure_that_does_not_list_the_record_does_not_vouch_for_it() -> None:
    rows = chain(
        [
            ("customer.note", ANA),
            ("customer.note", {"email": "bea@example.com"}),
            ("customer.erased", {"redacted_seqs": [1]}),
        ]
    )
    rows[0].data, rows[1].data = redaction_marker(3), redaction_marker(3)

    result = verify(rows)

    assert (result.ok, result.bad_seq) == (False, 3)
    assert result.problem == "record 2 was redacted but record 3 did not erase it"


def test_a_redaction_naming_a_record_that_does_not_exist_is_caught() -> None:
    rows = chain([("customer.note", ANA), ("case.open", {"x": 1})])
    rows[0].data = redaction_marker(9)

    result = verify(rows)

    assert not result.ok
    assert result.problem == "record 1 was redacted by record 9, which does not exist"


def test_a_marker_naming_an_earlier_record_is_caught() -> None:
    rows = chain([("customer.erased", {"redacted_seqs": [2]}), ("customer.note", ANA)])
    rows[1].data = redaction_marker(1)

    result = verify(rows)

    assert (result.ok, result.bad_seq) == (False, 2)


def test_a_payload_that_only_resembles_a_marker_must_match_its_digest() -> None:
    rows = erased_history()
    rows[0].data = {"redacted_by": 3, "email": "ana@example.com"}

    assert (verify(rows).ok, verify(rows).bad_seq) == (False, 1)
