"""What happens to the case when a writeback finds the world changed before it wrote.

The worker never decides for a person: it stops, records what differed, and calls a hook
the workflow passes in. The default hook puts a ``writeback_conflict`` entry on the case
timeline (with its audit record) and moves nothing else, so the case is visibly back in
someone's hands without a status change the case state machine did not sanction.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from orderops.cases.cases import record
from orderops.storage.tables import OutboxMessage
from orderops.storage.uow import UnitOfWork
from orderops.writeback.registry import Difference

ConflictHook = Callable[[UnitOfWork, OutboxMessage, tuple[Difference, ...], datetime], None]
"""Called in the transaction that marks the message ``conflict``."""

CONFLICT_KIND = "writeback_conflict"


def send_back_for_review(
    uow: UnitOfWork, message: OutboxMessage, differences: tuple[Difference, ...], now: datetime
) -> None:
    """The default hook: a timeline entry on the message's case, if it has one."""
    if message.case_id is None:
        return
    case = uow.cases.get(message.case_id)
    if case is None:
        return
    facts = ", ".join(d.fact for d in differences)
    record(
        uow,
        case,
        at=now,
        actor="writeback",
        kind=CONFLICT_KIND,
        summary=f"{message.system}.{message.operation} not written: {facts} changed",
        data={
            "outbox_id": message.id,
            "system": message.system,
            "operation": message.operation,
            "differences": [d.as_json() for d in differences],
        },
    )
