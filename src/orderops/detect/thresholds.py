"""Default thresholds of every detector, and the per-tenant view the policy overrides.

The defaults are the written rules the simulator's labels follow too, so a tenant
without a policy gets exactly the behaviour the evaluation measured. A policy may
switch a detector off or change any of its numbers; names it does not know are
refused here rather than silently ignored.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from orderops.domain.cases import ExceptionType
from orderops.domain.policy import FulfillmentPolicy, InvalidPolicy

T = ExceptionType

DEFAULTS: Mapping[ExceptionType, Mapping[str, float]] = MappingProxyType(
    {
        T.PAYMENT_FAILED: {"grace_minutes": 30},
        T.PAYMENT_HOLD: {"capture_wait_hours": 48},
        T.AUTHORIZATION_EXPIRING: {"expiry_days": 7, "warn_hours": 24},
        T.FRAUD_REVIEW: {"risk_score": 75},
        T.DUPLICATE_CHARGE: {},
        T.REFUND_PENDING: {"refund_hours": 48},
        T.INVENTORY_SHORTFALL: {},
        T.SUBSTITUTION_NEEDED: {"after_hours": 24},
        T.SHIPMENT_DELAY_PREDICTED: {"recheck_hours": 6},
        T.SHIPMENT_LATE: {"grace_hours": 0},
        T.PRE_DISPATCH_DELAY: {"first_scan_hours": 24},
        T.CARRIER_EXCEPTION: {"pickup_days": 5},
        T.ADDRESS_PROBLEM: {"change_request_min_confidence": 0.75},
        T.STUCK_ORDER: {"awaiting_payment_hours": 6, "awaiting_fulfillment_hours": 48},
        T.PARTIAL_FULFILLMENT_OVERDUE: {"remaining_days": 2},
        T.CUSTOMER_CHASING: {"tickets": 3, "window_hours": 72},
        T.CANCEL_REQUESTED: {"min_confidence": 0.75},
        T.INTEGRATION_SILENCE: {
            "gap_factor": 10,
            "min_silence_hours": 12,
            "min_events": 168,
            "lookback_days": 7,
        },
    }
)


@dataclass(frozen=True)
class DetectorConfig:
    """Which detectors run for a tenant and with which numbers."""

    disabled: frozenset[ExceptionType] = frozenset()
    overrides: Mapping[ExceptionType, Mapping[str, float]] = field(default_factory=dict)
    policy_version: int | None = None

    def enabled(self, exception_type: ExceptionType) -> bool:
        return exception_type not in self.disabled

    def thresholds(self, exception_type: ExceptionType) -> dict[str, float]:
        return {**DEFAULTS[exception_type], **self.overrides.get(exception_type, {})}


DEFAULT_CONFIG = DetectorConfig()


def unknown_thresholds(policy: FulfillmentPolicy) -> list[str]:
    """Threshold names the policy sets that its detector does not have, by path."""
    problems = []
    for exception_type, settings in policy.detectors.items():
        known = DEFAULTS[exception_type]
        for name in settings.thresholds:
            if name not in known:
                names = ", ".join(sorted(known)) or "none"
                problems.append(
                    f"detectors.{exception_type}.thresholds.{name}: "
                    f"is not a threshold of this detector (known: {names})"
                )
    return problems


def config_from_policy(
    policy: FulfillmentPolicy, *, version: int | None = None, strict: bool = True
) -> DetectorConfig:
    """The detector view of a stored policy.

    ``strict`` refuses unknown threshold names with ``InvalidPolicy`` (for loading a
    file); detection runs non-strict and ignores them, because a policy already stored
    must never stop events from being processed.
    """
    problems = unknown_thresholds(policy)
    if problems and strict:
        raise InvalidPolicy(problems)
    return DetectorConfig(
        disabled=frozenset(t for t, s in policy.detectors.items() if not s.enabled),
        overrides={
            t: {k: v for k, v in s.thresholds.items() if k in DEFAULTS[t]}
            for t, s in policy.detectors.items()
        },
        policy_version=version,
    )
