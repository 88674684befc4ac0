"""A person's link decisions: accept or reject a suggestion, link by hand, unlink.

Resolve links what a key proves and asks when it cannot tell (``LinkSuggestion``); these
are the answers. Each decision moves the record itself (its ``order_ref``), so detectors
see the order as it now is: both the order the record joins and the one it leaves are
judged again in the same transaction, and the open cases of both get a "link" timeline
entry saying who moved what, why, and on what evidence. Links are written only through
``resolve.links`` (audited there); a record has at most one active link, so linking it
elsewhere revokes the old one first, and the revoked row stays readable.

Every decision takes the tenant's processing lock, as the pipeline and the sweeps do: a
record moved while the pipeline judged its order would leave cases judged on stale facts.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.cases.cases import CaseEvent
from orderops.domain.errors import NotFound
from orderops.resolve.link_records import (
    NEEDS_AN_ORDER,
    AlreadyDecided,
    BadLinkRequest,
    LinkConflict,
    LinkedRecord,
    NotACandidate,
    find_record,
    record_type_of,
)
from orderops.resolve.links import LinkMethod, RecordType, add_link, revoke_link
from orderops.resolve.suggestions import SuggestionStatus
from orderops.resolve.waits import DEFERRED
from orderops.storage.repositories.intake import InboxStatus
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import (
    InboxEvent,
    LinkSuggestion,
    Order,
    RecordLink,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow.link_effects import Note, detected, rejudge


@dataclass(frozen=True)
class LinkDecision:
    """What a decision did: the link written or revoked, the orders judged again, and the
    case changes that judging made (a case opened by the new ticket, one resolved)."""

    link: RecordLink | None
    suggestion: LinkSuggestion | None
    orders: tuple[str, ...]
    changes: tuple[CaseEvent, ...]


# -- decisions -------------------------------------------------------------------------


def accept_suggestion(
    uow: UnitOfWork,
    *,
    suggestion_id: str,
    order_ref: str,
    actor: str,
    now: datetime,
    reason: str | None = None,
) -> LinkDecision:
    """Link the suggestion's record to ``order_ref``, which must be one of its candidates."""
    uow.inbox.lock_processing()
    suggestion = _open_suggestion(uow, suggestion_id)
    candidate = _candidate(suggestion, order_ref)
    target = _order(uow, order_ref)
    why = (reason or "").strip()
    evidence = _join(
        str(candidate.get("evidence") or ""),
        f"chosen by {actor} among {len(_candidates(suggestion))} candidates",
        why,
    )
    link_args: dict[str, Any] = {
        "method": LinkMethod.SUGGESTION,
        "key_kind": _text(candidate.get("key_kind")),
        "key": _text(candidate.get("key")),
        "evidence": evidence,
        "actor": actor,
        "now": now,
        "inbox_id": suggestion.inbox_id,
    }
    try:
        found = find_record(uow, suggestion.record_type, suggestion.record_ref, suggestion.inbox_id)
    except NotFound:
        decision = _link_waiting(uow, suggestion, target, link_args)
    else:
        decision = _link(uow, found, target, reason=why or "suggestion accepted", **link_args)
    _decide(uow, suggestion, SuggestionStatus.ACCEPTED, actor=actor, now=now, chosen=order_ref)
    uow.audit.append(
        at=now,
        actor=actor,
        action="link_suggestion.accepted",
        entity_type="link_suggestion",
        entity_id=suggestion.id,
        data={
            "record_type": suggestion.record_type,
            "record_ref": suggestion.record_ref,
            "order_ref": order_ref,
            "reason": why or None,
            "link_id": decision.link.id if decision.link else None,
        },
    )
    return LinkDecision(decision.link, suggestion, decision.orders, decision.changes)


def reject_suggestion(
    uow: UnitOfWork, *, suggestion_id: str, actor: str, reason: str, now: datetime
) -> LinkDecision:
    """None of the candidates is the record's order: the record stays unlinked."""
    why = _reason(reason)
    uow.inbox.lock_processing()
    suggestion = _open_suggestion(uow, suggestion_id)
    _decide(uow, suggestion, SuggestionStatus.REJECTED, actor=actor, now=now, chosen=None)
    uow.audit.append(
        at=now,
        actor=actor,
        action="link_suggestion.rejected",
        entity_type="link_suggestion",
        entity_id=suggestion.id,
        data={
            "record_type": suggestion.record_type,
            "record_ref": suggestion.record_ref,
            "candidates": [c.get("order_ref") for c in _candidates(suggestion)],
            "reason": why,
        },
    )
    return LinkDecision(None, suggestion, (), ())


