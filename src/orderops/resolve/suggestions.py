"""Link suggestions: a record that could belong to more than one order, left for a person.

Resolve never guesses between two orders (an order number two orders share, a requester
with two open orders); it writes the candidates with the evidence for each and leaves the
record unlinked. One suggestion per record: a later event about the same record refreshes
the open one, a decided one is left as the reviewer left it, and a key that later proves
the record's order marks the open one superseded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from orderops.resolve.follow import Candidate
from orderops.resolve.links import RESOLVE_ACTOR
from orderops.resolve.reads import suggestion as suggestion_of
from orderops.storage.base import new_sortable_id
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import LinkSuggestion
from orderops.storage.uow import UnitOfWork


class SuggestionStatus:
    OPEN = "open"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SUPERSEDED = "superseded"


def suggest(
    uow: UnitOfWork,
    *,
    record_type: str,
    record_ref: str,
    candidates: Sequence[Candidate],
    reason: str,
    inbox_id: str | None,
    now: datetime,
) -> LinkSuggestion:
    """Open (or refresh the open) suggestion for the record."""
    repo = ResolveRepository(uow.session, uow.tenant_id)
    body = {"orders": [c.as_json() for c in candidates]}
    existing = suggestion_of(uow, record_type, record_ref)
    if existing is not None:
        if existing.status == SuggestionStatus.OPEN:
            existing.candidates, existing.reason = body, reason
            existing.inbox_id = inbox_id or existing.inbox_id
        return existing
    suggestion = LinkSuggestion(
        id=new_sortable_id(),
        record_type=record_type,
        record_ref=record_ref,
        candidates=body,
        reason=reason,
        status=SuggestionStatus.OPEN,
        inbox_id=inbox_id,
        created_at=now,
    )
    repo.add(suggestion)
    repo.flush()
    return suggestion


def supersede(
    uow: UnitOfWork, *, record_type: str, record_ref: str, order_ref: str, now: datetime
) -> LinkSuggestion | None:
    """A key proved the record's order: its open suggestion, if any, is answered."""
    suggestion = suggestion_of(uow, record_type, record_ref)
    if suggestion is None or suggestion.status != SuggestionStatus.OPEN:
        return None
    suggestion.status = SuggestionStatus.SUPERSEDED
    suggestion.decided_at, suggestion.decided_by = now, RESOLVE_ACTOR
    suggestion.chosen_order_ref = order_ref
    uow.audit.append(
        at=now,
        actor=RESOLVE_ACTOR,
        action="link_suggestion.superseded",
        entity_type="link_suggestion",
        entity_id=suggestion.id,
        data={"record_type": record_type, "record_ref": record_ref, "order_ref": order_ref},
    )
    return suggestion
