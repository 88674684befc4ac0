"""The alias store: every name a provider gives an entity, and the entity it names.

An entity registers its names when it is projected (an order its ref, number, checkout
token; a payment its PaymentIntent and charges; a shipment its tracking code), so a
record that arrives later naming it any of those ways finds it. Keys are stored
normalised (``domain.aliases.normalise``): "#1001" and "1001", "1Z 999" and "1z999" meet.

Registering is idempotent (the database's unique key decides) and answers with the keys
that are new, because a new key is what a waiting record may be waiting for.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from orderops.domain.aliases import Entity, UnknownKeyKind, alias_key, kind_of, normalise
from orderops.domain.errors import InvalidEvent
from orderops.domain.events import ExternalKey
from orderops.storage.repositories.resolve import ResolveRepository

KEY_MAX = 200
"""The longest key the alias table holds (``entity_aliases.key``)."""

Target = tuple[str, str]
"""(entity_type, entity_ref): what an alias names."""

RENAMEABLE = frozenset({Entity.SKU})
"""Entities whose provider ids may move to another entity of the kind: a variant or an
inventory item whose SKU was edited now names the new SKU, not both."""


def known_kind(kind: str) -> Entity:
    """The entity a key kind names; an unknown kind is the sender's mistake, said plainly."""
    try:
        return kind_of(kind).entity
    except UnknownKeyKind as exc:
        raise InvalidEvent(f"{exc} (resolve knows the kinds in domain.aliases.KEY_KINDS)") from None


def key_of(kind: str, value: str) -> str | None:
    """``kind:normalised``, or None for a value with nothing left to compare (or one too
    long for any key column)."""
    known_kind(kind)
    normal = normalise(kind, value)
    return alias_key(kind, value) if normal is not None and len(normal) <= KEY_MAX else None


class AliasStore:
    """Register and look up aliases in the caller's transaction."""

    def __init__(self, repo: ResolveRepository) -> None:
        self._repo = repo

    def register(
        self,
        kind: str,
        value: str,
        entity_type: str,
        entity_ref: str,
        source: str,
        inbox_id: str | None,
        now: datetime,
    ) -> list[str]:
        """Record that ``kind`` ``value`` names the entity; the alias keys newly registered.

        The alias names the entity it is registered on, even when its kind usually names
        another type (a Shopify order lists its transactions among its names): a record
        quoting that key is followed to this entity, and from it to its order.
        """
        entity = known_kind(kind)
        key = normalise(kind, value)
        if key is None or len(key) > KEY_MAX:
            return []  # nothing to compare, or longer than any real key (a 320-char email)
        if entity in RENAMEABLE:
            self._repo.drop_aliases(kind, key, keep=(entity_type, entity_ref))
        new = self._repo.add_alias(
            kind=kind,
            key=key,
            entity_type=entity_type,
            entity_ref=entity_ref,
            source=source,
            inbox_id=inbox_id,
            now=now,
        )
        return [f"{kind}:{key}"] if new else []

    def register_all(
        self,
        names: Iterable[tuple[str, str]],
        *,
        entity_type: str,
        entity_ref: str,
        source: str,
        inbox_id: str | None,
        now: datetime,
    ) -> list[str]:
        """Register each (kind, value); the new alias keys, in the order given."""
        new: list[str] = []
        for kind, value in names:
            new += self.register(kind, value, entity_type, entity_ref, source, inbox_id, now)
        return new

    def lookup(self, kind: str, value: str) -> list[Target]:
        """The entities ``kind`` ``value`` names: none yet, one, or (a non-exclusive kind
        such as an order number) several."""
        known_kind(kind)
        key = normalise(kind, value)
        if key is None or len(key) > KEY_MAX:
            return []
        return [(row.entity_type, row.entity_ref) for row in self._repo.aliases(kind, key)]

    def keys_of(self, entity_type: str, entity_ref: str) -> list[str]:
        """Every alias key naming the entity (records waiting on any of them may now go)."""
        return [f"{row.kind}:{row.key}" for row in self._repo.aliases_of(entity_type, entity_ref)]


Names = list[tuple[str, str]]
"""(kind, value as sent) pairs: the names an entity registers."""

SOURCE_ID_KINDS = {"shopify": "shopify.customer", "stripe": "stripe.customer"}
"""The key kind of a customer's id in the system that sent it."""


def pairs(keys: Iterable[ExternalKey]) -> Names:
    return [(key.kind, key.value) for key in keys]


# The names each entity registers besides the aliases its event lists. Entity refs: an
# order's canonical ref, a SKU itself, else the row id (payments, shipments, tickets,
# customers), which is bounded where "provider:ref" would not fit the column.


def order_names(order_ref: str, number: str | None, source: str) -> Names:
    names = [("order.ref", order_ref)]
    if is_shopify(source):
        names.append(("shopify.order", order_ref))
    if number:
        names += [("order.number", number), ("order.name", number)]
    return names


def payment_names(provider: str, payment_ref: str) -> Names:
    names = [("payment.ref", payment_ref)]
    if provider_of(provider) == "stripe":
        names.append(("stripe.payment_intent", payment_ref))
    return names


def shipment_names(tracking_number: str, shipment_ref: str | None, source: str) -> Names:
    names = [("tracking", tracking_number)]
    if shipment_ref:
        own = "shopify.fulfillment" if is_shopify(source) else "carrier.shipment"
        names.append((own, shipment_ref))
    return names


def customer_names(customer_ref: str, source: str, email: str | None) -> Names:
    names = [("customer.ref", customer_ref)]
    if (own := SOURCE_ID_KINDS.get(provider_of(source))) is not None:
        names.append((own, customer_ref))
    if email:
        names.append(("email", email))
    return names


def ticket_names(source: str, ticket_ref: str) -> Names:
    return [("zendesk.ticket", ticket_ref)] if provider_of(source) == "zendesk" else []


def provider_of(source: str) -> str:
    """The system an envelope source names: "shopify" for "shopify", "sim://shopify"."""
    return source.split("://", 1)[-1].split("/", 1)[0].lower()


SYSTEM_MAX = 40


def system_of(source: str) -> str:
    """How a record names the system it came from in ``source:ref`` (at most 40
    characters, so ``system:ref`` fits the link and suggestion columns)."""
    return provider_of(source)[:SYSTEM_MAX] or source[:SYSTEM_MAX]


def is_shopify(source: str) -> bool:
    name = provider_of(source)
    return name == "shopify" or name.endswith(".myshopify.com")
