"""The audit chain: each record's hash covers its fields and the previous hash.

Editing, deleting or reordering any record, or cutting off the tail, is caught; an
intact chain (including an empty one) verifies.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderops.audit.chain import GENESIS_HASH, AuditEntry, record_hash, verify_chain

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@dataclass
class Row:
    """A stored audit row as the verifier sees it (the StoredRecord fields)."""

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


def chain(n: int, *, tenant: str = "acme") -> list[Row]:
    """``n`` correctly linked rows, as the audit writer would store them."""
    rows: list[Row] = []
    prev = GENESIS_HASH
    for seq in range(1, n + 1):
        entry = AuditEntry(
            tenant_id=tenant,
            seq=seq,
            at=T0 + timedelta(minutes=seq, microseconds=seq),
            actor=f"user:{seq}",
            action="case.transition",
            entity_type="case",
            entity_id=f"case-{seq}",
            data={"from": "new", "to": "triaged", "amount_minor": 100 * seq},
        )
        digest = record_hash(prev, entry)
        rows.append(Row(**dataclasses.asdict(entry), prev_hash=prev, hash=digest))
        prev = digest
    return rows


def verify(rows: list[Row], *, head: Row | None) -> Any:
    return verify_chain(
        rows,
        head_seq=head.seq if head else None,
        head_hash=head.hash if head else None,
    )


def test_record_hash_is_a_sha256_hex_digest_that_depends_on_the_previous_hash() -> None:
    row = chain(1)[0]
    entry = AuditEntry(
        tenant_id=row.tenant_id,
        seq=row.seq,
        at=row.at,
        actor=row.actor,
        action=row.action,
        entity_type=row.entity_type,
        entity_id=row.entity_id,
        data=row.data,
    )

    assert len(row.hash) == 64
    assert int(row.hash, 16) >= 0
    assert record_hash(GENESIS_HASH, entry) == row.hash
    assert record_hash("f" * 64, entry) != row.hash


def test_the_hash_does_not_depend_on_the_order_of_keys_in_data() -> None:
    entry = AuditEntry(
        tenant_id="acme",
        seq=1,
        at=T0,
        actor="a",
        action="x",
        entity_type="case",
        entity_id="c",
        data={"a": 1, "b": 2},
    )
    reordered = dataclasses.replace(entry, data={"b": 2, "a": 1})

    assert record_hash(GENESIS_HASH, entry) == record_hash(GENESIS_HASH, reordered)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_an_intact_chain_verifies(n: int) -> None:
    rows = chain(n)
    result = verify(rows, head=rows[-1])

    assert result.ok is True
    assert result.checked == n
    assert result.problem is None
    assert result.bad_seq is None


def test_an_empty_chain_with_no_head_verifies() -> None:
    result = verify_chain([], head_seq=None, head_hash=None)

    assert result.ok is True
    assert result.checked == 0


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("data", {"from": "new", "to": "resolved", "amount_minor": 200}),
        ("actor", "user:mallory"),
        ("at", T0 + timedelta(minutes=2, microseconds=3)),
        ("action", "case.deleted"),
        ("entity_id", "case-99"),
        ("tenant_id", "globex"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_editing_a_middle_record_fails_at_that_record(field: str, value: Any) -> None:
    rows = chain(4)
    head = rows[-1]
    setattr(rows[1], field, value)

    result = verify(rows, head=head)

    assert result.ok is False
    assert result.bad_seq == 2
    assert result.checked == 1
    assert "hash" in (result.problem or "")


def test_rehashing_an_edited_record_breaks_the_link_of_the_next_one() -> None:
    rows = chain(4)
    head = rows[-1]
    edited = rows[1]
    edited.actor = "user:mallory"
    edited.hash = record_hash(
        edited.prev_hash,
        AuditEntry(
            tenant_id=edited.tenant_id,
            seq=edited.seq,
            at=edited.at,
            actor=edited.actor,
            action=edited.action,
            entity_type=edited.entity_type,
            entity_id=edited.entity_id,
            data=edited.data,
        ),
    )

    result = verify(rows, head=head)

    assert result.ok is False
    assert result.bad_seq == 3
    assert "link" in (result.problem or "")


def test_deleting_a_middle_record_is_a_sequence_gap() -> None:
    rows = chain(4)
    head = rows[-1]
    del rows[1]

    result = verify(rows, head=head)

    assert result.ok is False
    assert result.checked == 1
    assert result.bad_seq == 3
    assert "sequence gap" in (result.problem or "")


def test_swapping_two_records_fails() -> None:
    rows = chain(4)
    head = rows[-1]
    rows[1], rows[2] = rows[2], rows[1]

    result = verify(rows, head=head)

    assert result.ok is False
    assert result.checked == 1
    assert result.bad_seq == 3


def test_swapping_two_records_and_renumbering_them_still_fails() -> None:
    rows = chain(4)
    head = rows[-1]
    rows[1], rows[2] = rows[2], rows[1]
    rows[1].seq, rows[2].seq = 2, 3

    result = verify(rows, head=head)

    assert result.ok is False
    assert result.checked == 1
    assert result.bad_seq == 2


def test_dropping_the_last_record_fails_against_the_head() -> None:
    rows = chain(4)
    head = rows[-1]

    result = verify(rows[:-1], head=head)

    assert result.ok is False
    assert result.checked == 3
    assert result.bad_seq is None
    assert "3" in (result.problem or "")
    assert "4" in (result.problem or "")


def test_a_head_hash_that_does_not_match_the_last_record_fails() -> None:
    rows = chain(3)

    result = verify_chain(rows, head_seq=3, head_hash="f" * 64)

    assert result.ok is False
    assert result.checked == 3


def test_records_without_a_head_fail() -> None:
    result = verify_chain(chain(2), head_seq=None, head_hash=None)

    assert result.ok is False
    assert result.checked == 2


def test_a_chain_not_starting_at_seq_one_fails() -> None:
    rows = chain(3)

    result = verify(rows[1:], head=rows[-1])

    assert result.ok is False
    assert result.checked == 0
    assert result.bad_seq == 2
