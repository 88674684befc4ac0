"""Exception types and the case state machine.

A case is one order's one root cause. Its status moves only along ``TRANSITIONS``;
anything else raises ``IllegalTransition`` so a bug never silently corrupts a case.
"""

from __future__ import annotations

from enum import StrEnum

from orderops.domain.errors import IllegalTransition


class ExceptionType(StrEnum):
    """Every kind of order exception the desk knows; detectors exist for those in DETECTORS."""

    PAYMENT_FAILED = "payment_failed"
    PAYMENT_HOLD = "payment_hold"
    AUTHORIZATION_EXPIRING = "authorization_expiring"
    FRAUD_REVIEW = "fraud_review"
    DUPLICATE_CHARGE = "duplicate_charge"
    REFUND_PENDING = "refund_pending"
    INVENTORY_SHORTFALL = "inventory_shortfall"
    SUBSTITUTION_NEEDED = "substitution_needed"
    SHIPMENT_DELAY_PREDICTED = "shipment_delay_predicted"
    SHIPMENT_LATE = "shipment_late"
    PRE_DISPATCH_DELAY = "pre_dispatch_delay"
    CARRIER_EXCEPTION = "carrier_exception"
    ADDRESS_PROBLEM = "address_problem"
    STUCK_ORDER = "stuck_order"
    PARTIAL_FULFILLMENT_OVERDUE = "partial_fulfillment_overdue"
    CUSTOMER_CHASING = "customer_chasing"
    INTEGRATION_SILENCE = "integration_silence"
    CANCEL_REQUESTED = "cancel_requested"
    """The customer's ticket asks to cancel an order that has not shipped (the ticket
    classifier's verdict, detect/ticket_requests.py)."""
    VENDOR_MISMATCH = "vendor_mismatch"
    """Raised by reconciliation (workflow/reconciliation.py), not by a detector: a vendor
    no longer shows an effect the desk delivered."""


DESK_RAISED: frozenset[ExceptionType] = frozenset({ExceptionType.VENDOR_MISMATCH})
"""Types the desk raises from its own checks, never from an order's events: no detector
judges them and the simulator does not inject them."""


class CaseStatus(StrEnum):
    NEW = "new"
    TRIAGED = "triaged"
    AWAITING_APPROVAL = "awaiting_approval"
    APPROVED = "approved"
    EXECUTING = "executing"
    RESOLVED = "resolved"
    FAILED = "failed"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    SNOOZED = "snoozed"
    REOPENED = "reopened"


CLOSED_STATUSES: frozenset[CaseStatus] = frozenset({CaseStatus.RESOLVED, CaseStatus.REJECTED})
"""A closed case no longer blocks a new one for the same order and cause."""

_WORKING = {CaseStatus.NEW, CaseStatus.TRIAGED, CaseStatus.ESCALATED, CaseStatus.REOPENED}

TRANSITIONS: dict[CaseStatus, frozenset[CaseStatus]] = {
    CaseStatus.NEW: frozenset(
        {
            CaseStatus.TRIAGED,
            CaseStatus.AWAITING_APPROVAL,
            CaseStatus.ESCALATED,
            CaseStatus.SNOOZED,
            CaseStatus.RESOLVED,
            CaseStatus.REJECTED,
        }
    ),
    CaseStatus.TRIAGED: frozenset(
        {
            CaseStatus.AWAITING_APPROVAL,
            CaseStatus.ESCALATED,
            CaseStatus.SNOOZED,
            CaseStatus.RESOLVED,
            CaseStatus.REJECTED,
        }
    ),
    CaseStatus.AWAITING_APPROVAL: frozenset(
        {CaseStatus.APPROVED, CaseStatus.REJECTED, CaseStatus.ESCALATED, CaseStatus.RESOLVED}
    ),
    CaseStatus.APPROVED: frozenset({CaseStatus.EXECUTING, CaseStatus.RESOLVED}),
    CaseStatus.EXECUTING: frozenset({CaseStatus.RESOLVED, CaseStatus.FAILED}),
    CaseStatus.FAILED: frozenset({CaseStatus.TRIAGED, CaseStatus.ESCALATED, CaseStatus.RESOLVED}),
    CaseStatus.ESCALATED: frozenset(
        {
            CaseStatus.TRIAGED,
            CaseStatus.AWAITING_APPROVAL,
            CaseStatus.SNOOZED,
            CaseStatus.RESOLVED,
            CaseStatus.REJECTED,
        }
    ),
    CaseStatus.SNOOZED: frozenset(
        {CaseStatus.TRIAGED, CaseStatus.ESCALATED, CaseStatus.RESOLVED, CaseStatus.REOPENED}
    ),
    CaseStatus.RESOLVED: frozenset({CaseStatus.REOPENED}),
    CaseStatus.REJECTED: frozenset({CaseStatus.REOPENED}),
    CaseStatus.REOPENED: frozenset(
        {
            CaseStatus.TRIAGED,
            CaseStatus.AWAITING_APPROVAL,
            CaseStatus.ESCALATED,
            CaseStatus.SNOOZED,
            CaseStatus.RESOLVED,
            CaseStatus.REJECTED,
        }
    ),
}


def check_transition(current: CaseStatus, target: CaseStatus) -> CaseStatus:
    """Return ``target`` if the move is allowed; raise ``IllegalTransition`` otherwise."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"a case cannot move from {current} to {target}")
    return target


def is_open(status: CaseStatus) -> bool:
    return status not in CLOSED_STATUSES


def can_auto_resolve(status: CaseStatus) -> bool:
    """A blocker clearing resolves the case only while no human decision is under way."""
    return status in _WORKING or status is CaseStatus.SNOOZED
