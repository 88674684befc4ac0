"""The record of effects a sandbox has applied, which tests read to count side effects.

Answers to the client can be lost (timeouts, crashes); the ledger cannot. "Exactly one
refund" is asserted here, not on what the connector saw.
"""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, kw_only=True)
class LedgerEntry:
    seq: int
    action: str
    target: str
    idempotency_key: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


class Ledger:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[LedgerEntry] = []

    def record(
        self,
        action: str,
        target: str,
        *,
        idempotency_key: str | None = None,
        data: dict[str, Any] | None = None,
    ) -> LedgerEntry:
        with self._lock:
            entry = LedgerEntry(
                seq=len(self._entries) + 1,
                action=action,
                target=target,
                idempotency_key=idempotency_key,
                data=dict(data or {}),
            )
            self._entries.append(entry)
            return entry

    def entries(self, action: str | None = None) -> list[LedgerEntry]:
        with self._lock:
            return [e for e in self._entries if action is None or e.action == action]

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
