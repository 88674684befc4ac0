"""Deliver one claimed message: precheck, write, confirm; never touches the database.

This runs outside any transaction: the claim has committed (the lease is ours) and the
result is recorded in a new transaction afterwards, so a slow vendor never holds a lock
and a crash anywhere in here only costs the lease, never the effect's uniqueness: the
next attempt's precheck finds our own earlier effect, or the vendor replays by key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from orderops.domain.errors import ConfigurationError
from orderops.writeback.connectors.base import (
    CircuitOpen,
    ConnectorError,
    PermanentError,
)
from orderops.writeback.outcomes import Outcome, OutcomeKind, excerpt
from orderops.writeback.registry import Call, Connectors, Operation, Result
from orderops.writeback.states import OutboxStatus


@dataclass(frozen=True, kw_only=True)
class Claimed:
    """A message as it was when this worker leased it."""

    id: str
    tenant_id: str
    system: str
    operation: str
    idempotency_key: str
    payload: dict[str, Any]
    attempts: int
    """Claims of this message so far, this one included (numbers its attempt rows)."""
    tries: int
    """Claims since an operator last retried it: what the give-up rule counts."""
    previous_status: OutboxStatus
    previous_result: dict[str, Any] | None
    case_id: str | None
    order_ref: str | None
    attempt_id: str


def deliver(operation: Operation, connectors: Connectors, claimed: Claimed) -> Outcome:
    call = Call(claimed.idempotency_key, claimed.payload, sent_before=sent_before(claimed))
    try:
        return _attempt(operation, connectors, call, claimed)
    except CircuitOpen as error:
        return _error_outcome(OutcomeKind.DEFERRED, error)
    except PermanentError as error:
        return _error_outcome(OutcomeKind.FAILED, error)
    except ConnectorError as error:  # retryable, 409 conflict: read again next attempt
        return _error_outcome(OutcomeKind.RETRY, error)
    except ConfigurationError as error:
        return Outcome(kind=OutcomeKind.FAILED, error=error.message)
    except (KeyError, TypeError, ValueError) as error:
        return Outcome(kind=OutcomeKind.FAILED, error=f"malformed payload: {error!r}")


def _attempt(operation: Operation, connectors: Connectors, call: Call, claimed: Claimed) -> Outcome:
    earlier = claimed.previous_result
    rereading = claimed.previous_status is OutboxStatus.UNCONFIRMED and earlier is not None
    if rereading and earlier is not None and operation.confirm(connectors, call, earlier):
        return _written(OutcomeKind.DELIVERED, earlier)
    # Not confirmed (or never written): every write is idempotent, so a full attempt is safe.
    check = operation.precheck(connectors, call)
    result: Result
    if check.earlier_result is not None:
        result = {**check.earlier_result, "found_earlier": True}
    elif check.differences:
        return Outcome(
            kind=OutcomeKind.CONFLICT,
            differences=check.differences,
            error="; ".join(
                f"{d.fact}: expected {d.expected}, found {d.actual}" for d in check.differences
            ),
        )
    else:
        result = operation.execute(connectors, call)
        if operation.answer_confirms is not None and operation.answer_confirms(result):
            return _written(OutcomeKind.DELIVERED, result)
    confirmed = operation.confirm(connectors, call, result)
    return _written(OutcomeKind.DELIVERED if confirmed else OutcomeKind.UNCONFIRMED, result)


def sent_before(claimed: Claimed) -> bool:
    """Whether a request for this message may already have reached the vendor.

    The claim that leased it committed its attempt count before any request was made, so
    a count of 1 means this claim is the first ever: no worker, not even one killed
    mid-request, sent anything under its key. Any later claim (a retry, a read-back, a
    lease taken over from a dead or slow worker, an operator's retry, however old its key)
    may follow a request that landed, and must look for our own effect before writing.
    """
    return claimed.attempts > 1


def _written(kind: OutcomeKind, result: Result) -> Outcome:
    error = None if kind is OutcomeKind.DELIVERED else "read-back did not show the effect"
    return Outcome(kind=kind, result=result, error=error, response_excerpt=excerpt(result))


def _error_outcome(kind: OutcomeKind, error: ConnectorError) -> Outcome:
    return Outcome(
        kind=kind,
        error=error.message,
        retry_after=error.retry_after,
        response_status=error.status,
        response_excerpt=excerpt(
            {"status": error.status, "code": error.provider_code, "message": error.message}
        ),
    )


def request_summary(
    summary_fields: tuple[str, ...],
    *,
    system: str,
    operation: str,
    idempotency_key: str,
    payload: dict[str, Any],
) -> dict[str, Any]:
    """What was asked, without copying personal data (addresses, note text) into history."""
    fields = {f: payload[f] for f in summary_fields if f in payload}
    return {
        "system": system,
        "operation": operation,
        "idempotency_key": idempotency_key,
        **fields,
    }
