"""Every column that looks like personal data has an erasure rule or a stated reason not
to need one: a new ``email``/``phone``/``name``/``address`` column fails here until
``workflow/personal_data.py`` says what erasure does with it."""

from __future__ import annotations

from sqlalchemy import JSON, Column, Integer, MetaData, String, Table, Text

from orderops.storage.base import Base
from orderops.workflow.personal_data import (
    NOT_SCRUBBED,
    classified,
    scrubbed_columns,
    unclassified,
)


def test_every_column_named_like_personal_data_has_an_erasure_rule() -> None:
    assert unclassified() == []


def test_a_new_personal_column_without_a_rule_is_reported() -> None:
    metadata = MetaData()
    Table(
        "loyalty_cards",
        metadata,
        Column("id", String(32), primary_key=True),
        Column("holder_email", String(320)),
        Column("billing_address", JSON),
        Column("points", Integer),
    )

    assert unclassified(metadata) == [
        ("loyalty_cards", "billing_address"),
        ("loyalty_cards", "holder_email"),
    ]


def test_every_rule_names_a_column_that_exists() -> None:
    tables = Base.metadata.tables
    for table, column in classified():
        assert table in tables, table
        assert column in tables[table].c, (table, column)


def test_erasure_searches_every_customer_text_column_but_staff_and_credentials() -> None:
    searched = {(table.name, column.name) for table, column in scrubbed_columns()}

    assert {("inbox", "envelope"), ("case_timeline", "data"), ("outbox", "payload")} <= searched
    assert ("customers", "email") in searched, "cleared first, searched as a safety net"
    assert not {name for name, _ in searched} & NOT_SCRUBBED
    texts = {
        (t.name, c.name)
        for t in Base.metadata.tables.values()
        if "tenant_id" in t.c and t.name not in NOT_SCRUBBED
        for c in t.columns
        if isinstance(c.type, Text)
    }
    special = {("webhook_deliveries", "body"), ("webhook_deliveries_archive", "body")}
    special |= {("dead_letters", "body")}
    assert texts - special <= searched
