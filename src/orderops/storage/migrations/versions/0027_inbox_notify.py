"""inbox_notify: PostgreSQL tells listening workers when the inbox gains rows

Revision ID: 0027_inbox_notify
Revises: 0026_access_scopes
Create Date: 2026-12-04 11:00:00

A statement-level trigger on ``inbox`` sends ``NOTIFY orderops_inbox`` when an INSERT
(or a COPY) stored at least one row. PostgreSQL delivers it when the storing transaction
commits, and never when it rolls back, so a worker in another process or on another
machine (``workflow/inbox_wakeups.py``) starts on the event at once instead of at its
next poll. It costs the accept nothing it waits for: no extra round trip, one message
per transaction, and identical messages in one transaction are folded into one by the
server. The payload is empty: the inbox rows are the truth, and a worker that missed a
message still finds them at its next poll.

SQLite has no LISTEN/NOTIFY; there, only a worker in the accepting process wakes at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0027_inbox_notify"
down_revision: str | None = "0026_access_scopes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNEL = "orderops_inbox"


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        "CREATE FUNCTION orderops_inbox_notify() RETURNS trigger LANGUAGE plpgsql AS $body$"
        "BEGIN "
        "IF EXISTS (SELECT 1 FROM stored) THEN "
        f"PERFORM pg_notify('{CHANNEL}', ''); "
        "END IF; "
        "RETURN NULL; "
        "END $body$"
    )
    op.execute(
        "CREATE TRIGGER inbox_notify AFTER INSERT ON inbox "
        "REFERENCING NEW TABLE AS stored FOR EACH STATEMENT "
        "EXECUTE FUNCTION orderops_inbox_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS inbox_notify ON inbox")
    op.execute("DROP FUNCTION IF EXISTS orderops_inbox_notify()")
