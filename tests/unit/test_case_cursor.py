"""The case list's cursor: it carries a position back exactly, and only for its tenant and sort."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from orderops.api.case_cursor import CursorCodec, InvalidCursor
from orderops.storage.repositories.case_list import CasePosition
from orderops.storage.repositories.cases import CaseSort

AT = datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)
POSITIONS = [
    CasePosition(sort=CaseSort.OPENED, key=(AT,), case_id="a" * 32),
    CasePosition(sort=CaseSort.IMPACT, key=(87, AT, AT), case_id="b" * 32),
    CasePosition(sort=CaseSort.IMPACT, key=(None, None, AT), case_id="c"),
    CasePosition(sort=CaseSort.SLA, key=(AT, None, AT), case_id="d"),
    CasePosition(sort=CaseSort.SLA, key=(None, 0, AT), case_id="e"),
]


@pytest.mark.parametrize("position", POSITIONS)
def test_a_cursor_gives_back_the_position_it_was_made_from(position: CasePosition) -> None:
    codec = CursorCodec("secret", tenant_id="acme")

    token = codec.encode(position)

    assert codec.decode(token, sort=position.sort) == position
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


@pytest.mark.parametrize(
    ("reader", "sort"),
    [
        (CursorCodec("secret", tenant_id="globex"), CaseSort.OPENED),
        (CursorCodec("another secret", tenant_id="acme"), CaseSort.OPENED),
        (CursorCodec("secret", tenant_id="acme"), CaseSort.IMPACT),
    ],
    ids=["other-tenant", "other-secret", "other-sort"],
)
def test_a_cursor_is_refused_by_another_tenant_key_or_sort(
    reader: CursorCodec, sort: CaseSort
) -> None:
    token = CursorCodec("secret", tenant_id="acme").encode(POSITIONS[0])

    with pytest.raises(InvalidCursor):
        reader.decode(token, sort=sort)
