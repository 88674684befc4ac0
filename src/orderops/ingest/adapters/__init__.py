"""Webhook adapters: one module per provider, one explicit registry.

Each adapter is pure: it checks a signature and maps raw bytes to canonical envelope
dicts. Storing the raw payload first, deduplicating and dead-lettering belong to the
intake that calls these, so adapters stay testable with nothing but fixtures.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, Protocol

from orderops.ingest.adapters.aftership import AfterShipAdapter
from orderops.ingest.adapters.common import UnsupportedEvent
from orderops.ingest.adapters.easypost import EasyPostAdapter
from orderops.ingest.adapters.shippo import ShippoAdapter
from orderops.ingest.adapters.shopify import ShopifyAdapter
from orderops.ingest.adapters.stripe import StripeAdapter
from orderops.ingest.adapters.zendesk import ZendeskAdapter


class WebhookAdapter(Protocol):
    source: str

    def verify(
        self, *, headers: Mapping[str, str], body: bytes, secret: str, now: datetime
    ) -> None:
        """Raise ``SignatureError`` (an ``Unauthorized``) with a reason, or return."""

    def to_events(self, *, headers: Mapping[str, str], body: bytes) -> list[dict[str, Any]]:
        """Canonical envelope dicts; [] when the event is known but irrelevant.

        Raises ``InvalidEvent`` for malformed payloads and ``UnsupportedEvent`` for an
        unknown topic or type.
        """


ADAPTERS: dict[str, WebhookAdapter] = {
    adapter.source: adapter
    for adapter in (
        ShopifyAdapter(),
        StripeAdapter(),
        EasyPostAdapter(),
        ShippoAdapter(),
        AfterShipAdapter(),
        ZendeskAdapter(),
    )
}

__all__ = ["ADAPTERS", "UnsupportedEvent", "WebhookAdapter"]
