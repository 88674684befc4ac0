"""Which Stripe dispute a chargeback signal names.

A dispute reaches us as a fraud signal whose ``detail`` is a readable summary: the Stripe
adapter writes ``"id=dp_..., reason=fraudulent, status=needs_response, ..."``, a canonical
event may carry the bare id. Submitting evidence needs the id alone, so it is read here,
once, where the case's facts are assembled; a signal that names no id still marks the
order as disputed, but no evidence pack can be built for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

UNIDENTIFIED = "unidentified-dispute"
"""The dispute reference of an order with a dispute signal that names no Stripe id."""

_STRIPE_ID = re.compile(r"[A-Za-z]{2,8}_[A-Za-z0-9_]{1,120}")


def stripe_dispute_id(text: str | None) -> str | None:
    """The Stripe id in a signal's detail (``id=...`` among ``key=value`` pairs, or the
    whole text when it is a bare id); None when there is none."""
    if not text:
        return None
    text = text.strip()
    if "=" not in text:
        return text if _STRIPE_ID.fullmatch(text) else None
    fields = dict(
        (name.strip(), value.strip())
        for name, sep, value in (part.partition("=") for part in text.split(","))
        if sep
    )
    found = fields.get("id", "")
    return found if _STRIPE_ID.fullmatch(found) else None


def dispute_ref_from(details: Iterable[str | None]) -> str | None:
    """The order's dispute reference from its dispute signals' details, in their order:
    the first Stripe id named, else ``UNIDENTIFIED``, else None (no dispute signal)."""
    seen = False
    for detail in details:
        seen = True
        found = stripe_dispute_id(detail)
        if found is not None:
            return found
    return UNIDENTIFIED if seen else None
