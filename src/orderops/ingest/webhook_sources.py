"""The providers whose webhooks a tenant can connect.

A module of its own, importing nothing, so that the CLI can offer the names as choices
without loading the storage and cryptography that connecting a source needs.
"""

from __future__ import annotations

from enum import StrEnum


class WebhookSource(StrEnum):
    SHOPIFY = "shopify"
    STRIPE = "stripe"
    EASYPOST = "easypost"
    SHIPPO = "shippo"
    AFTERSHIP = "aftership"
    ZENDESK = "zendesk"
