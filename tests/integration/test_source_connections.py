"""Connecting a provider: the secret is encrypted at rest, audited without its value, and
the operator gets the exact URL to paste, from the service, the CLI and the API."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
import typer
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select
from typer.testing import CliRunner

from builders.access import key_for
from builders.database_roles import owner_engine, owner_sessions
from builders.webhooks import post, stripe_event, webhook_client
from orderops.bootstrap import App
from orderops.commands.sources import register
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.ingest.connections import (
    EndpointNotFound,
    InvalidSecret,
    SecretBox,
    SecretUnreadable,
    SourceAlreadyConnected,
    SourceNotConnected,
    WebhookSource,
    connect_source,
    disconnect_source,
    list_connections,
    resolve_endpoint,
    rotate_secret,
)
from orderops.storage.base import Base
from orderops.storage.tables import AuditRecord
from orderops.storage.tables.sources import SourceConnection, WebhookDelivery
from orderops.tenancy.tenants import authenticate

STRIPE = WebhookSource.STRIPE
SECRET = "whsec_plaintext_for_the_test_0123456789abcdef"


def box(app: App) -> SecretBox:
    return SecretBox(app.settings.secret_key)


def connect(app: App, *, tenant: str = "acme", secret: str | None = SECRET) -> Any:
    return connect_source(
        app.sessions,
        tenant_id=tenant,
        source=STRIPE,
        box=box(app),
        clock=app.clock,
        actor="test",
        secret=secret,
    )


def stored_row(app: App, tenant: str = "acme") -> SourceConnection:
    with owner_sessions(app)() as session:
        row = session.scalar(
            select(SourceConnection).where(
                SourceConnection.tenant_id == tenant, SourceConnection.source == "stripe"
            )
        )
        assert row is not None
        session.expunge(row)
        return row


def audit_records(app: App, tenant: str = "acme") -> list[AuditRecord]:
    with owner_sessions(app)() as session:
        found = list(
            session.scalars(
                select(AuditRecord)
                .where(
                    AuditRecord.tenant_id == tenant, AuditRecord.entity_type == "source_connection"
                )
                .order_by(AuditRecord.seq)
            )
        )
        session.expunge_all()
        return found


# --- the secret at rest ----------------------------------------------------------------------


def test_the_secret_is_stored_encrypted_and_opens_with_the_right_key_only(app: App) -> None:
    connect(app)

    row = stored_row(app)

    assert row.secret_ciphertext != SECRET
    assert SECRET not in row.secret_ciphertext
    assert box(app).open(row.secret_ciphertext) == SECRET
    with pytest.raises(SecretUnreadable):
        SecretBox("a-different-secret-key").open(row.secret_ciphertext)


def test_two_seals_of_one_secret_differ(app: App, clock: FixedClock) -> None:
    first = box(app).seal(SECRET, now=clock.now())
    second = box(app).seal(SECRET, now=clock.now())

    assert first != second
    assert box(app).open(first) == box(app).open(second) == SECRET


def test_rotation_replaces_the_secret_and_keeps_the_url(app: App, clock: FixedClock) -> None:
    before = connect(app).connection
    clock.advance(timedelta(hours=1))

    change = rotate_secret(
        app.sessions,
        tenant_id="acme",
        source=STRIPE,
        box=box(app),
        clock=clock,
        actor="test",
        secret="whsec_rotated_secret_0123456789abcdef0123",
    )

    row = stored_row(app)
    assert box(app).open(row.secret_ciphertext) == "whsec_rotated_secret_0123456789abcdef0123"
    assert change.connection.endpoint_token == before.endpoint_token
    assert row.rotated_at == clock.now()
    assert change.generated_secret is None


def test_a_generated_secret_is_returned_once_and_is_what_is_stored(app: App) -> None:
    change = connect(app, secret=None)

    assert change.generated_secret is not None
    assert len(change.generated_secret) >= 32
    assert box(app).open(stored_row(app).secret_ciphertext) == change.generated_secret


def test_a_short_secret_is_refused(app: App) -> None:
    with pytest.raises(InvalidSecret):
        connect(app, secret="short")
    assert list_connections(app.sessions, tenant_id="acme") == []


REAL_FORMAT_SECRETS = {
    "shopify app secret (32 hex)": "9f86d081884c7d659a2feaa0c55ad015",
    "shopify app secret (shpss_)": "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",
    "stripe endpoint secret": "whsec_" + "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
}
"""The shapes providers hand out (made-up values): each has 32 bytes of secret or more."""


@pytest.mark.parametrize("secret", REAL_FORMAT_SECRETS.values(), ids=REAL_FORMAT_SECRETS)
def test_a_providers_real_format_secret_is_accepted(app: App, secret: str) -> None:
    connect(app, secret=secret)

    assert box(app).open(stored_row(app).secret_ciphertext) == secret


@pytest.mark.parametrize(
    "secret",
    ["0123456789abcdef0123456789abcde", "whsec_0123456789", "  " + "k" * 31 + "  "],
    ids=["31 bytes", "a truncated paste", "31 bytes padded with spaces"],
)
def test_a_secret_under_32_bytes_is_refused_saying_how_long_it_must_be(
    app: App, secret: str
) -> None:
    with pytest.raises(InvalidSecret, match="at least 32 bytes"):
        connect(app, secret=secret)
    assert list_connections(app.sessions, tenant_id="acme") == []


def test_a_rotation_to_a_short_secret_is_refused_and_keeps_the_old_one(
    app: App, clock: FixedClock
) -> None:
    connect(app)

    with pytest.raises(InvalidSecret):
        rotate_secret(
            app.sessions,
            tenant_id="acme",
            source=STRIPE,
            box=box(app),
            clock=clock,
            actor="test",
            secret="whsec_too_short",
        )

    assert box(app).open(stored_row(app).secret_ciphertext) == SECRET


# --- lifecycle -------------------------------------------------------------------------------


def test_connecting_twice_is_refused_and_keeps_the_first_secret(app: App) -> None:
    connect(app)

    with pytest.raises(SourceAlreadyConnected):
        connect(app, secret="whsec_second_attempt_0123456789abcdef0123")

    assert box(app).open(stored_row(app).secret_ciphertext) == SECRET


def test_a_reconnect_after_disconnect_gets_a_new_url_and_the_old_one_is_dead(
    app: App, clock: FixedClock
) -> None:
    old = connect(app).connection
    disconnect_source(app.sessions, tenant_id="acme", source=STRIPE, clock=clock, actor="test")

    new = connect(app, secret="whsec_after_reconnect_0123456789abcdef012").connection

    assert new.endpoint_token != old.endpoint_token
    assert new.id == old.id
    with pytest.raises(EndpointNotFound):
        resolve_endpoint(
            app.sessions, source="stripe", endpoint_token=old.endpoint_token, box=box(app)
        )
    endpoint = resolve_endpoint(
        app.sessions, source="stripe", endpoint_token=new.endpoint_token, box=box(app)
    )
    assert (endpoint.tenant_id, endpoint.secret) == (
        "acme",
        "whsec_after_reconnect_0123456789abcdef012",
    )


def test_rotating_or_disconnecting_an_unconnected_source_is_refused(
    app: App, clock: FixedClock
) -> None:
    with pytest.raises(SourceNotConnected):
        rotate_secret(
            app.sessions, tenant_id="acme", source=STRIPE, box=box(app), clock=clock, actor="t"
        )
    with pytest.raises(SourceNotConnected):
        disconnect_source(app.sessions, tenant_id="acme", source=STRIPE, clock=clock, actor="t")


def test_every_change_is_audited_and_no_record_holds_the_secret(
    app: App, clock: FixedClock
) -> None:
    generated = connect(app, secret=None).generated_secret
    rotate_secret(
        app.sessions,
        tenant_id="acme",
        source=STRIPE,
        box=box(app),
        clock=clock,
        actor="test",
        secret=SECRET,
    )
    disconnect_source(app.sessions, tenant_id="acme", source=STRIPE, clock=clock, actor="test")

    records = audit_records(app)

    assert [r.action for r in records] == [
        "source.connected",
        "source.secret_rotated",
        "source.disconnected",
    ]
    assert {r.entity_id for r in records} == {stored_row(app).id}
    assert records[0].data["generated"] is True
    dumped = json.dumps([r.data for r in records])
    assert generated is not None
    assert generated not in dumped
    assert SECRET not in dumped
    assert stored_row(app).endpoint_token not in dumped


def test_connections_are_per_tenant(app: App) -> None:
    connect(app, tenant="acme")
    connect(app, tenant="globex", secret="whsec_globex_secret_0123456789abcdef012345")

    acme = list_connections(app.sessions, tenant_id="acme")
    globex = list_connections(app.sessions, tenant_id="globex")

    assert [c.tenant_id for c in acme] == ["acme"]
    assert [c.tenant_id for c in globex] == ["globex"]
    assert acme[0].endpoint_token != globex[0].endpoint_token


# --- CLI -------------------------------------------------------------------------------------


@pytest.fixture
def cli(app: App) -> typer.Typer:
    root = typer.Typer()

    @root.callback()
    def _root() -> None:
        """Test root (a callback keeps `sources` a named group)."""

    register(root, app_factory=lambda: app)
    return root


def run(cli: typer.Typer, *args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_cli_connect_prints_the_exact_url_and_the_generated_secret_once(
    cli: typer.Typer, app: App
) -> None:
    result = run(cli, "sources", "connect", "--tenant", "acme", "--source", "stripe")

    assert result.exit_code == 0
    (info,) = list_connections(app.sessions, tenant_id="acme")
    expected = (
        f"http://{app.settings.host}:{app.settings.port}/v1/webhooks/stripe/{info.endpoint_token}"
    )
    assert expected in result.output
    secret = box(app).open(stored_row(app).secret_ciphertext)
    assert f"signing secret (shown once): {secret}" in result.output


def test_cli_connect_with_a_secret_and_base_url(cli: typer.Typer, app: App) -> None:
    result = run(
        cli,
        "sources",
        "connect",
        "--tenant",
        "acme",
        "--source",
        "stripe",
        "--secret",
        SECRET,
        "--base-url",
        "https://ops.example.com/",
    )

    assert result.exit_code == 0
    (info,) = list_connections(app.sessions, tenant_id="acme")
    assert f"https://ops.example.com/v1/webhooks/stripe/{info.endpoint_token}" in result.output
    assert SECRET not in result.output
    assert box(app).open(stored_row(app).secret_ciphertext) == SECRET


def test_cli_refuses_a_short_secret_with_a_clear_error(cli: typer.Typer, app: App) -> None:
    result = run(cli, "sources", "connect", "-t", "acme", "-s", "stripe", "--secret", "x" * 31)

    assert result.exit_code == 1
    assert "at least 32 bytes" in result.output
    assert list_connections(app.sessions, tenant_id="acme") == []


def test_cli_list_rotate_and_disconnect(cli: typer.Typer, app: App) -> None:
    run(cli, "sources", "connect", "-t", "acme", "-s", "stripe", "--secret", SECRET)
    token = stored_row(app).endpoint_token

    listed = run(cli, "sources", "list", "-t", "acme", "--base-url", "https://x.test")
    rotated = run(cli, "sources", "rotate", "-t", "acme", "-s", "stripe")
    gone = run(cli, "sources", "disconnect", "-t", "acme", "-s", "stripe")
    again = run(cli, "sources", "disconnect", "-t", "acme", "-s", "stripe")

    assert listed.output.split()[:3] == [
        "stripe",
        "enabled",
        f"https://x.test/v1/webhooks/stripe/{token}",
    ]
    assert rotated.exit_code == 0
    assert box(app).open(stored_row(app).secret_ciphertext) != SECRET
    assert "signing secret (shown once)" in rotated.output
    assert gone.exit_code == 0
    assert stored_row(app).disabled_at is not None
    assert again.exit_code == 1
    assert "not connected" in again.output


def test_cli_refuses_a_second_connect_with_exit_code_1(cli: typer.Typer, app: App) -> None:
    run(cli, "sources", "connect", "-t", "acme", "-s", "stripe", "--secret", SECRET)

    second = run(cli, "sources", "connect", "-t", "acme", "-s", "stripe", "--secret", "x" * 40)

    assert second.exit_code == 1
    assert "already connected" in second.output
    assert box(app).open(stored_row(app).secret_ciphertext) == SECRET


# --- API -------------------------------------------------------------------------------------


def test_an_admin_connects_over_the_api_and_the_url_works(app: App, clock: FixedClock) -> None:
    admin = key_for(app, tenant_id="acme", name="boss", role=Role.ADMIN, clock=clock)

    with webhook_client(app, headers={"Authorization": f"Bearer {admin.secret}"}) as client:
        response = client.post(
            "/v1/sources", json={"source": "stripe", "base_url": "https://ops.example.com"}
        )
        body = response.json()
        token = body["endpoint_url"].rsplit("/", 1)[-1]
        delivery = stripe_event("payment_intent.succeeded", created=clock.now())
        webhook = post(
            client, delivery, token=token, secret=body["generated_secret"], now=clock.now()
        )

    assert response.status_code == 201
    assert body["endpoint_url"] == f"https://ops.example.com/v1/webhooks/stripe/{token}"
    assert webhook.status_code == 202
    (actor,) = [r.actor for r in audit_records(app)]
    assert actor == authenticate(app.sessions, admin.secret, clock=clock).subject  # not the name
    assert actor.startswith("user:")


@pytest.mark.parametrize("role", [Role.SERVICE, Role.VIEWER, Role.AGENT])
def test_only_an_admin_may_connect_over_the_api(app: App, clock: FixedClock, role: Role) -> None:
    key = key_for(app, tenant_id="acme", name="k", role=role, clock=clock)

    with webhook_client(app, headers={"Authorization": f"Bearer {key.secret}"}) as client:
        response = client.post("/v1/sources", json={"source": "stripe"})

    assert response.status_code == 403
    assert list_connections(app.sessions, tenant_id="acme") == []


def test_the_api_refuses_a_short_secret(app: App, clock: FixedClock) -> None:
    admin = key_for(app, tenant_id="acme", name="boss", role=Role.ADMIN, clock=clock)

    with webhook_client(app, headers={"Authorization": f"Bearer {admin.secret}"}) as client:
        response = client.post("/v1/sources", json={"source": "stripe", "secret": "short"})

    assert response.status_code == 422
    assert list_connections(app.sessions, tenant_id="acme") == []


# --- schema ----------------------------------------------------------------------------------


def test_the_migration_builds_exactly_the_source_tables_of_the_models(app: App) -> None:
    mine = {SourceConnection.__tablename__, WebhookDelivery.__tablename__}
    with owner_engine(app).connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
        tables = set(owner_engine(app).dialect.get_table_names(connection))

    mentions_mine = [d for d in differences if any(name in repr(d) for name in mine)]

    assert mentions_mine == []
    assert mine <= tables
