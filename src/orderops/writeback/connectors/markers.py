"""Markers that let a connector recognise its own earlier effect where no idempotency header exists.

Shopify and Zendesk cannot replay a request by key, so the key travels inside the effect
itself (a note, a hold's notes, a tag, an external id) and the connector looks for it
before writing. Tags have length and character limits, so they carry a digest of the key.
"""

from __future__ import annotations

import hashlib

TEXT_PREFIX = "[orderops:"


def text_marker(idempotency_key: str) -> str:
    """A marker for free text (notes, comments): readable, and unique per key."""
    return f"{TEXT_PREFIX}{idempotency_key}]"


def tag_marker(idempotency_key: str) -> str:
    """A marker that fits vendor tag rules (lowercase, no spaces, at most 40 characters)."""
    digest = hashlib.sha256(idempotency_key.encode()).hexdigest()[:24]
    return f"orderops-{digest}"


def has_text_marker(text: str | None, idempotency_key: str) -> bool:
    return text is not None and text_marker(idempotency_key) in text


def with_text_marker(text: str, idempotency_key: str) -> str:
    marker = text_marker(idempotency_key)
    return f"{text} {marker}" if text else marker
