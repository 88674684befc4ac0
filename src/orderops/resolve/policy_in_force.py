"""The tenant's fulfillment policy in force, read once for resolve (promises) and detection
(thresholds, handling deadlines).

Parsed policies are cached by the stored document itself, so two databases (or two
tenants) holding different policies under the same version number never share one. A
document stored under rules it no longer meets counts as no policy (said once in the log):
events must never stop being processed because of it.
"""

from __future__ import annotations

import json
import logging
from typing import NamedTuple

from sqlalchemy import func, select

from orderops.domain.policy import FulfillmentPolicy, InvalidPolicy, parse_policy
from orderops.storage.repositories.loaded import loaded_rows
from orderops.storage.tables import TenantPolicy
from orderops.storage.uow import UnitOfWork

log = logging.getLogger(__name__)

_PARSED: dict[str, FulfillmentPolicy | None] = {}


class PolicyInForce(NamedTuple):
    version: int
    key: str
    """The stored document, serialised: the cache key of anything derived from it."""
    policy: FulfillmentPolicy


def policy_in_force(uow: UnitOfWork) -> PolicyInForce | None:
    """The newest stored policy; read once per processing chunk (no event writes one)."""
    loaded = loaded_rows(uow.session)
    if loaded is not None and loaded.tenant_id == uow.tenant_id:
        return loaded.value("policy_in_force", lambda: _read(uow))
    return _read(uow)


def _read(uow: UnitOfWork) -> PolicyInForce | None:
    newest = (
        select(func.max(TenantPolicy.version))
        .where(TenantPolicy.tenant_id == uow.tenant_id)
        .scalar_subquery()
    )
    row = uow.session.execute(
        select(TenantPolicy.version, TenantPolicy.body).where(
            TenantPolicy.tenant_id == uow.tenant_id, TenantPolicy.version == newest
        )
    ).first()
    if row is None:
        return None
    version, body = row
    key = json.dumps(body, sort_keys=True, default=str)
    if key not in _PARSED:
        try:
            _PARSED[key] = parse_policy(body)
        except InvalidPolicy as exc:
            log.warning("tenant %s policy v%s no longer parses: %s", uow.tenant_id, version, exc)
            _PARSED[key] = None
    policy = _PARSED[key]
    return None if policy is None else PolicyInForce(int(version), key, policy)
