"""The kinds of external key resolve understands, what each names, and how it is compared.

One table per tenant maps every key to the entity it names (``entity_aliases``). A key
is compared by its normalised value, so "#1001", "1001" and " 1001 " meet, and a
tracking code typed with spaces meets the carrier's. Pure: no storage, no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum


class Entity(StrEnum):
    ORDER = "order"
    PAYMENT = "payment"
    SHIPMENT = "shipment"
    CUSTOMER = "customer"
    TICKET = "ticket"
    SKU = "sku"
    LOCATION = "location"


@dataclass(frozen=True)
class KeyKind:
    name: str
    entity: Entity
    normalise: str = "exact"
    """How values compare: exact, lower (case-insensitive), digits, or code (upper, no spaces)."""
    exclusive: bool = True
    """Whether one value names one entity. Order numbers and emails are not: two stores or
    two orders may share one, and resolve then asks a reviewer instead of guessing."""


KEY_KINDS: dict[str, KeyKind] = {
    kind.name: kind
    for kind in (
        # orders
        KeyKind("order.ref", Entity.ORDER),
        KeyKind("order.number", Entity.ORDER, normalise="digits", exclusive=False),
        KeyKind("order.name", Entity.ORDER, normalise="lower", exclusive=False),
        KeyKind("shopify.order", Entity.ORDER),
        KeyKind("shopify.checkout_token", Entity.ORDER),
        KeyKind("shopify.cart_token", Entity.ORDER),
        KeyKind("shopify.checkout", Entity.ORDER),
        KeyKind("shopify.fulfillment_order", Entity.ORDER),
        # payments
        KeyKind("payment.ref", Entity.PAYMENT),
        KeyKind("stripe.payment_intent", Entity.PAYMENT),
        KeyKind("stripe.charge", Entity.PAYMENT),
        KeyKind("shopify.transaction", Entity.PAYMENT),
        # shipments
        KeyKind("tracking", Entity.SHIPMENT, normalise="code"),
        KeyKind("carrier.shipment", Entity.SHIPMENT),
        KeyKind("shopify.fulfillment", Entity.SHIPMENT),
        # customers
        KeyKind("customer.ref", Entity.CUSTOMER),
        KeyKind("shopify.customer", Entity.CUSTOMER),
        KeyKind("stripe.customer", Entity.CUSTOMER),
        KeyKind("email", Entity.CUSTOMER, normalise="lower", exclusive=False),
        # tickets
        KeyKind("zendesk.ticket", Entity.TICKET),
        # stock
        KeyKind("sku", Entity.SKU, normalise="exact"),
        KeyKind("shopify.variant", Entity.SKU),
        KeyKind("shopify.inventory_item", Entity.SKU),
        KeyKind("shopify.location", Entity.LOCATION),
    )
}

_SPACE = re.compile(r"\s+")


class UnknownKeyKind(ValueError):
    pass


def kind_of(name: str) -> KeyKind:
    try:
        return KEY_KINDS[name]
    except KeyError:
        raise UnknownKeyKind(f"unknown key kind {name!r}") from None


def normalise(kind: str, value: str) -> str | None:
    """The value as compared, or None when nothing of it is left (an empty key names nothing)."""
    rule = kind_of(kind).normalise
    text = value.strip()
    if rule == "lower":
        text = text.lower()
    elif rule == "digits":
        text = re.sub(r"\D", "", text).lstrip("0")
    elif rule == "code":
        text = _SPACE.sub("", text).upper()
    return text or None


def alias_key(kind: str, value: str) -> str | None:
    """``kind:normalised`` - how a waiting record names the key it waits for."""
    normal = normalise(kind, value)
    return f"{kind}:{normal}" if normal is not None else None
