"""Row-level security for a table a revision after ``0021_row_security`` adds.

``0021`` protected the tenant-owned tables that existed then; each later revision that
creates a table with a ``tenant_id`` calls :func:`protect` in its upgrade (after creating
it) and :func:`unprotect` in its downgrade (before dropping it).
``tests/integration/test_row_security.py`` fails, naming the table, when one forgets.
Grants need nothing here: ``0021``'s default privileges give the application role DML on
every table the migrating role creates later. SQLite has no row-level security, so both
are no-ops there.
"""

from __future__ import annotations

from alembic import op

TENANT = "tenant_id = current_setting('orderops.tenant_id', true)"


def protect(table: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    name = bind.dialect.identifier_preparer.quote_identifier(table)
    op.execute(f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {name} USING ({TENANT}) WITH CHECK ({TENANT})")


def unprotect(table: str) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    name = bind.dialect.identifier_preparer.quote_identifier(table)
    op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {name}")
    op.execute(f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY")
