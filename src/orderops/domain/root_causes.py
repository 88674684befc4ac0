"""What a case shares with other cases: its recurrence keys and its incident key. Pure.

Recurrence keys say what a case is about (customer, SKUs, carrier lane, warehouse,
payment failure) so repeats can be counted per dimension. The incident key is the one
root cause many cases may share at once: the same exception type on the same carrier
lane, from the same warehouse, or with the same payment provider failure code. A storm
of 500 late parcels from one stalled lane then shares one key and becomes one incident.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum

from orderops.domain.cases import ExceptionType


class Dimension(StrEnum):
    CUSTOMER = "customer"
    SKU = "sku"
    LANE = "lane"
    WAREHOUSE = "warehouse"
    PAYMENT = "payment"


@dataclass(frozen=True, kw_only=True)
class CaseContext:
    """The facts of a case's order that decide what it shares with other cases."""

    exception_type: str
    customer_id: str | None = None
    skus: tuple[str, ...] = ()
    carrier: str | None = None
    origin: str | None = None
    destination_region: str | None = None
    warehouse: str | None = None
    payment_provider: str | None = None
    failure_code: str | None = None

    @property
    def lane(self) -> str | None:
        """carrier:origin:destination, or None when the parcel has not left yet."""
        if not self.carrier:
            return None
        return ":".join([self.carrier, self.origin or "?", self.destination_region or "?"])

    @property
    def payment_failure(self) -> str | None:
        if not self.payment_provider or not self.failure_code:
            return None
        return f"{self.payment_provider}:{self.failure_code}"


def recurrence_keys(context: CaseContext) -> list[tuple[Dimension, str]]:
    """Every (dimension, value) the case is about; SKUs give one key each."""
    keys: list[tuple[Dimension, str]] = []
    if context.customer_id:
        keys.append((Dimension.CUSTOMER, context.customer_id))
    keys += [(Dimension.SKU, sku) for sku in sorted(set(context.skus))]
    for dimension, value in (
        (Dimension.LANE, context.lane),
        (Dimension.WAREHOUSE, context.warehouse),
        (Dimension.PAYMENT, context.payment_failure),
    ):
        if value:
            keys.append((dimension, value))
    return keys


_LANE_TYPES = frozenset(
    {
        ExceptionType.SHIPMENT_LATE,
        ExceptionType.SHIPMENT_DELAY_PREDICTED,
        ExceptionType.CARRIER_EXCEPTION,
    }
)
_WAREHOUSE_TYPES = frozenset(
    {
        ExceptionType.INVENTORY_SHORTFALL,
        ExceptionType.SUBSTITUTION_NEEDED,
        ExceptionType.PRE_DISPATCH_DELAY,
        ExceptionType.STUCK_ORDER,
        ExceptionType.PARTIAL_FULFILLMENT_OVERDUE,
    }
)
_PAYMENT_TYPES = frozenset(
    {
        ExceptionType.PAYMENT_FAILED,
        ExceptionType.PAYMENT_HOLD,
        ExceptionType.AUTHORIZATION_EXPIRING,
        ExceptionType.DUPLICATE_CHARGE,
        ExceptionType.REFUND_PENDING,
    }
)


@dataclass(frozen=True)
class IncidentKey:
    key: str
    dimension: Dimension
    value: str

    def summary(self, exception_type: str) -> str:
        return f"{exception_type.replace('_', ' ')} on {self.dimension} {self.value}"


def incident_key(context: CaseContext) -> IncidentKey | None:
    """The root cause the case may share, or None for causes that are one order's own
    (fraud review, a customer chasing) or when the shared thing is unknown.

    A late order that never shipped has no lane; its warehouse is the shared cause.
    """
    kind = context.exception_type
    candidates: list[tuple[Dimension, str | None]] = []
    if kind in _LANE_TYPES:
        candidates = [(Dimension.LANE, context.lane), (Dimension.WAREHOUSE, context.warehouse)]
    elif kind in _WAREHOUSE_TYPES:
        candidates = [(Dimension.WAREHOUSE, context.warehouse)]
    elif kind in _PAYMENT_TYPES:
        candidates = [(Dimension.PAYMENT, context.payment_failure)]
    for dimension, value in candidates:
        if value:
            return IncidentKey(f"{kind}|{dimension}:{value}", dimension, value)
    return None


@dataclass(frozen=True, kw_only=True)
class StormRule:
    """How many open cases with one key, opened within ``window``, make an incident."""

    min_cases: int = 5
    window: timedelta = timedelta(hours=24)


DEFAULT_STORM_RULE = StormRule()

RECURRENCE_WINDOWS: dict[str, timedelta] = {
    "7d": timedelta(days=7),
    "30d": timedelta(days=30),
    "90d": timedelta(days=90),
}
"""The rolling windows recurrence is counted over."""
