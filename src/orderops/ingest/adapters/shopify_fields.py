"""What every Shopify mapper shares: the delivery, envelopes, times, people and addresses."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from orderops.domain.events import EventType
from orderops.ingest.adapters.common import (
    JsonObject,
    event,
    external_keys,
    opt_obj,
    opt_text,
    parse_time,
    text,
)

SOURCE = "shopify"


@dataclass(frozen=True)
class ShopifyDelivery:
    """The unsigned facts beside a body: its topic, webhook id and trigger time."""

    topic: str
    id: str
    triggered_at: str | None = None
    """``X-Shopify-Triggered-At``: read only for bodies that carry no time of their own."""
    shop: str | None = None
    """``X-Shopify-Shop-Domain``: the shop an order was placed in (its store, for scopes)."""


def shopify_event(
    event_id: str, type_: EventType, time: datetime, subject: str | None, data: dict[str, Any]
) -> JsonObject:
    return event(
        source=SOURCE, event_id=event_id, type_=type_, time=time, subject=subject, data=data
    )


def version_time(raw: JsonObject, where: str) -> datetime:
    """The resource's own version time: what decides which of two updates is newer."""
    return parse_time(raw.get("updated_at") or raw.get("created_at"), where=f"{where}.updated_at")


def prefixed(prefix: str, value: str | None) -> str | None:
    return prefix + value if value else None


def variant_sku(sku: str | None, variant_id: str | None) -> str | None:
    """The SKU, or ``shopify-variant-<id>`` for a variant without one.

    Order lines and catalogue items use the same stand-in, so a SKU-less variant sold on
    an order and listed in the catalogue is still one item.
    """
    return sku or prefixed("shopify-variant-", variant_id)


LOCALE_MAX = 35
"""``CustomerData.locale``'s bound."""


def customer_data(raw: JsonObject, *, fallback: JsonObject | None = None) -> dict[str, Any]:
    """A Shopify customer as ``CustomerData``; ``fallback`` is the order carrying it, whose
    own email and phone stand in for the customer's when these are missing."""
    outer = fallback or {}
    customer_ref = text(raw, "id", where="customer")
    email = opt_text(raw, "email") or opt_text(outer, "email")
    names = [opt_text(raw, "first_name"), opt_text(raw, "last_name")]
    # GraphQL's Customer.locale; on REST only the order says it (customer_locale). A tag
    # too long to be one is dropped, never a reason to refuse the order.
    locale = opt_text(raw, "locale") or opt_text(outer, "customer_locale")
    return {
        **({"locale": locale} if locale and len(locale) <= LOCALE_MAX else {}),
        "customer_ref": customer_ref,
        "email": email,
        "phone": opt_text(raw, "phone") or opt_text(outer, "phone"),
        "name": " ".join(n for n in names if n) or None,
        "address": address(opt_obj(raw, "default_address")),
        "aliases": external_keys([("shopify.customer", customer_ref), ("email", email)]),
    }


def map_customer(raw: JsonObject, delivery: ShopifyDelivery) -> list[JsonObject]:
    """customers/create, update, enable, disable: the customer as it now stands."""
    data = customer_data(raw)
    time = version_time(raw, "customer")
    return [
        shopify_event(delivery.id, EventType.CUSTOMER_UPSERTED, time, data["customer_ref"], data)
    ]


def address(raw: JsonObject | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    names = [opt_text(raw, "first_name"), opt_text(raw, "last_name")]
    country = opt_text(raw, "country_code")
    return {
        "name": opt_text(raw, "name") or " ".join(n for n in names if n) or None,
        "line1": opt_text(raw, "address1"),
        "line2": opt_text(raw, "address2"),
        "city": opt_text(raw, "city"),
        "region": opt_text(raw, "province_code") or opt_text(raw, "province"),
        "postal_code": opt_text(raw, "zip"),
        "country": country.upper() if country and len(country) == 2 else None,
    }
