"""Rotating a webhook signing secret with an overlap: deliveries signed with either secret
verify until the overlap ends, then only the new one; a forged signature never does."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from builders.database_roles import owner_sessions
from builders.webhooks import metrics_of, post, shopify, shopify_order, stripe_event, webhook_client
from orderops.bootstrap import App
from orderops.commands.sources import register
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import (
    InvalidSecret,
    SecretBox,
    WebhookSource,
    connect_source,
    disconnect_source,
    list_connections,
    resolve_endpoint,
    rotate_secret,
)
from orderops.ingest.webhook_metrics import RejectReason
from orderops.storage.tables import AuditRecord
from orderops.storage.tables.sources import WebhookDelivery

OLD = "whsec_the_old_signing_secret_0123456789abcdef"
NEW = "whsec_the_new_signing_secret_0123456789abcdef"
NEWER = "whsec_the_newer_signing_secret_0123456789abcd"
FORGED = "whsec_someone_elses_secret_0123456789abcdefgh"
DAY = timedelta(hours=24)


@pytest.fixture
def client(app: App) -> Iterator[TestClient]:
    with webhook_client(app) as test_client:
        yield test_client


def connect(app: App, source: WebhookSource = WebhookSource.STRIPE) -> str:
    change = connect_source(
        app.sessions,
        tenant_id="acme",
        source=source,
        box=SecretBox(app.settings.secret_key),
        clock=app.clock,
        actor="test",
        secret=OLD,
    )
    return change.connection.endpoint_token


def rotate(
    app: App,
    secret: str,
    overlap: timedelta,
    source: WebhookSource = WebhookSource.STRIPE,
) -> Any:
    return rotate_secret(
        app.sessions,
        tenant_id="acme",
        source=source,
        box=SecretBox(app.settings.secret_key),
        clock=app.clock,
        actor="test",
        secret=secret,
        overlap=overlap,
    )


def deliver(client: TestClient, token: str, secret: str, clock: FixedClock) -> Any:
    """A fresh Stripe event signed with ``secret`` at the desk's now."""
    return post(
        client,
        stripe_event("payment_intent.succeeded", created=clock.now()),
        token=token,
        secret=secret,
        now=clock.now(),
    )


def connect_token(app: App) -> str:
    (info,) = list_connections(app.sessions, tenant_id="acme")
    return info.endpoint_token


def stored_deliveries(app: App) -> int:
    with owner_sessions(app)() as session:
        return len(session.scalars(select(WebhookDelivery.id)).all())


def test_both_secrets_verify_during_the_overlap_and_only_the_new_one_after(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app)
    rotate(app, NEW, DAY)

    clock.advance(DAY - timedelta(seconds=1))
    old_during = deliver(client, token, OLD, clock)
    new_during = deliver(client, token, NEW, clock)
    clock.advance(timedelta(seconds=1))
    old_after = deliver(client, token, OLD, clock)
    new_after = deliver(client, token, NEW, clock)

    assert (old_during.status_code, new_during.status_code) == (202, 202)
    assert old_after.status_code == 401
    assert "does not match" in old_after.json()["detail"]
    assert new_after.status_code == 202
    assert stored_deliveries(app) == 3


def test_a_forged_signature_is_refused_during_the_overlap_and_counted(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app)
    rotate(app, NEW, DAY)

    forged = deliver(client, token, FORGED, clock)

    assert forged.status_code == 401
    assert (
        metrics_of(client).rejected_count(source="stripe", reason=RejectReason.BAD_SIGNATURE) == 1
    )
    assert stored_deliveries(app) == 0


def test_a_stale_delivery_signed_with_the_old_secret_is_refused_as_stale(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app)
    rotate(app, NEW, DAY)

    replayed = post(
        client,
        stripe_event("payment_intent.succeeded", created=clock.now()),
        token=token,
        secret=OLD,
        now=clock.now() - timedelta(minutes=10),
    )

    assert replayed.status_code == 401
    assert "outside the 300 s window" in replayed.json()["detail"]
    reason = RejectReason.STALE_TIMESTAMP
    assert metrics_of(client).rejected_count(source="stripe", reason=reason) == 1


