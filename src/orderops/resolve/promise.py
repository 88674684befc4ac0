"""The delivery promise of an order the store sent without one.

Shopify sends no promise date, so the tenant's fulfillment policy decides: the window the
order's shipping line buys, counted in business days from when it was placed
(``domain.policy.promise_for``). A promise the store does send wins.
"""

from __future__ import annotations

from datetime import datetime

from orderops.domain.policy import promise_for
from orderops.resolve.policy_in_force import policy_in_force
from orderops.storage.uow import UnitOfWork

STORE = "store"


def promise(
    uow: UnitOfWork,
    *,
    sent: datetime | None,
    service_level: str | None,
    placed_at: datetime,
) -> tuple[datetime | None, str | None]:
    """(promised_by, promise_source): the store's promise, else the policy's, else none."""
    if sent is not None:
        return sent, STORE
    current = policy_in_force(uow)
    if current is None:
        return None, None
    found = promise_for(current.policy, service_level, placed_at)
    if found is None:
        return None, None
    return found.due, f"policy:{found.window}"
