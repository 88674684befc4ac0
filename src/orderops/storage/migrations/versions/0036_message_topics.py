"""message topics: what a customer message is about, and the message a choice offer sends

Revision ID: 0036_message_topics
Revises: 0035_customer_choices
Create Date: 2026-12-04 20:30:00

``communications.topic`` (``domain/notifications.py`` ``Topic``) lets one voice per customer
see hand-written messages and choice links as well as proactive notices; rows from before
have none and count for the quiet period only. ``customer_choice_offers.communication_id``
is the message that carries an offer's link (a plain column, like
``customer_notices.communication_id``). Both nullable, so upgrading touches no row;
downgrade drops them.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036_message_topics"
down_revision: str | None = "0035_customer_choices"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("communications") as batch:
        batch.add_column(sa.Column("topic", sa.String(length=16), nullable=True))
    with op.batch_alter_table("customer_choice_offers") as batch:
        batch.add_column(sa.Column("communication_id", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("customer_choice_offers") as batch:
        batch.drop_column("communication_id")
    with op.batch_alter_table("communications") as batch:
        batch.drop_column("topic")
