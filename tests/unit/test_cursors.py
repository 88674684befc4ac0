"""The shared page cursor and the state ETag: a cursor carries a position back exactly and
only for its tenant and listing; If-Match passes only the current strong tag."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from pydantic import BaseModel

from orderops.api.cursors import TIME_KEY, Cursors, InvalidCursor
from orderops.api.etags import StaleResource, check_if_match, state_tag

AT = datetime(2026, 11, 20, 12, 0, 0, 123456, tzinfo=UTC)
SORTS = {"outbox": TIME_KEY, "holds": TIME_KEY}


def test_a_listing_cursor_gives_back_the_key_and_id_it_was_made_from() -> None:
    cursors = Cursors("secret", tenant_id="acme")

    token = cursors.encode("outbox", (AT,), "0" * 32)

    assert cursors.decode(token, sorts=SORTS, sort="outbox") == ((AT,), "0" * 32)
    assert set(token) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.")


@pytest.mark.parametrize(
    ("reader", "listing"),
    [
        (Cursors("secret", tenant_id="globex"), "outbox"),
        (Cursors("another secret", tenant_id="acme"), "outbox"),
        (Cursors("secret", tenant_id="acme", purpose=b"orderops-case-cursor/1"), "outbox"),
        (Cursors("secret", tenant_id="acme"), "holds"),
    ],
    ids=["other-tenant", "other-secret", "other-purpose", "other-listing"],
)
def test_a_cursor_is_refused_by_another_tenant_key_purpose_or_listing(
    reader: Cursors, listing: str
) -> None:
    token = Cursors("secret", tenant_id="acme").encode("outbox", (AT,), "a")

    with pytest.raises(InvalidCursor):
        reader.decode(token, sorts=SORTS, sort=listing)


def test_a_signed_cursor_with_a_key_of_the_wrong_type_is_refused() -> None:
    cursors = Cursors("secret", tenant_id="acme")
    token = cursors.encode("outbox", ("not a time",), "a")

    with pytest.raises(InvalidCursor, match="position"):
        cursors.decode(token, sorts=SORTS, sort="outbox")


class _Thing(BaseModel):
    id: str
    data: dict[str, int]


def test_the_state_tag_is_strong_and_ignores_the_order_of_json_keys() -> None:
    one = state_tag(_Thing(id="x", data={"a": 1, "b": 2}))

    assert one == state_tag(_Thing(id="x", data={"b": 2, "a": 1}))
    assert one != state_tag(_Thing(id="x", data={"a": 1, "b": 3}))
    assert one.startswith('"')
    assert not one.startswith("W/")


CURRENT = '"0123456789abcdef0123456789abcdef"'


@pytest.mark.parametrize(
    ("if_match", "passes"),
    [
        (None, True),
        ("*", True),
        (CURRENT, True),
        (f'"stale", {CURRENT}', True),
        ('"stale"', False),
        (f"W/{CURRENT}", False),  # a weak tag never matches If-Match (RFC 9110)
        ("3", False),
    ],
)
def test_if_match_passes_only_the_current_strong_tag(if_match: str | None, passes: bool) -> None:
    if passes:
        check_if_match(if_match, CURRENT)
    else:
        with pytest.raises(StaleResource):
            check_if_match(if_match, CURRENT)
