"""Feeding many decoded events through intake and processing: files, the demo, tests."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from itertools import islice
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import CaseEvent
from orderops.domain.clock import Clock
from orderops.ingest.intake import IntakeResult, Outcome, accept_items
from orderops.workflow.pipeline import process_many


@dataclass
class BatchReport:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[IntakeResult] = field(default_factory=list)
    changes: list[CaseEvent] = field(default_factory=list)


def ingest_items(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    items: Iterable[Any],
    channel: str,
    clock: Clock,
    chunk: int = 500,
    on_chunk: Callable[[BatchReport, int], None] | None = None,
) -> BatchReport:
    """Store each chunk first (one transaction), then process its accepted events."""
    report = BatchReport()
    iterator = iter(items)
    while part := list(islice(iterator, chunk)):
        results = accept_items(
            sessions, tenant_id=tenant_id, items=part, channel=channel, clock=clock
        )
        accepted = [r.inbox_id for r in results if r.outcome is Outcome.ACCEPTED and r.inbox_id]
        report.accepted += len(accepted)
        report.duplicates += sum(r.outcome is Outcome.DUPLICATE for r in results)
        report.rejected += [r for r in results if r.outcome is Outcome.REJECTED]
        report.changes += process_many(
            sessions, tenant_id=tenant_id, inbox_ids=accepted, clock=clock
        )
        if on_chunk:
            on_chunk(report, len(part))
    return report
