"""Builders for tenant policies: the shipped example with the detector settings a test needs."""

from __future__ import annotations

from typing import Any

from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.policy import parse_policy
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file, store_policy

DECLINES_AT_ONCE: dict[str, Any] = {"payment_failed": {"thresholds": {"grace_minutes": 0}}}
"""A decline opens its case from its own event, as before the grace existed."""


def store_detectors(
    app: App, clock: FixedClock, detectors: dict[str, Any], *, tenant: str = "acme"
) -> None:
    """Store the example policy for ``tenant`` with ``detectors`` as its detector settings."""
    document = load_policy_file(EXAMPLE_POLICY).model_dump(mode="json")
    document["detectors"] = detectors
    store_policy(
        app.sessions, tenant_id=tenant, policy=parse_policy(document), actor="test", clock=clock
    )
