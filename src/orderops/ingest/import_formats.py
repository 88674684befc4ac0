"""The file formats `orderops import` reads.

A module of its own, importing nothing, so that the CLI can offer the names as choices
without loading the intake pipeline that importing a file needs.
"""

from __future__ import annotations

from enum import StrEnum


class ImportFormat(StrEnum):
    JSONL = "jsonl"
    CSV_ORDERS = "csv-orders"
    CSV_INVENTORY = "csv-inventory"
    CSV_CUSTOMERS = "csv-customers"
    WEBHOOKS = "webhooks"
