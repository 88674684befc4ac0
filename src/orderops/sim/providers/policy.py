"""The simulated store's fulfillment policy, as the retailer would hand it to the desk.

The same document drives the store (when parcels must leave and arrive), the desk (the
eval loads ``policy.yaml`` as a retailer would) and the reference reader (promises and
thresholds), so all three read one set of numbers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import yaml

from orderops.sim.providers import spec
from orderops.sim.providers.promise import StorePolicy, read_policy

TIMEZONE = "America/New_York"
HOLIDAYS = (date(2025, 5, 26), date(2025, 6, 19), date(2025, 7, 4), date(2025, 9, 1))
"""US federal holidays the warehouses close for (Memorial Day to Labor Day)."""

WINDOWS: dict[str, dict[str, Any]] = {
    "standard": {"handling_days": 1, "transit_days": 4, "cutoff": "14:00"},
    "expedited": {"handling_days": 1, "transit_days": 2, "cutoff": "14:00"},
    "express": {"handling_days": 0, "transit_days": 1, "cutoff": "12:00"},
}
SERVICE_LEVELS = {
    "standard": "standard",
    "Standard Shipping": "standard",
    "expedited": "expedited",
    "Expedited Shipping": "expedited",
    "express": "express",
    "Express Shipping": "express",
}

_HEADER = """\
# Fulfillment policy of the simulated store (orderops sim --format webhooks).
# Promises: day zero is the order's local day if it is a business day and the order came
# before the cut-off, else the next business day; the parcel leaves by the end of the
# handling_days-th business day after it and arrives by the end of the
# (handling_days + transit_days)-th. Weekends and the holidays below are not business days.
"""


def policy_document() -> dict[str, Any]:
    return {
        "timezone": TIMEZONE,
        "promise_windows": {
            name: {
                "business_days": w["handling_days"] + w["transit_days"],
                "handling_days": w["handling_days"],
                "transit_days": w["transit_days"],
                "cutoff": w["cutoff"],
            }
            for name, w in WINDOWS.items()
        },
        "service_levels": dict(SERVICE_LEVELS),
        "default_window": "standard",
        "holidays": list(HOLIDAYS),
        "substitutions": {
            "allowed_categories": ["apparel", "footwear", "home", "kitchen", "outdoor"],
            "max_price_increase_pct": 10,
        },
        "refund_limits": {
            "currency": "USD",
            "auto_approve_under_minor": 2500,
            "finance_approval_over_minor": 25000,
        },
        "detectors": {
            "payment_failed": {
                "thresholds": {"grace_minutes": spec.PAYMENT_RECOVERY.total_seconds() / 60}
            },
            "payment_hold": {
                "thresholds": {"capture_wait_hours": spec.CAPTURE_WAIT.total_seconds() / 3600}
            },
            "authorization_expiring": {
                "thresholds": {
                    "expiry_days": spec.AUTH_EXPIRY.days,
                    "warn_hours": spec.AUTH_WARNING.total_seconds() / 3600,
                }
            },
            "refund_pending": {
                "thresholds": {"refund_hours": spec.REFUND_WAIT.total_seconds() / 3600}
            },
            "substitution_needed": {
                "thresholds": {"after_hours": spec.SUBSTITUTE_AFTER.total_seconds() / 3600}
            },
            "pre_dispatch_delay": {
                "thresholds": {"first_scan_hours": spec.FIRST_SCAN_WAIT.total_seconds() / 3600}
            },
            "stuck_order": {
                "thresholds": {
                    "awaiting_payment_hours": spec.PAYMENT_OUTCOME_WAIT.total_seconds() / 3600
                }
            },
            "customer_chasing": {
                "thresholds": {
                    "tickets": spec.CHASING_TICKETS,
                    "window_hours": spec.CHASING_WINDOW.total_seconds() / 3600,
                }
            },
            "shipment_late": {"thresholds": {"grace_hours": 0}},
        },
    }


def policy_yaml() -> str:
    return _HEADER + yaml.safe_dump(policy_document(), sort_keys=False, allow_unicode=True)


def store_policy() -> StorePolicy:
    return read_policy(policy_document())
