"""Local stand-ins for the external systems OrderOps writes back to.

Each module serves one vendor's API shape (Stripe, Shopify Admin REST, EasyPost, a generic
WMS, a CRM, Zendesk) from an in-process FastAPI app. They exist so the connectors, the
writeback tests and the demo exercise real HTTP, real authentication and the vendors'
idempotency rules, and so tests can inject the faults (rate limits, 5xx, timeouts,
crash after effect) that make double effects possible in production.
"""

from orderops.sandbox.control import SandboxControl
from orderops.sandbox.faults import Fault, FaultKind
from orderops.sandbox.ledger import Ledger, LedgerEntry
from orderops.sandbox.runner import AppSlot, run_sandbox

__all__ = [
    "AppSlot",
    "Fault",
    "FaultKind",
    "Ledger",
    "LedgerEntry",
    "SandboxControl",
    "run_sandbox",
]
