"""Resolving, merging and splitting customers: the application service over the store.

Every change is one new ``IdentityRevision``, one ``CustomerLink`` row per customer it
moves, and one audit record, all in the caller's unit of work. Nothing commits here.

Manual decisions win: customers whose link in force was set by a merge are left out of
automatic resolution, so a re-run never quietly undoes what a person decided. Splitting
the merge hands them back to automatic resolution.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from orderops.domain.clock import Clock
from orderops.resolve.identity.clustering import BlockingStats, assign_golden_ids, resolve
from orderops.resolve.identity.errors import GoldenNotFound, MergeRefused, SplitConflict
from orderops.resolve.identity.matching import (
    DEFAULT_POLICY,
    CustomerRecord,
    MatchPolicy,
    make_record,
)
from orderops.resolve.identity.store import IdentityStore
from orderops.storage.base import new_id
from orderops.storage.tables.identity import CustomerLink, IdentityRevision
from orderops.storage.uow import UnitOfWork

MANUAL_MERGE = "manual_merge"
RESOLVER = "identity-resolver"
ENTITY = "golden_customer"


@dataclass(frozen=True)
class ResolveReport:
    revision: int | None
    """None when nothing changed (no revision was written)."""
    customers: int
    people: int
    changed: int
    pinned: int
    stats: BlockingStats


@dataclass(frozen=True)
class MergeReport:
    revision: int
    into: str
    merged: str
    customers: tuple[str, ...]


@dataclass(frozen=True)
class SplitReport:
    revision: int
    merge_revision: int
    restored: dict[str, str]
    """customer id -> the golden id it has again."""


def store(uow: UnitOfWork) -> IdentityStore:
    return IdentityStore(uow.session, uow.tenant_id)


def records(uow: UnitOfWork) -> list[CustomerRecord]:
    """Every customer of the tenant, normalised for matching."""
    identities = store(uow).provider_ids()
    return [
        make_record(
            customer.id,
            email=customer.email,
            phone=customer.phone,
            name=customer.name,
            address=customer.address,
            provider_ids=identities.get(customer.id, ()),
        )
        for customer in store(uow).customers()
    ]


def resolve_customers(
    uow: UnitOfWork,
    *,
    clock: Clock,
    actor: str = RESOLVER,
    policy: MatchPolicy = DEFAULT_POLICY,
    new_golden_id: Callable[[], str] = new_id,
) -> ResolveReport:
    """Cluster the tenant's customers and link each to a golden id; idempotent."""
    identity = store(uow)
    current = identity.current_links()
    pinned = {cid for cid, link in current.items() if link.method == MANUAL_MERGE}
    candidates = [r for r in records(uow) if r.record_id not in pinned]
    resolution = resolve(candidates, policy)
    goldens = assign_golden_ids(
        resolution.clusters,
        {cid: link.golden_id for cid, link in current.items() if cid not in pinned},
        new_golden_id,
    )
    changes = []
    for customer_id, golden_id in sorted(goldens.items()):
        link = resolution.links[customer_id]
        before = current.get(customer_id)
        if before is None or (before.golden_id, before.method) != (golden_id, link.method):
            changes.append((customer_id, golden_id, link))
    people = len(resolution.clusters)
    if not changes:
        return ResolveReport(None, len(candidates), people, 0, len(pinned), resolution.stats)
    at = clock.now()
    revision = identity.next_revision()
    identity.add_revision(IdentityRevision(revision=revision, kind="resolve", actor=actor, at=at))
    for customer_id, golden_id, link in changes:
        identity.add_link(
            CustomerLink(
                customer_id=customer_id,
                golden_id=golden_id,
                revision=revision,
                method=link.method,
                score=link.score,
                reason=link.explanation,
                created_at=at,
            )
        )
    uow.audit.append(
        at=at,
        actor=actor,
        action="identity.resolved",
        entity_type="identity_revision",
        entity_id=str(revision),
        data={
            "revision": revision,
            "customers": len(candidates),
            "people": people,
            "relinked": len(changes),
            "pinned": len(pinned),
            "candidate_pairs": resolution.stats.candidate_pairs,
            "matched_pairs": resolution.matched_pairs,
        },
    )
    return ResolveReport(
        revision, len(candidates), people, len(changes), len(pinned), resolution.stats
    )


