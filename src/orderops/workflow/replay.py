"""Replaying a dead letter once its cause is fixed (``orderops deadletters replay``).

Two kinds of letter, two ways back in:

- input that intake refused (bad JSON, a schema error) has no inbox row: its body goes
  through intake again, as if the sender had resent it;
- an accepted event whose processing failed (``inbox_id`` set) already has its inbox
  row, and re-ingesting would only meet the inbox's dedupe ("duplicate"). Its row is
  put back to pending and processed; the row's own status change, made under the row
  lock the pipeline takes, is what keeps it exactly once.

Attempts are never reset: a replay that fails again spends one more, which is past
``MAX_ATTEMPTS``, so the row goes straight back to failed and the same letter stays
open with the new reason (the pipeline refreshes it) rather than a second letter.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import NotFound
from orderops.storage.repositories.intake import DeadLetterStatus, InboxStatus
from orderops.storage.uow import UnitOfWork
from orderops.workflow.batch import ingest_items
from orderops.workflow.pipeline import DEFERRED, process_many


@dataclass(frozen=True)
class ReplayResult:
    ok: bool
    """True when the letter is closed (replayed); False leaves it open with the reason."""
    message: str


def replay_dead_letter(
    sessions: sessionmaker[Session], *, tenant_id: str, letter_id: str, clock: Clock
) -> ReplayResult:
    """Run an open dead letter again; raise NotFound when there is no open letter."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        letter = uow.dead_letters.get(letter_id)
        if letter is None or letter.status != DeadLetterStatus.OPEN:
            raise NotFound(f"no open dead letter {letter_id} for tenant {tenant_id}")
        inbox_id, body = letter.inbox_id, letter.body
    if inbox_id is not None:
        return _reprocess(
            sessions, tenant_id=tenant_id, letter_id=letter_id, inbox_id=inbox_id, clock=clock
        )
    return _reingest(sessions, tenant_id=tenant_id, letter_id=letter_id, body=body, clock=clock)


def _reprocess(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    letter_id: str,
    inbox_id: str,
    clock: Clock,
) -> ReplayResult:
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = uow.inbox.get(inbox_id)
        if row is None:
            raise NotFound(f"dead letter {letter_id} points at a missing inbox row {inbox_id}")
        if row.status == InboxStatus.FAILED:
            row.status = InboxStatus.PENDING
        uow.commit()
    process_many(sessions, tenant_id=tenant_id, inbox_ids=[inbox_id], clock=clock)
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = uow.inbox.get(inbox_id)
        letter = uow.dead_letters.get(letter_id)
        assert row is not None
        assert letter is not None
        if row.status not in (InboxStatus.PROCESSED, DEFERRED):
            return ReplayResult(
                ok=False,
                message=f"processing failed again ({row.status}): {row.error} (left open)",
            )
        letter.status, letter.replayed_at = DeadLetterStatus.REPLAYED, clock.now()
        letter.replay_inbox_id = inbox_id
        uow.commit()
        return ReplayResult(ok=True, message=f"replayed: inbox event {row.event_id} {row.status}")


def _reingest(
    sessions: sessionmaker[Session], *, tenant_id: str, letter_id: str, body: str, clock: Clock
) -> ReplayResult:
    try:
        decoded = json.loads(body)
    except json.JSONDecodeError as exc:
        return ReplayResult(ok=False, message=f"still not JSON: {exc} (left open)")
    items = decoded if isinstance(decoded, list) else [decoded]
    report = ingest_items(sessions, tenant_id=tenant_id, items=items, channel="replay", clock=clock)
    ok = not report.rejected
    if ok:
        with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
            letter = uow.dead_letters.get(letter_id)
            assert letter is not None
            letter.status, letter.replayed_at = DeadLetterStatus.REPLAYED, clock.now()
            uow.commit()
    return ReplayResult(
        ok=ok,
        message=f"replayed: accepted {report.accepted}, duplicates {report.duplicates}, "
        f"rejected {len(report.rejected)}" + ("" if ok else " (left open)"),
    )
