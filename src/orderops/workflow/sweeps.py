"""Time-based sweeps: judge orders whose deadline has passed since the last look.

Sweeps read state, not timers kept in memory, so a restart misses nothing: whatever
became due while the worker was down is found on its next pass.
"""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.storage.uow import UnitOfWork
from orderops.workflow.cases import CaseEvent
from orderops.workflow.detection import evaluate_order


def sweep_late_orders(
    sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock, batch: int = 200
) -> list[CaseEvent]:
    changes: list[CaseEvent] = []
    seen: set[str] = set()
    while True:
        with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
            now = clock.now()
            candidates = [
                o for o in uow.commerce.late_candidates(now=now, limit=batch) if o.id not in seen
            ]
            if not candidates:
                return changes
            for order in candidates:
                seen.add(order.id)
                changes += evaluate_order(uow, order, now=now, from_sweep=True)
            uow.commit()
