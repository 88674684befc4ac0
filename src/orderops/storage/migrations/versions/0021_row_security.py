"""row_security: row-level security on every tenant-owned table

Revision ID: 0021_row_security
Revises: 0020_tenant_keys
Create Date: 2026-12-04 06:00:00

PostgreSQL only (SQLite has no row-level security; the application's guard in
``storage/tenant_guard.py`` is all it gets). Every table with a ``tenant_id`` column gets
row-level security ENABLEd and FORCEd and one policy, ``tenant_isolation``, for all
commands: a row is visible, insertable and updatable only while
``orderops.tenant_id`` (set per transaction by the unit of work) names its tenant. No
setting, no rows.

The tables are read from the catalog at this revision, not from the models: the schema
at revision 0020 is fixed by the migrations before it, so the list is the same on every
database, fresh or upgraded, and a table a later revision adds is not silently swept in
here. A later revision that adds a tenant-owned table must add its policy (the three
statements of ``_protect``); ``tests/integration/test_row_security.py`` fails, naming the
table, until it does.

Who is subject to the policies:

- the application role (``orderops_app`` unless ``ORDEROPS_DATABASE_APP_ROLE`` names
  another): a NOLOGIN group role this migration creates when it may (superuser or
  CREATEROLE) and grants SELECT/INSERT/UPDATE/DELETE on every table (read only on
  ``alembic_version``), the sequences, and, through default privileges, tables later
  revisions create. Deployments log in as a user of that group; it owns nothing and must
  not have BYPASSRLS. When the role neither exists nor can be created, the grants are
  skipped (a one-role install) with a warning;
- the owner too (FORCE): a non-superuser owner that runs the application itself sees
  only the bound tenant's rows, like the app role. Superusers and BYPASSRLS roles are
  never subject to row-level security; that is why they may run migrations and nothing
  else. A later data migration run by a non-superuser owner is subject as well: it must
  ``ALTER TABLE .. NO FORCE ROW LEVEL SECURITY`` inside its own transaction (and FORCE
  again before committing) to touch every tenant's rows.

The few reads that must find a tenant before one is known, or that report across
tenants, are SECURITY DEFINER functions owned by the migrating role that return a tenant
id or aggregates, never rows (``storage/tenant_lookups.py`` calls them). Each sets
``orderops.lookup = on`` around its one query and clears it, which the ``tenant_lookup``
policy (SELECT, for the owner alone, on the tables they read) requires: that is how they
read across tenants under FORCE when the owner is not a superuser. The app role cannot use
that policy, whatever it sets; an owner running the app itself could, deliberately, by
setting ``orderops.lookup`` (a forgotten filter never does). EXECUTE is revoked from
PUBLIC and granted to the app role.

Downgrade drops the functions and policies, disables row-level security and revokes the
grants and default privileges; the group role stays (roles belong to the cluster, and
other databases may use it).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import context, op
from sqlalchemy.engine import Connection

revision: str = "0021_row_security"
down_revision: str | None = "0020_tenant_keys"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger(__name__)

APP_ROLE_OPTION = "orderops_app_role"
DEFAULT_APP_ROLE = "orderops_app"
TENANT = "tenant_id = current_setting('orderops.tenant_id', true)"
LOOKUP = "current_setting('orderops.lookup', true) = 'on'"
LOOKUP_TABLES = ("api_keys", "console_sessions", "inbox", "outbox", "source_connections")
"""The tables the lookup functions below read."""

ONE_TENANT = "SELECT CASE WHEN count(DISTINCT tenant_id) = 1 THEN min(tenant_id) END FROM "
"""A key is unique per tenant only (0020); a key two tenants share names neither."""

SCALAR_LOOKUPS: dict[str, str] = {
    "orderops_endpoint_tenant(endpoint text)": (
        ONE_TENANT + "source_connections WHERE endpoint_token = endpoint"
    ),
    "orderops_api_key_tenant(hashed text)": ONE_TENANT + "api_keys WHERE key_hash = hashed",
    "orderops_console_session_tenant(hashed text)": (
        ONE_TENANT + "console_sessions WHERE token_hash = hashed"
    ),
}
"""Signature -> the query answering one tenant id (or NULL)."""

SET_LOOKUPS: dict[str, tuple[str, str]] = {
    "orderops_inbox_tenants(wanted text)": (
        "TABLE (tenant text)",
        "SELECT DISTINCT i.tenant_id::text FROM inbox i WHERE i.status = wanted ORDER BY 1",
    ),
    # Per tenant and status, each figure a subquery on one (tenant, status) range of
    # ix_inbox_tenant_status_received: the plan of workflow/lag.py's own query.
    "orderops_inbox_waiting(statuses text[], only_tenant text)": (
        "TABLE (tenant text, state text, waiting bigint, oldest timestamptz)",
        """
        SELECT t.id::text, s.status,
               (SELECT count(*) FROM inbox i WHERE i.tenant_id = t.id AND i.status = s.status),
               (SELECT min(i.received_at) FROM inbox i
                 WHERE i.tenant_id = t.id AND i.status = s.status)
          FROM tenants t CROSS JOIN unnest(statuses) AS s(status)
         WHERE only_tenant IS NULL OR t.id = only_tenant
         ORDER BY t.id
        """,
    ),
    # Due as writeback/claims.py leases: claimable and its time has come, or in flight
    # under a lease that has run out.
    "orderops_outbox_due(claimable text[], in_flight text, due_at timestamptz, only_tenant text)": (
        "TABLE (tenant text, due bigint, oldest timestamptz)",
        """
        SELECT o.tenant_id::text, count(*),
               min(CASE WHEN o.status = in_flight THEN o.leased_until ELSE o.next_attempt_at END)
          FROM outbox o
         WHERE ((o.status = ANY (claimable) AND o.next_attempt_at <= due_at)
                OR (o.status = in_flight AND o.leased_until <= due_at))
           AND (only_tenant IS NULL OR o.tenant_id = only_tenant)
         GROUP BY o.tenant_id
        """,
    ),
}
"""Signature -> (result columns, the query answering them)."""

LOOKUP_ON = "PERFORM set_config('orderops.lookup', 'on', true);"
LOOKUP_OFF = "PERFORM set_config('orderops.lookup', '', true);"
# Set and cleared around the one query rather than with the function's own SET clause:
# PostgreSQL lets only superusers put a custom setting in a function definition, and an
# error in between aborts the transaction, which undoes the setting too.


def _function_sources() -> dict[str, tuple[str, str]]:
    """Signature -> (RETURNS clause, PL/pgSQL body) for every lookup function."""
    sources = {
        signature: (
            "text",
            f"DECLARE answer text; BEGIN {LOOKUP_ON} answer := ({query}); {LOOKUP_OFF} "
            "RETURN answer; END",
        )
        for signature, query in SCALAR_LOOKUPS.items()
    }
    for signature, (returns, query) in SET_LOOKUPS.items():
        sources[signature] = (returns, f"BEGIN {LOOKUP_ON} RETURN QUERY {query}; {LOOKUP_OFF} END")
    return sources


FUNCTIONS = tuple(_function_sources())


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = _quote(bind, _schema(bind))
    for table in _tenant_tables(bind):
        _protect(_quote(bind, table))
    for table in LOOKUP_TABLES:
        op.execute(
            f"CREATE POLICY tenant_lookup ON {_quote(bind, table)} FOR SELECT TO CURRENT_USER "
            f"USING ({LOOKUP})"
        )
    for signature, (returns, body) in _function_sources().items():
        op.execute(
            f"CREATE FUNCTION {signature} RETURNS {returns} LANGUAGE plpgsql VOLATILE "
            f"SECURITY DEFINER SET search_path = pg_catalog, {schema}, pg_temp "
            f"AS $body${body}$body$"
        )
        op.execute(f"REVOKE ALL ON FUNCTION {signature} FROM PUBLIC")
    role = _app_role()
    if not _ensure_role(bind, role):
        log.warning(
            "role %s is absent and this role may not create it: no grants made; the "
            "application must connect as the owner (row-level security still applies to a "
            "non-superuser owner, see docs/DEPLOYMENT.md)",
            role,
        )
        return
    app = _quote(bind, role)
    op.execute(f"GRANT USAGE ON SCHEMA {schema} TO {app}")
    op.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {app}")
    op.execute(f"REVOKE INSERT, UPDATE, DELETE ON alembic_version FROM {app}")
    op.execute(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {app}")
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} "
        f"GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {app}"
    )
    op.execute(
        f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} GRANT USAGE, SELECT ON SEQUENCES TO {app}"
    )
    for signature in FUNCTIONS:
        op.execute(f"GRANT EXECUTE ON FUNCTION {signature} TO {app}")


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    schema = _quote(bind, _schema(bind))
    role = _app_role()
    if _role_exists(bind, role):
        app = _quote(bind, role)
        op.execute(
            f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON SEQUENCES FROM {app}"
        )
        op.execute(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {schema} REVOKE ALL ON TABLES FROM {app}")
        op.execute(f"REVOKE ALL ON ALL SEQUENCES IN SCHEMA {schema} FROM {app}")
        op.execute(f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {app}")
        op.execute(f"REVOKE USAGE ON SCHEMA {schema} FROM {app}")
    for signature in FUNCTIONS:
        op.execute(f"DROP FUNCTION IF EXISTS {signature}")
    for table in LOOKUP_TABLES:
        op.execute(f"DROP POLICY IF EXISTS tenant_lookup ON {_quote(bind, table)}")
    for table in _tenant_tables(bind):
        name = _quote(bind, table)
        op.execute(f"DROP POLICY IF EXISTS tenant_isolation ON {name}")
        op.execute(f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY")
        op.execute(f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY")


def _protect(table: str) -> None:
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(f"CREATE POLICY tenant_isolation ON {table} USING ({TENANT}) WITH CHECK ({TENANT})")


def _schema(bind: Connection) -> str:
    return str(bind.scalar(sa.text("SELECT current_schema()")))


def _tenant_tables(bind: Connection) -> list[str]:
    rows = bind.execute(
        sa.text(
            "SELECT c.relname FROM pg_class c "
            "JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = 'tenant_id' "
            "AND NOT a.attisdropped "
            "WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r' "
            "ORDER BY c.relname"
        )
    )
    return [str(name) for (name,) in rows]


def _app_role() -> str:
    return context.config.get_main_option(APP_ROLE_OPTION) or DEFAULT_APP_ROLE


def _role_exists(bind: Connection, role: str) -> bool:
    found = bind.scalar(sa.text("SELECT 1 FROM pg_roles WHERE rolname = :role"), {"role": role})
    return found is not None


def _ensure_role(bind: Connection, role: str) -> bool:
    """True when the role exists (made here if absent and this role may create roles)."""
    if _role_exists(bind, role):
        return True
    may = bind.scalar(
        sa.text("SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user")
    )
    if not may:
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text(f"CREATE ROLE {_quote(bind, role)} NOLOGIN"))
    except sa.exc.DBAPIError:
        pass  # another database's migration made it meanwhile (duplicate_object/unique_violation)
    return _role_exists(bind, role)


def _quote(bind: Connection, name: str) -> str:
    return bind.dialect.identifier_preparer.quote_identifier(name)
