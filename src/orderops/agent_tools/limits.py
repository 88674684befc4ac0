"""Money limits per agent key: the most one proposal may move, and one UTC day's proposals.

Set per key (``orderops agents limits``, audited as ``agent.limits_set``); read in the
proposing transaction, where the day's sum is what the key's proposals through the tool API
moved today (``agent_proposals``), whatever became of them since: a rejected proposal
still counted against the day, so an agent cannot probe by proposing and withdrawing. A key
without limits proposes nothing that moves money; kinds that move none are not held.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import NotFound, OrderOpsError
from orderops.storage.tables import AgentKeyLimit, AgentProposal, ApiKey
from orderops.storage.uow import UnitOfWork


class MoneyLimitExceeded(OrderOpsError):
    """The proposal would move more money than the key may, per action or today."""

    code = "agent-money-limit"


class InvalidLimits(OrderOpsError):
    code = "invalid-agent-limits"


@dataclass(frozen=True, kw_only=True)
class KeyLimits:
    key_id: str
    prefix: str
    per_action_minor: int
    per_day_minor: int
    proposed_today_minor: int

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.prefix,
            "per_action_minor": self.per_action_minor,
            "per_day_minor": self.per_day_minor,
            "proposed_today_minor": self.proposed_today_minor,
            "left_today_minor": max(0, self.per_day_minor - self.proposed_today_minor),
        }


def day_of(at: datetime) -> str:
    return at.date().isoformat()


def set_limits(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    key_prefix: str,
    per_action_minor: int,
    per_day_minor: int,
    actor: str,
    clock: Clock,
) -> KeyLimits:
    if per_action_minor < 0 or per_day_minor < 0:
        raise InvalidLimits("money limits are amounts of zero or more")
    if per_action_minor > per_day_minor:
        raise InvalidLimits("the limit per action cannot be more than the limit per day")
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        key = _key(uow, key_prefix)
        row = uow.session.scalar(
            select(AgentKeyLimit).where(
                AgentKeyLimit.tenant_id == tenant_id, AgentKeyLimit.key_id == key.id
            )
        )
        before = None if row is None else [row.per_action_minor, row.per_day_minor]
        if row is None:
            row = AgentKeyLimit(tenant_id=tenant_id, key_id=key.id)
            uow.session.add(row)
        row.per_action_minor, row.per_day_minor = per_action_minor, per_day_minor
        row.updated_at, row.updated_by = now, actor
        uow.session.flush()
        uow.audit.append(
            at=now,
            actor=actor,
            action="agent.limits_set",
            entity_type="api_key",
            entity_id=key.id,
            data={
                "key": key.prefix,
                "per_action_minor": per_action_minor,
                "per_day_minor": per_day_minor,
                "before": before,
            },
        )
        limits = _limits(uow, key, day_of(now))
        uow.commit()
    assert limits is not None
    return limits


def show_limits(
    sessions: sessionmaker[Session], *, tenant_id: str, key_prefix: str, clock: Clock
) -> KeyLimits | None:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        return _limits(uow, _key(uow, key_prefix), day_of(clock.now()))


def limits_of_key(uow: UnitOfWork, key_id: str, *, at: datetime) -> KeyLimits | None:
    """The key's limits and today's sum, its limit row locked (PostgreSQL) so two
    proposals of one key in flight are counted one after the other."""
    key = uow.session.scalar(
        select(ApiKey).where(ApiKey.tenant_id == uow.tenant_id, ApiKey.id == key_id)
    )
    return None if key is None else _limits(uow, key, day_of(at), lock=True)


def hold_to_limits(limits: KeyLimits | None, *, amount_minor: int, kind: str) -> None:
    """Refuse an amount over the key's limits (any amount, when it has none)."""
    if amount_minor <= 0:
        return
    if limits is None:
        raise MoneyLimitExceeded(
            f"{kind} moves {amount_minor} and this key has no money limits: an operator sets "
            "them with `orderops agents limits set`"
        )
    if amount_minor > limits.per_action_minor:
        raise MoneyLimitExceeded(
            f"{kind} moves {amount_minor}, over this key's limit of "
            f"{limits.per_action_minor} per action"
        )
    if limits.proposed_today_minor + amount_minor > limits.per_day_minor:
        raise MoneyLimitExceeded(
            f"{kind} moves {amount_minor}; with the {limits.proposed_today_minor} this key "
            f"proposed today that is over its limit of {limits.per_day_minor} per day"
        )


def note_proposal(
    uow: UnitOfWork,
    *,
    key_id: str,
    action_id: str,
    case_id: str,
    kind: str,
    amount_minor: int,
    at: datetime,
) -> None:
    uow.session.add(
        AgentProposal(
            tenant_id=uow.tenant_id,
            key_id=key_id,
            action_id=action_id,
            case_id=case_id,
            kind=kind,
            amount_minor=amount_minor,
            day=day_of(at),
            proposed_at=at,
        )
    )


def _key(uow: UnitOfWork, prefix: str) -> ApiKey:
    found = uow.session.scalars(
        select(ApiKey).where(ApiKey.tenant_id == uow.tenant_id, ApiKey.prefix == prefix)
    ).all()
    if len(found) != 1:
        raise NotFound(f"no single API key with prefix {prefix} in tenant {uow.tenant_id}")
    return found[0]


def _limits(uow: UnitOfWork, key: ApiKey, day: str, *, lock: bool = False) -> KeyLimits | None:
    query = select(AgentKeyLimit).where(
        AgentKeyLimit.tenant_id == uow.tenant_id, AgentKeyLimit.key_id == key.id
    )
    row = uow.session.scalar(query.with_for_update() if lock else query)
    if row is None:
        return None
    spent = uow.session.scalar(
        select(func.coalesce(func.sum(AgentProposal.amount_minor), 0)).where(
            AgentProposal.tenant_id == uow.tenant_id,
            AgentProposal.key_id == key.id,
            AgentProposal.day == day,
        )
    )
    return KeyLimits(
        key_id=key.id,
        prefix=key.prefix,
        per_action_minor=row.per_action_minor,
        per_day_minor=row.per_day_minor,
        proposed_today_minor=int(spent or 0),
    )
