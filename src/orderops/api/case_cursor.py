"""The case list's ``cursor``: the shared signed cursor (``api/cursors.py``) for its sorts.

A case cursor names the sort it pages (opened, impact, sla), the last row's sort key and
its id; it is refused (400 ``invalid-cursor``) for another tenant, another sort, another
listing, or when garbled or edited. It keeps its own signing purpose, so cursors issued
before the signer was shared still page.
"""

from __future__ import annotations

from typing import Any

from pydantic import AwareDatetime, TypeAdapter

from orderops.api.cursors import MAX_CURSOR_CHARS, Cursors, InvalidCursor
from orderops.storage.repositories.case_list import CasePosition
from orderops.storage.repositories.cases import CaseSort

__all__ = ["MAX_CURSOR_CHARS", "CursorCodec", "InvalidCursor"]

_PURPOSE = b"orderops-case-cursor/1"

_KEYS: dict[str, TypeAdapter[Any]] = {
    CaseSort.OPENED: TypeAdapter(tuple[AwareDatetime]),
    CaseSort.IMPACT: TypeAdapter(tuple[int | None, AwareDatetime | None, AwareDatetime]),
    CaseSort.SLA: TypeAdapter(tuple[AwareDatetime | None, int | None, AwareDatetime]),
}
"""The key of each sort, as ``CasePosition.key`` documents it."""


class CursorCodec:
    """Issues and reads case-list cursors for one tenant."""

    def __init__(self, secret_key: str, *, tenant_id: str) -> None:
        self._cursors = Cursors(secret_key, tenant_id=tenant_id, purpose=_PURPOSE)

    def encode(self, position: CasePosition) -> str:
        return self._cursors.encode(str(position.sort), position.key, position.case_id)

    def decode(self, token: str, *, sort: CaseSort) -> CasePosition:
        """The position ``token`` names, if it was issued here to this tenant for ``sort``."""
        key, case_id = self._cursors.decode(token, sorts=_KEYS, sort=str(sort))
        return CasePosition(sort=sort, key=key, case_id=case_id)