def merge(
    uow: UnitOfWork, *, into: str, other: str, actor: str, reason: str, clock: Clock
) -> MergeReport:
    """Move every customer of golden ``other`` into golden ``into``, recording what each
    had before so ``split`` can restore it exactly."""
    if into == other:
        raise MergeRefused(f"cannot merge golden customer {into} with itself")
    identity = store(uow)
    current = identity.current_links()
    members = _members(current, into)
    moving = _members(current, other)
    at = clock.now()
    revision = identity.next_revision()
    identity.add_revision(
        IdentityRevision(revision=revision, kind="merge", actor=actor, reason=reason, at=at)
    )
    for customer_id in moving:
        identity.add_link(
            CustomerLink(
                customer_id=customer_id,
                golden_id=into,
                revision=revision,
                method=MANUAL_MERGE,
                score=None,
                reason=reason,
                created_at=at,
            )
        )
    uow.audit.append(
        at=at,
        actor=actor,
        action="identity.merged",
        entity_type=ENTITY,
        entity_id=into,
        data={
            "revision": revision,
            "into": into,
            "merged": other,
            "into_customers": list(members),
            "moved_customers": list(moving),
            "previous": {cid: _link_data(current[cid]) for cid in moving},
            "reason": reason,
        },
    )
    return MergeReport(revision, into, other, tuple(moving))


def split(
    uow: UnitOfWork, *, merge_revision: int, actor: str, reason: str, clock: Clock
) -> SplitReport:
    """Undo one merge: every customer it moved gets back the exact link it had before."""
    identity = store(uow)
    merged = identity.revision(merge_revision)
    if merged is None or merged.kind != "merge":
        raise SplitConflict(f"revision {merge_revision} is not a merge")
    if (undone := identity.undoing(merge_revision)) is not None:
        raise SplitConflict(f"merge {merge_revision} was already split by {undone.revision}")
    moved = identity.links_at(merge_revision)
    current = identity.current_links()
    # A later change that was itself undone leaves the merge's link in force again.
    relinked = [
        link.customer_id for link in moved if _state(current[link.customer_id]) != _state(link)
    ]
    if relinked:
        raise SplitConflict(
            f"customers {', '.join(relinked)} were relinked after merge {merge_revision}; "
            "undo the later change first"
        )
    at = clock.now()
    revision = identity.next_revision()
    identity.add_revision(
        IdentityRevision(
            revision=revision,
            kind="split",
            actor=actor,
            reason=reason,
            undoes=merge_revision,
            at=at,
        )
    )
    restored: dict[str, str] = {}
    for link in moved:
        before = identity.link_before(link.customer_id, merge_revision)
        if before is None:  # pragma: no cover - a merge only moves linked customers
            raise SplitConflict(f"customer {link.customer_id} had no link before the merge")
        identity.add_link(
            CustomerLink(
                customer_id=link.customer_id,
                golden_id=before.golden_id,
                revision=revision,
                method=before.method,
                score=before.score,
                reason=before.reason,
                created_at=at,
            )
        )
        restored[link.customer_id] = before.golden_id
    uow.audit.append(
        at=at,
        actor=actor,
        action="identity.split",
        entity_type=ENTITY,
        entity_id=moved[0].golden_id if moved else "",
        data={
            "revision": revision,
            "undoes": merge_revision,
            "restored": restored,
            "reason": reason,
        },
    )
    return SplitReport(revision, merge_revision, restored)


@dataclass(frozen=True)
class GoldenView:
    golden_id: str
    customers: list[dict[str, Any]]
    history: list[dict[str, Any]]


def show(uow: UnitOfWork, *, key: str) -> GoldenView:
    """A golden customer by its id, or by the id of any of its customer rows."""
    identity = store(uow)
    current = identity.current_links()
    golden_id = current[key].golden_id if key in current else key
    member_ids = _members(current, golden_id)
    customers = []
    for customer_id in member_ids:
        customer = identity.customer(customer_id)
        assert customer is not None
        link = current[customer_id]
        customers.append(
            {
                "customer_id": customer_id,
                "name": customer.name,
                "email": customer.email,
                "phone": customer.phone,
                **_link_data(link),
            }
        )
    history = [
        {"customer_id": link.customer_id, **_link_data(link)}
        for link in identity.history(member_ids)
    ]
    return GoldenView(golden_id, customers, history)


def golden_ids(uow: UnitOfWork) -> dict[str, str]:
    """customer id -> golden id in force."""
    return {cid: link.golden_id for cid, link in store(uow).current_links().items()}


def _members(current: dict[str, CustomerLink], golden_id: str) -> Sequence[str]:
    members = sorted(cid for cid, link in current.items() if link.golden_id == golden_id)
    if not members:
        raise GoldenNotFound(f"no customer is linked to golden customer {golden_id}")
    return members


def _state(link: CustomerLink) -> tuple[str, str, float | None, str | None]:
    return link.golden_id, link.method, link.score, link.reason


def _link_data(link: CustomerLink) -> dict[str, Any]:
    return {
        "golden_id": link.golden_id,
        "revision": link.revision,
        "method": link.method,
        "score": link.score,
        "reason": link.reason,
    }