def test_a_rotation_without_overlap_refuses_the_old_secret_at_once(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app, WebhookSource.SHOPIFY)
    rotate(app, NEW, timedelta(0), WebhookSource.SHOPIFY)
    delivery = shopify("orders/create", shopify_order())

    old = post(client, delivery, token=token, secret=OLD, now=clock.now())
    new = post(client, delivery, token=token, secret=NEW, now=clock.now())

    assert (old.status_code, new.status_code) == (401, 202)


def test_rotating_again_during_an_overlap_keeps_only_the_secret_just_replaced(
    client: TestClient, app: App, clock: FixedClock
) -> None:
    token = connect(app)
    rotate(app, NEW, DAY)
    clock.advance(timedelta(hours=1))
    rotate(app, NEWER, DAY)

    oldest = deliver(client, token, OLD, clock)
    replaced = deliver(client, token, NEW, clock)
    current = deliver(client, token, NEWER, clock)

    assert (oldest.status_code, replaced.status_code, current.status_code) == (401, 202, 202)


def test_a_reconnected_source_trusts_no_earlier_secret(app: App, clock: FixedClock) -> None:
    connect(app)
    rotate(app, NEW, DAY)
    disconnect_source(
        app.sessions, tenant_id="acme", source=WebhookSource.STRIPE, clock=clock, actor="test"
    )
    token = connect(app)

    endpoint = resolve_endpoint(
        app.sessions,
        source="stripe",
        endpoint_token=token,
        box=SecretBox(app.settings.secret_key),
    )

    assert endpoint.secrets_at(clock.now()) == (OLD,)


def test_a_negative_overlap_is_refused_and_changes_nothing(app: App, clock: FixedClock) -> None:
    token = connect(app)

    with pytest.raises(InvalidSecret, match="cannot be negative"):
        rotate(app, NEW, -timedelta(hours=1))

    endpoint = resolve_endpoint(
        app.sessions, source="stripe", endpoint_token=token, box=SecretBox(app.settings.secret_key)
    )
    assert endpoint.secrets_at(clock.now()) == (OLD,)


def test_the_rotation_is_audited_with_its_window_and_without_either_secret(
    app: App, clock: FixedClock
) -> None:
    connect(app)
    rotate(app, NEW, timedelta(hours=6))

    with owner_sessions(app)() as session:
        (record,) = session.scalars(
            select(AuditRecord).where(AuditRecord.action == "source.secret_rotated")
        ).all()
        data = dict(record.data)
    assert data["previous_valid_until"] == (clock.now() + timedelta(hours=6)).isoformat()
    assert OLD not in str(data)
    assert NEW not in str(data)


# --- the command -----------------------------------------------------------------------------


class _Kept(App):
    def close(self) -> None:
        return None


@pytest.fixture
def cli(app: App) -> typer.Typer:
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    group = typer.Typer()
    register(group, app_factory=lambda: kept)
    return group


def test_the_command_keeps_the_old_secret_for_the_configured_window_by_default(
    cli: typer.Typer, app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "300")
    connect(app)
    app.settings.webhook_secret_overlap_hours = 36

    rotated = CliRunner().invoke(cli, ["sources", "rotate", "-t", "acme", "-s", "stripe"])
    listed = CliRunner().invoke(cli, ["sources", "list", "-t", "acme"])

    until = (clock.now() + timedelta(hours=36)).isoformat(timespec="seconds")
    assert rotated.exit_code == 0, rotated.output
    assert f"the old secret still verifies until {until}" in rotated.output
    assert f"old secret until {until}" in listed.output


def test_the_command_takes_an_overlap_and_refuses_a_malformed_one(
    cli: typer.Typer, app: App, clock: FixedClock
) -> None:
    connect(app)

    bad = CliRunner().invoke(
        cli, ["sources", "rotate", "-t", "acme", "-s", "stripe", "--overlap", "a while"]
    )
    none = CliRunner().invoke(
        cli, ["sources", "rotate", "-t", "acme", "-s", "stripe", "--overlap", "0"]
    )

    assert bad.exit_code == 1
    assert "'a while' is not a number with a unit" in bad.output
    assert none.exit_code == 0, none.output
    assert "the old secret no longer verifies" in none.output
    endpoint = resolve_endpoint(
        app.sessions,
        source="stripe",
        endpoint_token=connect_token(app),
        box=SecretBox(app.settings.secret_key),
    )
    assert OLD not in endpoint.secrets_at(clock.now())
    assert len(endpoint.secrets_at(clock.now())) == 1
