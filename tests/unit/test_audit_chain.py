"""The audit chain: each record's hash covers its fields and the previous hash, keyed.

Editing, deleting or reordering any record, or cutting off the tail, is caught; an
intact chain (including an empty one) verifies. Without the key nobody can produce a
hash that verifies; records from before keys verify only as a vouched-for prefix.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from orderops.audit.chain import (
    GENESIS_HASH,
    AuditEntry,
    entry_of,
    record_hash,
    unkeyed_record_hash,
    verify_chain,
)
from orderops.audit.keys import AuditKey

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
KEY = AuditKey(b"k" * 32)


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
    key_id: str | None


def chain(n: int, *, tenant: str = "acme", unkeyed: int = 0) -> list[Row]:
    """``n`` correctly linked rows, as the audit writer would store them; the first
    ``unkeyed`` as written before keys existed."""
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
        old = seq <= unkeyed
        digest = unkeyed_record_hash(prev, entry) if old else record_hash(prev, entry, KEY)
        key_id = None if old else KEY.key_id
        rows.append(Row(**dataclasses.asdict(entry), prev_hash=prev, hash=digest, key_id=key_id))
        prev = digest
    return rows


def verify(
    rows: list[Row], *, head: Row | None, key: AuditKey = KEY, unkeyed_through: int = 0
) -> Any:
    return verify_chain(
        rows,
        head_seq=head.seq if head else None,
        head_hash=head.hash if head else None,
        key=key,
        unkeyed_through=unkeyed_through,
    )


def test_record_hash_is_a_keyed_hex_digest_that_depends_on_the_previous_hash() -> None:
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
    assert record_hash(GENESIS_HASH, entry, KEY) == row.hash
    assert record_hash("f" * 64, entry, KEY) != row.hash
    assert record_hash(GENESIS_HASH, entry, AuditKey(b"another key")) != row.hash
    assert unkeyed_record_hash(GENESIS_HASH, entry) != row.hash


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

    assert record_hash(GENESIS_HASH, entry, KEY) == record_hash(GENESIS_HASH, reordered, KEY)


@pytest.mark.parametrize("n", [1, 2, 5])
def test_an_intact_chain_verifies(n: int) -> None:
    rows = chain(n)
    result = verify(rows, head=rows[-1])

    assert result.ok is True
    assert result.checked == n
    assert result.problem is None
    assert result.bad_seq is None


def test_an_empty_chain_with_no_head_verifies() -> None:
    result = verify_chain([], head_seq=None, head_hash=None, key=KEY)

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
    edited.hash = record_hash(edited.prev_hash, entry_of(edited), KEY)

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

    result = verify_chain(rows, head_seq=3, head_hash="f" * 64, key=KEY)

    assert result.ok is False
    assert result.checked == 3


def test_records_without_a_head_fail() -> None:
    result = verify_chain(chain(2), head_seq=None, head_hash=None, key=KEY)

    assert result.ok is False
    assert result.checked == 2


def test_a_chain_not_starting_at_seq_one_fails() -> None:
    rows = chain(3)

    result = verify(rows[1:], head=rows[-1])

    assert result.ok is False
    assert result.checked == 0
    assert result.bad_seq == 2


def test_rehashing_the_rest_of_the_chain_without_the_key_fails_at_the_edit() -> None:
    rows = chain(4)
    rows[1].actor = "user:mallory"
    prev = rows[0].hash
    for row in rows[1:]:
        row.prev_hash, row.hash = prev, record_hash(prev, entry_of(row), AuditKey(b"guess"))
        prev = row.hash

    result = verify(rows, head=rows[-1])

    assert (result.ok, result.bad_seq, result.checked) == (False, 2, 1)
    assert result.problem == "record content does not match its hash"


def test_records_from_before_keys_verify_as_a_prefix_only_when_vouched_for() -> None:
    rows = chain(4, unkeyed=2)

    unvouched = verify(rows, head=rows[-1])
    vouched = verify(rows, head=rows[-1], unkeyed_through=2)
    trusted = verify(rows, head=rows[-1], key=AuditKey(KEY.secret, accept_unkeyed=True))

    assert (unvouched.ok, unvouched.bad_seq) == (False, 1)
    assert "nothing vouches for it" in (unvouched.problem or "")
    assert (vouched.ok, vouched.checked, vouched.unkeyed) == (True, 4, 2)
    assert (trusted.ok, trusted.unkeyed) == (True, 2)


def test_an_unkeyed_record_after_a_keyed_one_is_refused_even_when_trusted() -> None:
    rows = chain(3)
    rows[2].key_id = None
    rows[2].hash = unkeyed_record_hash(rows[2].prev_hash, entry_of(rows[2]))

    result = verify(rows, head=rows[-1], key=AuditKey(KEY.secret, accept_unkeyed=True))

    assert (result.ok, result.bad_seq) == (False, 3)
    assert "unkeyed after keyed records" in (result.problem or "")


def test_a_record_hashed_with_another_key_names_both_keys() -> None:
    rows = chain(2)
    other = AuditKey(b"rotated away")

    result = verify(rows, head=rows[-1], key=other)

    assert (result.ok, result.bad_seq) == (False, 1)
    assert KEY.key_id in (result.problem or "")
    assert other.key_id in (result.problem or "")
