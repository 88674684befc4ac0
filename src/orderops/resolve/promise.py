"""The delivery promise of an order the store sent without one.

Shopify sends no promise date, so the tenant's fulfillment policy decides: the window the
order's shipping line buys, counted in business days from when it was placed
(``domain.policy.promise_for``). A promise the store does send wins.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from sqlalchemy import func, select

from orderops.domain.policy import FulfillmentPolicy, InvalidPolicy, parse_policy, promise_for
from orderops.storage.tables import TenantPolicy
from orderops.storage.uow import UnitOfWork

log = logging.getLogger(__name__)

STORE = "store"

_PARSED: dict[str, FulfillmentPolicy | None] = {}


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
    policy = current_policy(uow)
    if policy is None:
        return None, None
    found = promise_for(policy, service_level, placed_at)
    if found is None:
        return None, None
    return found.due, f"policy:{found.window}"


def current_policy(uow: UnitOfWork) -> FulfillmentPolicy | None:
    """The tenant's newest fulfillment policy, parsed once per stored document."""
    newest = (
        select(func.max(TenantPolicy.version))
        .where(TenantPolicy.tenant_id == uow.tenant_id)
        .scalar_subquery()
    )
    body = uow.session.scalar(
        select(TenantPolicy.body).where(
            TenantPolicy.tenant_id == uow.tenant_id, TenantPolicy.version == newest
        )
    )
    if body is None:
        return None
    key = json.dumps(body, sort_keys=True, default=str)
    if key not in _PARSED:
        try:
            _PARSED[key] = parse_policy(body)
        except InvalidPolicy as exc:
            # Stored under an older schema and no longer valid: no promise, said once.
            log.warning(
                "tenant %s policy no longer parses, no promises computed: %s", uow.tenant_id, exc
            )
            _PARSED[key] = None
    return _PARSED[key]
