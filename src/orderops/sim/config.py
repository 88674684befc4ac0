"""What the simulated store looks like: one frozen value, so a run is reproducible from it alone.

The observed window is ``[start, end]``. Orders are also placed during ``history_days``
before ``start`` so that shipments and promises come due inside the window, as they
would for a desk switched on in a store that was already trading.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from orderops.domain.cases import ExceptionType
from orderops.domain.clock import ensure_utc

DEFAULT_START = datetime(2024, 6, 3, tzinfo=UTC)
"""A fixed Monday, so that the default configuration never depends on the wall clock."""


LEGACY_TYPES = frozenset({ExceptionType.PAYMENT_FAILED, ExceptionType.SHIPMENT_LATE})
"""Always labelled: the simulator's first two types, injected by their own rate fields."""


@dataclass(frozen=True)
class SimConfig:
    seed: int = 7
    start: datetime = field(default=DEFAULT_START)
    days: float = 1.0
    history_days: int = 6
    orders_per_day: int = 150
    payment_failed_rate: float = 0.04
    payment_recovery_share: float = 0.5
    late_rate: float = 0.05
    tenant: str = "demo"
    duplicate_customer_rate: float = 0.0
    """Share of returning shoppers who come back under a second account (see sim.duplicates)."""
    rates: Mapping[str, float] = field(default_factory=dict)
    """Injection rate per exception type (``sim.inject``): the share of clean orders given
    that exception (for ``integration_silence``, the chance of one source outage). Every
    type named here is also labelled; unnamed types are neither injected nor labelled, so
    a configuration without ``rates`` gives the same events and labels as before."""

    def __post_init__(self) -> None:
        # Normalise to UTC once, so every derived time is UTC too.
        object.__setattr__(self, "start", ensure_utc(self.start))
        if self.days <= 0:
            raise ValueError("days must be positive")
        if self.history_days < 0:
            raise ValueError("history_days must not be negative")
        if self.orders_per_day < 0:
            raise ValueError("orders_per_day must not be negative")
        for name in (
            "payment_failed_rate",
            "payment_recovery_share",
            "late_rate",
            "duplicate_customer_rate",
        ):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {value}")
        for name, value in self.rates.items():
            if name not in ExceptionType.__members__.values():
                raise ValueError(f"rates: unknown exception type {name!r}")
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"rates.{name} must be between 0 and 1, got {value}")
        object.__setattr__(self, "rates", dict(sorted(self.rates.items())))
        if not self.tenant:
            raise ValueError("tenant must not be empty")

    @property
    def labelled_types(self) -> frozenset[ExceptionType]:
        return LEGACY_TYPES | {ExceptionType(name) for name in self.rates}

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @property
    def history_start(self) -> datetime:
        return self.start - timedelta(days=self.history_days)