def link_manually(
    uow: UnitOfWork,
    *,
    record_type: str,
    record_ref: str,
    order_ref: str,
    actor: str,
    reason: str,
    now: datetime,
) -> LinkDecision:
    """Put the record on ``order_ref`` because a person says so (also to move it from
    another order, or to link it again after an unlink: a new link row each time)."""
    kind = record_type_of(record_type)
    why = _reason(reason)
    uow.inbox.lock_processing()
    target = _order(uow, order_ref)
    found = find_record(uow, kind, record_ref)
    repo = ResolveRepository(uow.session, uow.tenant_id)
    if any(link.order_ref == order_ref for link in repo.links_for_record(kind, record_ref)):
        raise LinkConflict(f"{kind} {record_ref} is already linked to order {order_ref}")
    decision = _link(
        uow,
        found,
        target,
        method=LinkMethod.MANUAL,
        key_kind=None,
        key=None,
        evidence=f"linked by hand by {actor}: {why}",
        actor=actor,
        reason=why,
        now=now,
        inbox_id=None,
    )
    suggestion = repo.suggestion_for(kind, record_ref)
    if suggestion is not None and suggestion.status == SuggestionStatus.OPEN:
        _decide(
            uow, suggestion, SuggestionStatus.SUPERSEDED, actor=actor, now=now, chosen=order_ref
        )
        uow.audit.append(
            at=now,
            actor=actor,
            action="link_suggestion.superseded",
            entity_type="link_suggestion",
            entity_id=suggestion.id,
            data={"record_type": kind, "record_ref": record_ref, "order_ref": order_ref},
        )
    return LinkDecision(decision.link, suggestion, decision.orders, decision.changes)


def unlink(
    uow: UnitOfWork, *, link_id: str, actor: str, reason: str, now: datetime
) -> LinkDecision:
    """Take the record off the order it was linked to; the link row stays, revoked."""
    why = _reason(reason)
    uow.inbox.lock_processing()
    repo = ResolveRepository(uow.session, uow.tenant_id)
    link = repo.link(link_id)
    if link is None:
        raise NotFound(f"no link {link_id}")
    if link.revoked_at is not None:
        raise LinkConflict(f"link {link_id} was already revoked {link.revoked_at.isoformat()}")
    kind = RecordType(link.record_type)
    if kind in NEEDS_AN_ORDER:
        raise BadLinkRequest(
            f"a {kind} must sit on an order: link it to the right order instead of unlinking"
        )
    found = find_record(uow, kind, link.record_ref, link.inbox_id)
    orders = _orders(uow, [link.order_ref])
    before = detected(uow, orders, now=now)
    revoke_link(uow, link, actor=actor, reason=why, now=now)
    if link.order_ref in found.order_refs:
        found.move_to(None)
    entry = Note(
        summary=(
            f"{kind} {link.record_ref} unlinked from order {_label(orders, link.order_ref)}: {why}"
        ),
        data={
            "change": "unlinked",
            "record_type": kind,
            "record_ref": link.record_ref,
            "link_id": link.id,
            "from_order": link.order_ref,
            "to_order": None,
            "actor": actor,
            "reason": why,
            "evidence": link.evidence,
        },
    )
    changes = rejudge(uow, kind, orders, entry, before=before, actor=actor, now=now)
    return LinkDecision(link, None, tuple(o.order_ref for o in orders), changes)


# -- applying a link -------------------------------------------------------------------


def _link_waiting(
    uow: UnitOfWork, suggestion: LinkSuggestion, target: Order, link_args: dict[str, Any]
) -> LinkDecision:
    """A record resolve parked in the inbox for a person (stored nowhere yet, e.g. a
    refund that could be either order's): the link is written and the event goes back to
    pending, so the pipeline projects it onto the chosen order on its next pass."""
    row = (
        uow.session.get(InboxEvent, suggestion.inbox_id)
        if suggestion.inbox_id is not None
        else None
    )
    if row is None or row.tenant_id != uow.tenant_id or row.status != DEFERRED:
        raise LinkConflict(
            f"{suggestion.record_type} {suggestion.record_ref} is neither stored nor waiting "
            "in the inbox: nothing to link"
        )
    link = add_link(
        uow,
        record_type=suggestion.record_type,
        record_ref=suggestion.record_ref,
        order_ref=target.order_ref,
        **link_args,
    )
    ResolveRepository(uow.session, uow.tenant_id).clear_waits([row.id])
    row.status = InboxStatus.PENDING
    return LinkDecision(link, None, (target.order_ref,), ())


