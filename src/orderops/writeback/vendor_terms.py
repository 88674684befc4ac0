"""The vocabulary of vendor effects: the row, the facts, the refusal, the value formats.

Shared by ``vendor_effects`` (the mapping table) and ``vendor_facts`` (its one read).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from orderops.domain.actions import ActionContext, InvalidAction

STRIPE_REFUND_REASON = "requested_by_customer"
"""Stripe accepts only its own refund reasons; the person's words go into metadata."""
RELEASE_REASON = "abandoned"
"""Stripe's cancellation reason for a hold let go because the order will not be charged."""
SHOPIFY_HOLD_REASONS = {
    "fraud_review": "high_risk_of_fraud",
    "address_check": "incorrect_address",
    "inventory": "inventory_out_of_stock",
    "payment": "awaiting_payment",
    "other": "other",
}
SHOPIFY_FINANCIAL_STATUSES = frozenset(
    {"pending", "authorized", "paid", "partially_refunded", "refunded", "voided"}
)
"""Canonical financial statuses Shopify also uses, so they can be expected of the order."""
PARCEL_OUNCES_PER_UNIT = 16.0
"""The parcel weight EasyPost needs: a pound per unit until the catalogue carries weights."""
MINOR_EXPONENTS = {"BIF": 0, "CLP": 0, "JPY": 0, "KRW": 0, "VND": 0, "BHD": 3, "KWD": 3, "OMR": 3}
"""Currencies whose minor unit is not a hundredth (Shopify writes decimal amounts)."""
CLOSED_TICKET = frozenset({"solved", "closed"})


class UnmappableEffect(InvalidAction):
    """The approved action has an effect no connected vendor can perform on this order."""

    code = "unmappable-effect"


@dataclass(frozen=True, kw_only=True)
class VendorEffect:
    system: str
    operation: str
    payload: dict[str, Any]


@dataclass(frozen=True, kw_only=True)
class VendorFacts:
    """What the vendors need to know about the order beyond ``ActionContext``."""

    ship_to: Mapping[str, Any] | None = None
    """The canonical address (line1, city, region, postal_code, country, ...)."""
    origin: str | None = None
    """The warehouse the order ships from (a WMS location code)."""
    customer_email: str | None = None
    open_tickets: tuple[str, ...] = ()
    """Zendesk ticket ids about this order that are not solved or closed, newest first."""
    financial_status: str | None = None


Mapper = Callable[[dict[str, Any], ActionContext, VendorFacts], list[VendorEffect]]


# -- values -------------------------------------------------------------------------------


def shopify_order_id(context: ActionContext) -> int | str:
    """Shopify orders are known by their numeric id, which is the order's reference.

    An order that came from elsewhere keeps its reference: the approval stands (the
    decision is sound), and the write fails at delivery naming the order, which puts the
    case back in front of a person instead of refusing a decision over a missing id.
    """
    return int(context.order_ref) if context.order_ref.isdigit() else context.order_ref


def decimal_amount(minor: int, currency: str) -> str:
    exponent = MINOR_EXPONENTS.get(currency.upper(), 2)
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def easypost_address(address: Mapping[str, Any]) -> dict[str, str]:
    """Canonical address fields in EasyPost's names."""
    names = {
        "name": "name",
        "line1": "street1",
        "line2": "street2",
        "city": "city",
        "region": "state",
        "postal_code": "zip",
        "country": "country",
    }
    mapped = {names.get(k, k): str(v) for k, v in address.items() if v}
    return mapped


def customer_email(context: ActionContext, facts: VendorFacts) -> str:
    if not facts.customer_email:
        raise UnmappableEffect(f"order {context.order_ref} has no customer email to reach")
    return facts.customer_email
