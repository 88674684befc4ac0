"""Identifiers in each provider's own format, from the run's seeded generator.

Shopify ids are large integers that grow with gaps (as a real shop's do), Stripe ids
carry their object prefix, EasyPost ids theirs; never ``uuid4()`` or the clock, so one
seed gives byte-identical files.
"""

from __future__ import annotations

import random
import string
import uuid
from collections.abc import Callable

from orderops.sim.ids import IdFactory

_ALNUM = string.ascii_letters + string.digits
_HEX = "0123456789abcdef"

_SHOPIFY_START: dict[str, int] = {
    "order": 6_102_334_000_000,
    "checkout": 34_561_200_000_000,
    "line_item": 15_804_110_000_000,
    "fulfillment": 5_412_880_000_000,
    "refund": 948_221_000_000,
    "transaction": 7_330_118_000_000,
    "product": 8_801_402_000_000,
    "variant": 45_120_330_000_000,
    "inventory_item": 47_288_710_000_000,
    "fulfillment_order": 6_890_102_000_000,
    "address": 9_120_004_000_000,
}


class ProviderIds:
    """Hands out ids unique within one run, per provider convention."""

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng
        self._seen: set[str] = set()
        self._next = dict(_SHOPIFY_START)
        self.legacy = IdFactory(rng)
        """The canonical simulator's factory: customers and carrier tracking numbers."""

    def _unique(self, make: Callable[[], str]) -> str:
        while True:
            value = make()
            if value not in self._seen:
                self._seen.add(value)
                return value

    def _chars(self, alphabet: str, count: int) -> str:
        return "".join(self._rng.choice(alphabet) for _ in range(count))

    def shopify(self, kind: str) -> int:
        self._next[kind] += self._rng.randint(1_000, 60_000)
        return self._next[kind]

    def token(self) -> str:
        """Shopify checkout / cart / order tokens: 32 lower-case hex characters."""
        return self._unique(lambda: self._chars(_HEX, 32))

    def uuid(self) -> str:
        return self._unique(lambda: str(uuid.UUID(int=self._rng.getrandbits(128), version=4)))

    def stripe(self, prefix: str) -> str:
        return self._unique(lambda: f"{prefix}_3P" + self._chars(_ALNUM, 22))

    def easypost(self, prefix: str) -> str:
        return self._unique(lambda: f"{prefix}_" + self._chars(_HEX, 32))

    def hex(self, count: int) -> str:
        return self._unique(lambda: self._chars(_HEX, count))

    def digits(self, count: int) -> str:
        return self._unique(
            lambda: str(self._rng.randint(1, 9)) + self._chars(string.digits, count - 1)
        )

    def tracking(self, carrier: str) -> str:
        return self.legacy.tracking_number(carrier)
