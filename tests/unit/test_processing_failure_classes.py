"""Which database errors are timing (retry, spend nothing) and which are the event's own
(count an attempt; after the last, a dead letter with a reason class)."""

from __future__ import annotations

import sqlite3

import psycopg.errors
import pytest
from sqlalchemy.exc import DataError, IntegrityError, InternalError, OperationalError

from orderops.domain.errors import InvalidEvent
from orderops.storage.transient import TransientKind, transient_kind
from orderops.workflow.processing_failures import FailureClass, failure_class


def _wrap(cls: type[Exception], orig: Exception) -> Exception:
    return cls("UPDATE ...", None, orig)  # type: ignore[call-arg]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (_wrap(OperationalError, psycopg.errors.DeadlockDetected()), TransientKind.DEADLOCK),
        (
            _wrap(OperationalError, psycopg.errors.SerializationFailure()),
            TransientKind.SERIALIZATION_FAILURE,
        ),
        (_wrap(OperationalError, psycopg.errors.LockNotAvailable()), TransientKind.LOCK_TIMEOUT),
        (_wrap(OperationalError, psycopg.errors.AdminShutdown()), TransientKind.CONNECTION_LOST),
        (
            _wrap(OperationalError, psycopg.errors.ConnectionFailure()),
            TransientKind.CONNECTION_LOST,
        ),
        (
            _wrap(OperationalError, sqlite3.OperationalError("database is locked")),
            TransientKind.DATABASE_LOCKED,
        ),
    ],
)
def test_timing_errors_are_transient(error: Exception, kind: TransientKind) -> None:
    assert transient_kind(error) is kind


def test_a_dropped_connection_is_transient_whatever_the_driver_said() -> None:
    error = OperationalError("SELECT 1", None, Exception("server closed the connection"))
    error.connection_invalidated = True
    assert transient_kind(error) is TransientKind.CONNECTION_LOST


def test_a_deadlock_hidden_behind_a_failed_savepoint_rollback_is_still_transient() -> None:
    outer = _wrap(InternalError, psycopg.errors.InFailedSqlTransaction())
    outer.__context__ = _wrap(OperationalError, psycopg.errors.DeadlockDetected())
    assert transient_kind(outer) is TransientKind.DEADLOCK


def test_a_bug_raised_while_handling_a_deadlock_is_not_transient() -> None:
    """Else the bug would be retried for ever and never reach a dead letter."""
    bug = KeyError("missing")
    bug.__context__ = _wrap(OperationalError, psycopg.errors.DeadlockDetected())
    assert transient_kind(bug) is None


@pytest.mark.parametrize(
    "error",
    [
        _wrap(DataError, psycopg.errors.NumericValueOutOfRange("integer out of range")),
        _wrap(IntegrityError, psycopg.errors.UniqueViolation()),
        _wrap(OperationalError, sqlite3.OperationalError("no such table: orders")),
        RuntimeError("bug"),
    ],
)
def test_the_events_own_errors_are_not_transient(error: Exception) -> None:
    assert transient_kind(error) is None


@pytest.mark.parametrize(
    ("error", "reason"),
    [
        (
            _wrap(DataError, psycopg.errors.NumericValueOutOfRange("integer out of range")),
            FailureClass.VALUE_OUT_OF_RANGE,
        ),
        (
            _wrap(DataError, psycopg.errors.StringDataRightTruncation("value too long")),
            FailureClass.VALUE_TOO_LONG,
        ),
        (
            _wrap(IntegrityError, psycopg.errors.UniqueViolation()),
            FailureClass.CONSTRAINT_VIOLATION,
        ),
        (
            _wrap(OperationalError, sqlite3.OperationalError("no such table: orders")),
            FailureClass.DATABASE_ERROR,
        ),
        (InvalidEvent("invalid data for order.placed: number"), FailureClass.INVALID_EVENT),
        (RuntimeError("bug in a projector"), FailureClass.PROCESSING_ERROR),
    ],
)
def test_a_failure_is_sorted_into_one_tenant_free_reason_class(
    error: Exception, reason: FailureClass
) -> None:
    assert failure_class(error) is reason
