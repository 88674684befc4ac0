"""Statuses of outbox messages, their attempts and sagas, each with its table of legal moves.

A message is ``pending`` until a worker leases it (``in_flight``); the worker's result
moves it to ``delivered`` (written and read back), ``unconfirmed`` (written, read-back not
yet conclusive: only the read-back is retried), back to ``pending`` (retry later),
``conflict`` (the world changed since the decision; a human decides) or ``failed`` (dead
letter). Operators may ``retry`` a failed, conflicted or cancelled message and ``cancel``
one that has not been delivered.
"""

from __future__ import annotations

from enum import StrEnum

from orderops.domain.errors import IllegalTransition


class OutboxStatus(StrEnum):
    PENDING = "pending"
    IN_FLIGHT = "in_flight"
    UNCONFIRMED = "unconfirmed"
    DELIVERED = "delivered"
    CONFLICT = "conflict"
    FAILED = "failed"
    CANCELLED = "cancelled"


CLAIMABLE = frozenset({OutboxStatus.PENDING, OutboxStatus.UNCONFIRMED})
"""Statuses a worker may lease once ``next_attempt_at`` has come (plus expired leases)."""

OPEN = frozenset({OutboxStatus.PENDING, OutboxStatus.IN_FLIGHT, OutboxStatus.UNCONFIRMED})
"""The effect may still happen: nothing has been concluded about it yet."""

OUTBOX_MOVES: dict[OutboxStatus, frozenset[OutboxStatus]] = {
    OutboxStatus.PENDING: frozenset({OutboxStatus.IN_FLIGHT, OutboxStatus.CANCELLED}),
    OutboxStatus.IN_FLIGHT: frozenset(
        {
            OutboxStatus.IN_FLIGHT,  # an expired lease taken over by another worker
            OutboxStatus.PENDING,
            OutboxStatus.UNCONFIRMED,
            OutboxStatus.DELIVERED,
            OutboxStatus.CONFLICT,
            OutboxStatus.FAILED,
        }
    ),
    OutboxStatus.UNCONFIRMED: frozenset({OutboxStatus.IN_FLIGHT, OutboxStatus.CANCELLED}),
    OutboxStatus.DELIVERED: frozenset(),
    OutboxStatus.CONFLICT: frozenset({OutboxStatus.PENDING, OutboxStatus.CANCELLED}),
    OutboxStatus.FAILED: frozenset({OutboxStatus.PENDING, OutboxStatus.CANCELLED}),
    OutboxStatus.CANCELLED: frozenset({OutboxStatus.PENDING}),
}


def check_outbox_move(current: OutboxStatus, target: OutboxStatus) -> OutboxStatus:
    """Return ``target`` if the move is legal, else raise IllegalTransition."""
    if target not in OUTBOX_MOVES[current]:
        raise IllegalTransition(f"an outbox message cannot move from {current} to {target}")
    return target


class AttemptOutcome(StrEnum):
    STARTED = "started"
    """Claimed and still running."""
    ABANDONED = "abandoned"
    """Its worker died or lost the lease before recording anything; the next claim says so."""
    DELIVERED = "delivered"
    UNCONFIRMED = "unconfirmed"
    RETRY = "retry"
    DEFERRED = "deferred"
    """Not tried: the circuit for this system and tenant was open."""
    CONFLICT = "conflict"
    FAILED = "failed"
    LEASE_LOST = "lease_lost"
    """Finished after its lease expired and another worker took the message over."""


class SagaStatus(StrEnum):
    RUNNING = "running"
    COMPLETED = "completed"
    COMPENSATING = "compensating"
    COMPENSATED = "compensated"
    FAILED = "failed"
    """A compensation itself failed: a person must finish the undo."""


class StepState(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"
    COMPENSATED = "compensated"
