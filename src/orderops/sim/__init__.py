"""A deterministic store simulator with ground-truth labels, for the demo, tests and evaluation.

It plays a small US retailer (catalogue, three warehouses, four carriers, repeat
customers) and emits canonical events as Shopify, Stripe, EasyPost and Zendesk would,
with payment failures and late shipments injected at configured rates. The labels say
which cases a perfect desk would open, derived from the emitted events themselves.
"""

from orderops.sim.config import SimConfig
from orderops.sim.files import read_events, read_identities, read_labels, write_sim
from orderops.sim.labels import Label, derive_labels
from orderops.sim.runner import SimResult, simulate

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
