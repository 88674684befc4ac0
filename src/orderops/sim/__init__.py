"""A deterministic store simulator with ground-truth labels, for the demo, tests and evaluation.

It plays a small US retailer (catalogue, three warehouses, four carriers, repeat
customers) and emits canonical events as Shopify, Stripe, EasyPost and Zendesk would,
with payment failures and late shipments injected at configured rates. The labels say
which cases a perfect desk would open, derived from the emitted events themselves.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from orderops.sim.config import SimConfig
    from orderops.sim.files import read_events, read_identities, read_labels, write_sim
    from orderops.sim.labels import Label, derive_labels
    from orderops.sim.runner import SimResult, simulate

_HOMES = {
    "SimConfig": "orderops.sim.config",
    "read_events": "orderops.sim.files",
    "read_identities": "orderops.sim.files",
    "read_labels": "orderops.sim.files",
    "write_sim": "orderops.sim.files",
    "Label": "orderops.sim.labels",
    "derive_labels": "orderops.sim.labels",
    "SimResult": "orderops.sim.runner",
    "simulate": "orderops.sim.runner",
}
"""Loaded on first use, so that importing ``orderops.sim.providers`` (whose reference
reader must not touch the detectors) does not load the canonical simulator's labels,
which share the detectors' thresholds."""


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'orderops.sim' has no attribute {name!r}")
    return getattr(import_module(_HOMES[name]), name)


__all__ = [
    "Label",
    "SimConfig",
    "SimResult",
    "derive_labels",
    "read_events",
    "read_identities",
    "read_labels",
    "simulate",
    "write_sim",
]
