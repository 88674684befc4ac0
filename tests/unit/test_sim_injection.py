"""Injecting the newer exception types: off unless asked, labelled only when named,
and never labelling an order nobody injected."""

from __future__ import annotations

from collections import Counter

import pytest

from orderops.domain.cases import DESK_RAISED, ExceptionType
from orderops.sim import SimConfig, simulate
from orderops.sim.config import LEGACY_TYPES

NEW_TYPES = sorted(str(t) for t in ExceptionType if t not in LEGACY_TYPES | DESK_RAISED)
SMALL = {"seed": 4, "days": 0.5, "history_days": 6, "orders_per_day": 30}


def test_a_config_without_rates_renders_what_it_always_did() -> None:
    plain = simulate(SimConfig(**SMALL))
    named_but_zero = simulate(SimConfig(**SMALL, rates=dict.fromkeys(NEW_TYPES, 0.0)))
    assert plain.events == named_but_zero.events
    assert {label.type for label in plain.labels} <= LEGACY_TYPES


def test_orders_nobody_injected_are_never_labelled() -> None:
    quiet = SimConfig(
        **SMALL,
        payment_failed_rate=0.0,
        late_rate=0.0,
        rates=dict.fromkeys(NEW_TYPES, 0.0),
    )
    assert simulate(quiet).labels == []


@pytest.mark.parametrize("kind", NEW_TYPES)
def test_each_type_injected_alone_is_labelled(kind: str) -> None:
    rate = 1.0 if kind == ExceptionType.INTEGRATION_SILENCE else 0.3
    config = SimConfig(
        seed=4, orders_per_day=30, payment_failed_rate=0.0, late_rate=0.0, rates={kind: rate}
    )
    result = simulate(config)
    counts = Counter(str(label.type) for label in result.labels)
    assert counts[kind] >= 1
    # Only the named type is labelled, besides lateness (always labelled) that a held,
    # unscanned or split order may really suffer; nothing else was injected to be late.
    assert set(counts) <= {kind, "shipment_late"}, counts


@pytest.mark.parametrize(
    ("rates", "problem"),
    [({"no_such_type": 0.1}, "unknown exception type"), ({"payment_hold": 1.5}, "between 0 and 1")],
)
def test_rates_are_validated(rates: dict[str, float], problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SimConfig(rates=rates)