def _link(
    uow: UnitOfWork,
    found: LinkedRecord,
    target: Order,
    *,
    method: LinkMethod,
    key_kind: str | None,
    key: str | None,
    evidence: str,
    actor: str,
    reason: str,
    now: datetime,
    inbox_id: str | None,
) -> LinkDecision:
    """Revoke the record's other active links, link it to ``target``, move its rows, and
    judge every order it left or joined."""
    repo = ResolveRepository(uow.session, uow.tenant_id)
    previous = found.order_refs
    for old in repo.links_for_record(found.record_type, found.record_ref):
        if old.order_ref != target.order_ref:
            previous.add(old.order_ref)
            revoke_link(
                uow, old, actor=actor, reason=f"moved to {target.order_ref}: {reason}", now=now
            )
    link = add_link(
        uow,
        record_type=found.record_type,
        record_ref=found.record_ref,
        order_ref=target.order_ref,
        method=method,
        key_kind=key_kind,
        key=key,
        evidence=evidence,
        actor=actor,
        now=now,
        inbox_id=inbox_id,
    )
    left = sorted(previous - {target.order_ref})
    orders = _orders(uow, [target.order_ref, *left])
    before = detected(uow, [o for o in orders if o.order_ref in left], now=now)
    found.move_to(target.order_ref)
    moved = f" from order {', '.join(_label(orders, ref) for ref in left)}" if left else ""
    entry = Note(
        summary=(
            f"{found.record_type} {found.record_ref} linked to order "
            f"{_label(orders, target.order_ref)}{moved} ({method}): {reason}"
        ),
        data={
            "change": "linked",
            "record_type": found.record_type,
            "record_ref": found.record_ref,
            "link_id": link.id,
            "method": method,
            "from_order": left[0] if len(left) == 1 else (left or None),
            "to_order": target.order_ref,
            "actor": actor,
            "reason": reason,
            "evidence": evidence,
        },
    )
    changes = rejudge(uow, found.record_type, orders, entry, before=before, actor=actor, now=now)
    return LinkDecision(link, None, tuple(o.order_ref for o in orders), changes)


# -- small helpers ---------------------------------------------------------------------


def _open_suggestion(uow: UnitOfWork, suggestion_id: str) -> LinkSuggestion:
    query = select(LinkSuggestion).where(
        LinkSuggestion.tenant_id == uow.tenant_id, LinkSuggestion.id == suggestion_id
    )
    suggestion = uow.session.scalar(query.with_for_update())
    if suggestion is None:
        raise NotFound(f"no link suggestion {suggestion_id}")
    if suggestion.status != SuggestionStatus.OPEN:
        by = f" by {suggestion.decided_by}" if suggestion.decided_by else ""
        raise AlreadyDecided(f"link suggestion {suggestion_id} is {suggestion.status} already{by}")
    return suggestion


def _decide(
    uow: UnitOfWork,
    suggestion: LinkSuggestion,
    status: str,
    *,
    actor: str,
    now: datetime,
    chosen: str | None,
) -> None:
    suggestion.status = status
    suggestion.decided_at, suggestion.decided_by = now, actor
    suggestion.chosen_order_ref = chosen
    uow.session.flush()


def _candidates(suggestion: LinkSuggestion) -> list[dict[str, Any]]:
    orders = (suggestion.candidates or {}).get("orders") or []
    return [c for c in orders if isinstance(c, dict)]


def _candidate(suggestion: LinkSuggestion, order_ref: str) -> dict[str, Any]:
    candidates = _candidates(suggestion)
    for candidate in candidates:
        if candidate.get("order_ref") == order_ref:
            return candidate
    offered = ", ".join(str(c.get("order_ref")) for c in candidates) or "none"
    raise NotACandidate(
        f"order {order_ref} is not a candidate of suggestion {suggestion.id} "
        f"(candidates: {offered}); link it by hand if you know better"
    )


def _order(uow: UnitOfWork, order_ref: str) -> Order:
    order = uow.commerce.order_by_ref(order_ref)
    if order is None:
        raise BadLinkRequest(f"no order {order_ref}")
    return order


def _orders(uow: UnitOfWork, refs: Iterable[str]) -> list[Order]:
    found = []
    for ref in dict.fromkeys(refs):
        order = uow.commerce.order_by_ref(ref)
        if order is not None:
            found.append(order)
    return found


def _label(orders: Iterable[Order], order_ref: str) -> str:
    for order in orders:
        if order.order_ref == order_ref and order.number:
            return f"{order.number} ({order_ref})"
    return order_ref


def _reason(reason: str | None) -> str:
    why = (reason or "").strip()
    if not why:
        raise BadLinkRequest("say why: a reason is required")
    return why


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)
