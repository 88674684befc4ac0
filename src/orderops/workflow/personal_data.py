"""Where a data subject's personal data lives, and what erasure does with each place.

The desk's customers are the retailer's shoppers. Their data sits in three kinds of
place, and erasure (``workflow/erasure.py``) treats each its own way:

- ``CLEARED``: columns that *are* the subject's data on rows that are theirs (their
  customer row, their orders' shipping address, their tickets, the messages of their
  cases): set to nothing;
- ``DELETED_WHEN_NAMED``: rows whose key is the subject's email or phone (aliases, alias
  waits): deleted, since a key scrubbed to a placeholder would collide with the next;
- ``WHOLE_WHEN_NAMED``: raw bodies (webhook deliveries, dead letters) that name the
  subject anywhere: cleared whole, because a raw body edited in place would no longer be
  what was received;
- every other text or JSON column of every tenant-owned table (event envelopes, case
  timelines, outbox payloads, recommendation drafts, ...) is searched for the subject's
  identifiers and each occurrence replaced by ``ERASED`` (``scrubbed_columns``), so a new
  column is covered without a rule of its own.

``NOT_CUSTOMER_DATA`` names the columns that look personal by name but hold staff or
configuration data, with the reason; tables in ``NOT_SCRUBBED`` are never searched (staff
accounts, credentials, the audit chain, which erasure redacts through its digests).
``tests/unit/test_personal_data.py`` fails when a column named like personal data (email,
phone, name, address, recipient, ...) is in none of these lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from sqlalchemy import JSON, Column, ColumnElement, MetaData, String, Table, Text
from sqlalchemy.dialects.postgresql import JSONB

from orderops.storage.base import Base

ERASED = "[erased]"
PERSONAL_NAME = re.compile(
    r"e_?mail|phone|name|address|recipient|ship_to|bill_to|contact|street|postal|zip|birth",
    re.IGNORECASE,
)
"""Column names that suggest personal data; each must be classified below."""

CLEARED: dict[tuple[str, str], str] = {
    ("customers", "email"): "the subject's customer row",
    ("customers", "phone"): "the subject's customer row",
    ("customers", "name"): "the subject's customer row",
    ("customers", "address"): "the subject's customer row",
    ("orders", "ship_to"): "the subject's orders",
    ("support_tickets", "customer_email"): "tickets from the subject's email or orders",
    ("support_tickets", "subject"): "tickets from the subject's email or orders",
    ("support_tickets", "body"): "tickets from the subject's email or orders",
    ("communications", "recipient"): "messages on the subject's orders' cases",
    ("communications", "subject"): "messages on the subject's orders' cases",
    ("communications", "body"): "messages on the subject's orders' cases",
    ("communication_events", "subject"): "history of those messages",
    ("communication_events", "body"): "history of those messages",
}
DELETED_WHEN_NAMED: dict[tuple[str, str], str] = {
    ("entity_aliases", "key"): "an email or phone alias resolves events to the subject",
    ("alias_waits", "alias"): "a deferred event waiting for the subject's email or phone",
}
WHOLE_WHEN_NAMED: dict[tuple[str, str], str] = {
    ("webhook_deliveries", "body"): "raw body as received",
    ("webhook_deliveries_archive", "body"): "raw body as received",
    ("dead_letters", "body"): "raw body as received",
}
NOT_CUSTOMER_DATA: dict[tuple[str, str], str] = {
    ("api_keys", "name"): "a key's label, chosen by staff",
    ("console_sessions", "address"): "a staff member's IP address, for session security",
    ("import_runs", "file_name"): "the name of a file staff imported",
    ("queues", "name"): "a work queue's name",
    ("saved_views", "name"): "a reviewer's name for a filter set",
    ("sso_configs", "display_name"): "the identity provider's label",
    ("tenants", "name"): "the retailer's name",
    ("user_identities", "email"): "a staff account (removed with the user, not by erasure)",
    ("users", "email"): "a staff account (removed with the user, not by erasure)",
    ("users", "display_name"): "a staff account (removed with the user, not by erasure)",
    ("vendor_connections", "username"): "the retailer's account at a vendor",
    ("writeback_saga_steps", "name"): "a saga step's name",
}
NOT_SCRUBBED = frozenset(
    {
        "tenants",
        "users",
        "user_identities",
        "console_sessions",
        "sign_in_throttle",
        "api_keys",
        "sso_configs",
        "sso_logins",
        "source_connections",
        "vendor_connections",
        "audit_log",
        "audit_heads",
        "customer_erasures",
        "retention_windows",
        "alembic_version",
    }
)
"""Staff, credentials, and the audit chain (redacted through its digests, not edited)."""


def classified() -> set[tuple[str, str]]:
    return {*CLEARED, *DELETED_WHEN_NAMED, *WHOLE_WHEN_NAMED, *NOT_CUSTOMER_DATA}


def unclassified(metadata: MetaData | None = None) -> list[tuple[str, str]]:
    """Columns named like personal data that no list above covers (should be none)."""
    known = classified()
    return sorted(
        (table.name, column.name)
        for table in (metadata or Base.metadata).tables.values()
        for column in table.columns
        if PERSONAL_NAME.search(column.name) and (table.name, column.name) not in known
    )


def is_json(column: ColumnElement[Any]) -> bool:
    return isinstance(column.type, JSON | JSONB)


def scrubbed_columns() -> Iterator[tuple[Table, Column[Any]]]:
    """Every text or JSON column of every tenant-owned table erasure searches, but those
    handled whole or by deletion."""
    special = {*DELETED_WHEN_NAMED, *WHOLE_WHEN_NAMED}
    for table in sorted(Base.metadata.tables.values(), key=lambda t: t.name):
        if table.name in NOT_SCRUBBED or "tenant_id" not in table.c:
            continue
        for column in table.columns:
            if column.name in {"id", "tenant_id"} or (table.name, column.name) in special:
                continue
            if isinstance(column.type, String | Text) or is_json(column):
                yield table, column
