"""Vendor connections per tenant and environment, as the writeback worker uses them.

Each tenant's messages go to its own account with its own credential, read from the
``vendor_connections`` table; a test environment never reaches a live account, at add
time or at delivery; a rotation takes effect at the next delivery; the environment's
``ORDEROPS_WRITEBACK_*`` reach only the tenant they name. Stripe sandboxes behind a
recorder show the Authorization each request carried.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from builders.writeback import QUICK_RETRY
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.vendor_connections import (
    AccountMode,
    EnvironmentBoundary,
    InvalidConnection,
    VendorSystem,
)
from orderops.ingest.connections import SecretBox
from orderops.sandbox import run_sandbox
from orderops.sandbox.stripe import StripeSandbox
from orderops.storage.tables import AuditRecord, OutboxMessage
from orderops.storage.tables.vendor_connections import VendorConnection
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant
from orderops.workflow.writeback_worker import WritebackRuntime, run_writeback_once
from orderops.writeback.connections import ConnectorPool, WritebackSettings
from orderops.writeback.outbox import enqueue
from orderops.writeback.vendor_connections import (
    ConnectionExists,
    StoredAccounts,
    add_connection,
    check_connection,
    list_connections,
    remove_connection,
    rotate_connection,
)

KEY_A = "sk_test_acme_0123456789"
KEY_B = "sk_test_globex_9876543210"


@dataclass
class Recorder:
    """An ASGI wrapper keeping the Authorization header of every request."""

    app: Any
    seen: list[str] = field(default_factory=list)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            headers = dict(scope["headers"])
            self.seen.append(headers.get(b"authorization", b"").decode())
        await self.app(scope, receive, send)


@dataclass
class Stripe:
    sandbox: StripeSandbox
    recorder: Recorder
    url: str


@pytest.fixture
def stripes() -> Iterator[dict[str, Stripe]]:
    with ExitStack() as stack:
        made = {}
        for tenant, key in (("acme", KEY_A), ("globex", KEY_B)):
            sandbox = StripeSandbox(api_key=key)
            recorder = Recorder(sandbox.app)
            made[tenant] = Stripe(sandbox, recorder, stack.enter_context(run_sandbox(recorder)))
        yield made


def runtime(
    app: App, clock: FixedClock, fallback: WritebackSettings | None = None
) -> WritebackRuntime:
    source = StoredAccounts(app.sessions, secret_key=app.settings.secret_key, fallback=fallback)
    pool = ConnectorPool(source, clock=clock, retry=QUICK_RETRY, sleep=lambda _s: None)
    return WritebackRuntime(connectors=pool, rand=lambda: 0.5)


def connect(app: App, clock: FixedClock, tenant: str, url: str, key: str, **extra: Any) -> None:
    add_connection(
        app.sessions,
        tenant_id=tenant,
        system=VendorSystem.STRIPE,
        base_url=url,
        secret=key,
        mode=None,
        allow_test_mode=True,
        secret_key=app.settings.secret_key,
        clock=clock,
        actor="admin@test",
        **extra,
    )


def queue_refund(app: App, clock: FixedClock, tenant: str, stripe: Stripe, key: str) -> str:
    intent = stripe.sandbox.add_payment_intent(amount=5000)
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        message_id = enqueue(
            uow,
            system="stripe",
            operation="refund",
            idempotency_key=key,
            payload={"payment_intent": intent, "amount_minor": 1200},
            now=clock.now(),
        )
        uow.commit()
    return message_id


def message(app: App, tenant: str, message_id: str) -> OutboxMessage:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        row = uow.session.get(OutboxMessage, message_id)
        assert row is not None
        uow.session.expunge(row)
        return row


def refunds(stripe: Stripe) -> int:
    return len(stripe.sandbox.control.ledger.entries("refund.created"))


def test_each_tenant_is_delivered_with_its_own_credential_to_its_own_account(
    app: App, clock: FixedClock, stripes: dict[str, Stripe]
) -> None:
    connect(app, clock, "acme", stripes["acme"].url, KEY_A)
    connect(app, clock, "globex", stripes["globex"].url, KEY_B)
    globex_message = queue_refund(app, clock, "globex", stripes["globex"], "k-globex")

    run_writeback_once(app, worker_id="w-1", runtime=runtime(app, clock))

    assert message(app, "globex", globex_message).status == "delivered"
    assert refunds(stripes["globex"]) == 1
    assert set(stripes["globex"].recorder.seen) == {f"Bearer {KEY_B}"}
    assert stripes["acme"].recorder.seen == []
    assert refunds(stripes["acme"]) == 0


def test_the_environment_settings_reach_only_the_tenant_they_name(
    app: App, clock: FixedClock, stripes: dict[str, Stripe]
) -> None:
    fallback = WritebackSettings(
        _env_file=None,
        tenant="acme",
        allow_test_mode=True,
        stripe_url=stripes["acme"].url,
        stripe_api_key=KEY_A,
    )
    acme_message = queue_refund(app, clock, "acme", stripes["acme"], "k-acme")
    globex_message = queue_refund(app, clock, "globex", stripes["acme"], "k-globex")

    run_writeback_once(app, worker_id="w-1", runtime=runtime(app, clock, fallback))

    assert message(app, "acme", acme_message).status == "delivered"
    assert message(app, "globex", globex_message).status == "pending"
    assert refunds(stripes["acme"]) == 1


def test_a_stored_connection_replaces_the_environment_settings_for_its_tenant(
    app: App, clock: FixedClock, stripes: dict[str, Stripe]
) -> None:
    fallback = WritebackSettings(
        _env_file=None,
        tenant="acme",
        allow_test_mode=True,
        stripe_url=stripes["globex"].url,
        stripe_api_key=KEY_B,
    )
    connect(app, clock, "acme", stripes["acme"].url, KEY_A)
    queue_refund(app, clock, "acme", stripes["acme"], "k-acme")

    run_writeback_once(app, worker_id="w-1", runtime=runtime(app, clock, fallback))

    assert refunds(stripes["acme"]) == 1
    assert stripes["globex"].recorder.seen == []


def test_a_rotation_is_used_by_the_next_delivery(
    app: App, clock: FixedClock, stripes: dict[str, Stripe]
) -> None:
    stripe = stripes["acme"]
    connect(app, clock, "acme", stripe.url, KEY_A)
    worker = runtime(app, clock)
    queue_refund(app, clock, "acme", stripe, "k-1")
    run_writeback_once(app, worker_id="w-1", runtime=worker)

    stripe.sandbox.api_key = "sk_test_rotated_555555"
    view = rotate_connection(
        app.sessions,
        tenant_id="acme",
        system=VendorSystem.STRIPE,
        secret="sk_test_rotated_555555",
        secret_key=app.settings.secret_key,
        clock=clock,
        actor="admin@test",
    )
    second = queue_refund(app, clock, "acme", stripe, "k-2")
    run_writeback_once(app, worker_id="w-1", runtime=worker)

    assert view.version == 2
    assert message(app, "acme", second).status == "delivered"
    assert stripe.recorder.seen[-1] == "Bearer sk_test_rotated_555555"
    assert refunds(stripe) == 2


def test_a_test_environment_refuses_a_live_key_when_added_and_when_rotated(
    app: App, clock: FixedClock
) -> None:
    ensure_tenant(app.sessions, tenant_id="acme.test", name="Acme test", clock=clock)
    with pytest.raises(EnvironmentBoundary, match="test environment"):
        connect(app, clock, "acme.test", "https://api.stripe.com", "sk_live_abcdefgh12345")
    with pytest.raises(EnvironmentBoundary, match="test environment"):
        add_connection(
            app.sessions,
            tenant_id="acme.test",
            system=VendorSystem.WMS,
            base_url="https://wms.example.com",
            secret="wms-live-key-123",
            mode=AccountMode.LIVE,
            secret_key=app.settings.secret_key,
            clock=clock,
            actor="admin@test",
        )
    connect(app, clock, "acme.test", "https://api.stripe.com", "sk_test_abcdefgh12345")
    with pytest.raises(EnvironmentBoundary):
        rotate_connection(
            app.sessions,
            tenant_id="acme.test",
            system=VendorSystem.STRIPE,
            secret="sk_live_abcdefgh12345",
            secret_key=app.settings.secret_key,
            clock=clock,
            actor="admin@test",
        )
    [stored] = list_connections(app.sessions, tenant_id="acme.test")
    assert (stored.mode, stored.version) == ("test", 1)


def test_a_live_row_written_around_the_service_is_refused_at_delivery(
    app: App, clock: FixedClock, stripes: dict[str, Stripe]
) -> None:
    ensure_tenant(app.sessions, tenant_id="acme.test", name="Acme test", clock=clock)
    stripe = stripes["acme"]
    stripe.sandbox.api_key = "sk_live_restored_backup_1"
    with UnitOfWork(app.sessions, tenant_id="acme.test") as uow:
        uow.session.add(
            VendorConnection(
                tenant_id="acme.test",
                system="stripe",
                base_url=stripe.url,
                username=None,
                secret_ciphertext=SecretBox(app.settings.secret_key).seal(
                    "sk_live_restored_backup_1", now=clock.now()
                ),
                secret_fingerprint="fp_x",
                mode="live",
                allow_test_mode=False,
                version=1,
                created_at=clock.now(),
                created_by="restore",
            )
        )
        uow.commit()
    message_id = queue_refund(app, clock, "acme.test", stripe, "k-test-env")

    run_writeback_once(app, worker_id="w-1", runtime=runtime(app, clock))

    refused = message(app, "acme.test", message_id)
    assert refused.status == "failed"
    assert "test environment" in (refused.last_error or "")
    assert stripe.recorder.seen == []


def test_a_live_environment_refuses_a_test_stripe_key_unless_allowed(
    app: App, clock: FixedClock
) -> None:
    with pytest.raises(EnvironmentBoundary, match="allow_test_mode"):
        add_connection(
            app.sessions,
            tenant_id="acme",
            system=VendorSystem.STRIPE,
            base_url="https://api.stripe.com",
            secret=KEY_A,
            mode=None,
            secret_key=app.settings.secret_key,
            clock=clock,
            actor="admin@test",
        )
    assert list_connections(app.sessions, tenant_id="acme") == []


def test_a_second_connection_for_a_system_is_refused_and_remove_forgets_it(
    app: App, clock: FixedClock
) -> None:
    connect(app, clock, "acme", "https://api.stripe.com", KEY_A)
    with pytest.raises(ConnectionExists):
        connect(app, clock, "acme", "https://api.stripe.com", KEY_B)
    remove_connection(
        app.sessions, tenant_id="acme", system=VendorSystem.STRIPE, clock=clock, actor="a"
    )
    assert list_connections(app.sessions, tenant_id="acme") == []
    assert StoredAccounts(app.sessions, secret_key=app.settings.secret_key).accounts("acme") == {}


def test_connections_are_invisible_to_another_tenant(app: App, clock: FixedClock) -> None:
    connect(app, clock, "acme", "https://api.stripe.com", KEY_A)

    assert list_connections(app.sessions, tenant_id="globex") == []
    assert StoredAccounts(app.sessions, secret_key=app.settings.secret_key).accounts("globex") == {}


@pytest.mark.parametrize(
    ("base_url", "secret", "complaint"),
    [
        ("ftp://api.stripe.com", KEY_A, "http"),
        ("http://api.stripe.com", KEY_A, "loopback"),
        ("https://user:pw@api.stripe.com", KEY_A, "user"),
        ("https://" + "a" * 600 + ".com", KEY_A, "characters"),
        ("https://api.stripe.com", "sk_test_" + "x" * 5000, "characters"),
        ("https://api.stripe.com", "short", "characters"),
        ("https://api.stripe.com", "pk_test_publishable1", "sk_test_"),
        ("https://api.stripe.com", "sk_test_has space x", "spaces"),
    ],
)
def test_malformed_connections_are_refused_with_the_reason(
    app: App, clock: FixedClock, base_url: str, secret: str, complaint: str
) -> None:
    with pytest.raises(InvalidConnection, match=complaint):
        connect(app, clock, "acme", base_url, secret)
    assert list_connections(app.sessions, tenant_id="acme") == []


def test_check_makes_one_authenticated_read_and_says_what_failed(
    app: App, clock: FixedClock, stripes: dict[str, Stripe]
) -> None:
    stripe = stripes["acme"]
    connect(app, clock, "acme", stripe.url, KEY_A)
    ok = check_connection(
        app.sessions,
        tenant_id="acme",
        system=VendorSystem.STRIPE,
        secret_key=app.settings.secret_key,
        clock=clock,
        actor="admin@test",
    )
    stripe.sandbox.api_key = "sk_test_someone_else_1"
    refused = check_connection(
        app.sessions,
        tenant_id="acme",
        system=VendorSystem.STRIPE,
        secret_key=app.settings.secret_key,
        clock=clock,
        actor="admin@test",
    )

    assert (ok.ok, ok.status) == (True, 200)
    assert (refused.ok, refused.status) == (False, 401)
    assert "refused the credential" in refused.detail
    assert stripe.sandbox.control.requests() == [("GET", "/v1/refunds")] * 2


def test_no_audit_record_holds_a_credential(
    app: App, clock: FixedClock, stripes: dict[str, Stripe]
) -> None:
    connect(app, clock, "acme", stripes["acme"].url, KEY_A)
    rotate_connection(
        app.sessions,
        tenant_id="acme",
        system=VendorSystem.STRIPE,
        secret=KEY_B,
        secret_key=app.settings.secret_key,
        clock=clock,
        actor="admin@test",
    )
    check_connection(
        app.sessions,
        tenant_id="acme",
        system=VendorSystem.STRIPE,
        secret_key=app.settings.secret_key,
        clock=clock,
        actor="admin@test",
    )
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        records = uow.session.scalars(
            select(AuditRecord)
            .where(AuditRecord.action.like("connection.%"))
            .order_by(AuditRecord.seq)
        ).all()
        actions = [r.action for r in records]
        dumped = json.dumps([r.data for r in records])
        ciphertext = uow.session.scalar(select(VendorConnection.secret_ciphertext))

    assert actions == [
        "connection.added",
        "connection.rotated",
        "connection.tested",
    ]
    assert KEY_A not in dumped
    assert KEY_B not in dumped
    assert KEY_B not in (ciphertext or "")


def test_no_log_line_holds_a_credential(
    app: App, clock: FixedClock, stripes: dict[str, Stripe], caplog: pytest.LogCaptureFixture
) -> None:
    stripe = stripes["acme"]
    with caplog.at_level(logging.DEBUG):
        connect(app, clock, "acme", stripe.url, KEY_A)
        queue_refund(app, clock, "acme", stripe, "k-logged")
        stripe.sandbox.api_key = "sk_test_not_ours_000000"  # a refusal: errors get logged
        run_writeback_once(app, worker_id="w-1", runtime=runtime(app, clock))
        rotate_connection(
            app.sessions,
            tenant_id="acme",
            system=VendorSystem.STRIPE,
            secret=KEY_B,
            secret_key=app.settings.secret_key,
            clock=clock,
            actor="admin@test",
        )
        check_connection(
            app.sessions,
            tenant_id="acme",
            system=VendorSystem.STRIPE,
            secret_key=app.settings.secret_key,
            clock=clock,
            actor="admin@test",
        )

    assert len(caplog.records) > 0
    assert KEY_A not in caplog.text
    assert KEY_B not in caplog.text
