"""Offers of choices to a customer (``domain/choices.py``): one row per link sent.

The id is the offer id the signed link names (128 random bits, ``new_offer_id``), so it is
not the table's usual sortable id. ``status`` makes a link single-use: it leaves ``open``
once (chosen, withdrawn by a newer offer on the case) under a row lock, in the same
transaction as the action the choice proposes. ``display`` is what the public page shows,
fixed when the offer is made, so the page reads this row and nothing else of the order.
"""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from orderops.storage.base import Base, JsonType, tenant_column
from orderops.storage.tables.keys import tenant_fk, tenant_primary_key


def new_offer_id() -> str:
    return secrets.token_hex(16)


class CustomerChoiceOffer(Base):
    __tablename__ = "customer_choice_offers"
    __table_args__ = (
        tenant_primary_key(),
        tenant_fk(__tablename__, "case_id", "cases"),
        tenant_fk(__tablename__, "action_id", "actions"),
        Index("ix_customer_choice_offers_tenant_case", "tenant_id", "case_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), default=new_offer_id, index=True)
    tenant_id: Mapped[str] = tenant_column()
    case_id: Mapped[str] = mapped_column(String(32))
    order_ref: Mapped[str] = mapped_column(String(200))
    exception_type: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    options: Mapped[list[dict[str, Any]]] = mapped_column(JsonType)
    display: Mapped[dict[str, Any]]
    language: Mapped[str] = mapped_column(String(8))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    opened_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    chosen_option: Mapped[str | None] = mapped_column(String(32))
    action_id: Mapped[str | None] = mapped_column(String(32))
    communication_id: Mapped[str | None] = mapped_column(String(32))
    """The customer message carrying the link (migration 0036); NULL on older offers."""

    __mapper_args__ = {"primary_key": [id]}  # noqa: RUF012
