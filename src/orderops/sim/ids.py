"""Identifiers in each source system's own format, drawn from the run's seeded generator.

Never ``uuid4()`` or the clock: the same seed must produce byte-identical files, and the
formats must look like the real systems' (Stripe ``pi_...``, UPS ``1Z...``) because
parsers and matchers downstream are tested against them.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable

_UPPER_ALNUM = string.ascii_uppercase + string.digits
_STRIPE_CHARS = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"


class IdFactory:
    """Hands out identifiers that are unique within one run."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()
        self._order_id = 5_480_112_000_000
        self._customer_id = 7_021_330_000_000
        self._order_number = 1000
        self._ticket_number = 48_200

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self._seen:
                self._seen.add(value)
                return value

    def _chars(self, alphabet: str, count: int) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(count))

    def _digits(self, count: int) -> str:
        return self._chars(string.digits, count)

    # Shopify: numeric ids growing with gaps, "#1001"-style order names, UUID webhook ids.
    def order_ref(self) -> str:
        self._order_id += self._rng.randint(1_000, 90_000)
        return str(self._order_id)

    def order_number(self) -> str:
        self._order_number += 1
        return f"#{self._order_number}"

    def customer_ref(self) -> str:
        self._customer_id += self._rng.randint(1_000, 90_000)
        return str(self._customer_id)

    def shopify_event_id(self) -> str:
        return self._unique(lambda: str(uuid.UUID(int=self._rng.getrandbits(128), version=4)))

    # Stripe
    def payment_ref(self) -> str:
        return self._unique(lambda: "pi_" + self._chars(_STRIPE_CHARS, 24))

    def stripe_event_id(self) -> str:
        return self._unique(lambda: "evt_" + self._chars(_STRIPE_CHARS, 24))

    # EasyPost
    def shipment_ref(self) -> str:
        return self._unique(lambda: "shp_" + self._chars(_HEX, 32))

    def easypost_event_id(self) -> str:
        return self._unique(lambda: "evt_" + self._chars(_HEX, 32))

    def tracking_number(self, carrier: str) -> str:
        makers: dict[str, Callable[[], str]] = {
            # UPS: "1Z", 6-character shipper number, 2-digit service, 8-digit package id.
            "UPS": lambda: "1Z" + self._chars(_UPPER_ALNUM, 6) + "03" + self._digits(8),
            # USPS IMpb: 22 digits starting "94".
            "USPS": lambda: "94" + self._digits(20),
            "FedEx": lambda: self._rng.choice("27") + self._digits(11),
            "DHL": lambda: self._rng.choice("123456789") + self._digits(9),
        }
        return self._unique(makers[carrier])

    # Zendesk
    def ticket_ref(self) -> str:
        self._ticket_number += self._rng.randint(1, 40)
        return str(self._ticket_number)

    def zendesk_event_id(self) -> str:
        return self._unique(lambda: "zd-" + self._digits(14))
