"""Whether a playbook rule's conditions hold for a case, and which facts said so.

The facts each condition looked at are returned with the answer, because a rationale
that says "VIP, 4.2 days late, not delivered" is one a reviewer can check at a glance.
"""

from __future__ import annotations

from dataclasses import dataclass

from orderops.recommend.facts import CaseFacts
from orderops.recommend.playbook import Conditions


@dataclass(frozen=True)
class Match:
    holds: bool
    facts_used: dict[str, object]
    failed: str | None = None


def evaluate(when: Conditions, facts: CaseFacts, *, substitute_available: bool) -> Match:
    """Check every given condition; the first failing one is named."""
    shipment = facts.latest_shipment
    values: dict[str, object] = {
        "days_late": round(facts.days_late, 2),
        "tier": facts.customer_tier,
        "delivered": facts.delivered,
        "has_shipment": bool(facts.shipments),
        "shipment_status": str(shipment.status) if shipment else None,
        "captured": facts.captured,
        "authorized": facts.authorized,
        "refundable_minor": facts.refundable_minor,
        "fraud_score": facts.fraud_score,
        "disputed": facts.dispute_ref is not None,
        "order_total_minor": facts.total_minor,
        "substitute_available": substitute_available,
        "address_verified": facts.address_verified,
        "customer_contacted": bool(facts.tickets),
        "line_count": len(facts.lines),
    }
    checks: list[tuple[str, str, bool]] = []

    def check(condition: str, fact: str, ok: bool) -> None:
        checks.append((condition, fact, ok))

    if when.days_late_over is not None:
        check("days_late_over", "days_late", facts.days_late > when.days_late_over)
    if when.days_late_at_most is not None:
        check("days_late_at_most", "days_late", facts.days_late <= when.days_late_at_most)
    if when.tier_in is not None:
        check("tier_in", "tier", facts.customer_tier in when.tier_in)
    if when.tier_not_in is not None:
        check("tier_not_in", "tier", facts.customer_tier not in when.tier_not_in)
    if when.delivered is not None:
        check("delivered", "delivered", facts.delivered is when.delivered)
    if when.has_shipment is not None:
        check("has_shipment", "has_shipment", bool(facts.shipments) is when.has_shipment)
    if when.shipment_status_in is not None:
        check(
            "shipment_status_in",
            "shipment_status",
            shipment is not None and shipment.status in when.shipment_status_in,
        )
    if when.captured is not None:
        check("captured", "captured", facts.captured is when.captured)
    if when.authorized is not None:
        check("authorized", "authorized", facts.authorized is when.authorized)
    if when.refundable is not None:
        check("refundable", "refundable_minor", (facts.refundable_minor > 0) is when.refundable)
    score = facts.fraud_score or 0.0
    if when.fraud_score_over is not None:
        check("fraud_score_over", "fraud_score", score > when.fraud_score_over)
    if when.fraud_score_at_most is not None:
        check("fraud_score_at_most", "fraud_score", score <= when.fraud_score_at_most)
    if when.disputed is not None:
        check("disputed", "disputed", (facts.dispute_ref is not None) is when.disputed)
    if when.order_total_over_minor is not None:
        check(
            "order_total_over_minor",
            "order_total_minor",
            facts.total_minor > when.order_total_over_minor,
        )
    if when.order_total_at_most_minor is not None:
        check(
            "order_total_at_most_minor",
            "order_total_minor",
            facts.total_minor <= when.order_total_at_most_minor,
        )
    if when.substitute_available is not None:
        check(
            "substitute_available",
            "substitute_available",
            substitute_available is when.substitute_available,
        )
    if when.address_verified is not None:
        # Never checked counts as verified; only a failed check is a failure.
        verified = facts.address_verified is not False
        check("address_verified", "address_verified", verified is when.address_verified)
    if when.customer_contacted is not None:
        check(
            "customer_contacted",
            "customer_contacted",
            bool(facts.tickets) is when.customer_contacted,
        )
    if when.multi_line is not None:
        check("multi_line", "line_count", (len(facts.lines) > 1) is when.multi_line)
    used = {fact: values[fact] for _, fact, _ in checks}
    for condition, _, ok in checks:
        if not ok:
            return Match(False, used, failed=condition)
    return Match(True, used)
