"""Operators and the outbox: list and filter, inspect attempts, retry and cancel (API and CLI)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
import typer
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from builders.access import key_for
from builders.writeback import fast_runtime, make_case, stored_accounts
from orderops.api import outbox as outbox_api
from orderops.api.app import create_app
from orderops.bootstrap import App, bootstrap
from orderops.commands import outbox as outbox_commands
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.vendor_connections import VendorSystem
from orderops.storage.uow import UnitOfWork
from orderops.workflow.writeback_worker import run_writeback_once
from orderops.writeback.connections import WritebackSettings
from orderops.writeback.outbox import enqueue
from orderops.writeback.vendor_connections import add_connection

NOWHERE = WritebackSettings(
    _env_file=None, tenant="acme", stripe_url="http://127.0.0.1:9", shopify_url=None
)


@dataclass(frozen=True)
class Queue:
    case_id: str
    failed: str
    """stripe.teleport on o-1: no such operation, dead-lettered by the worker."""
    waiting: str
    """shopify.add_note on o-2: shopify is not configured, so it stays pending."""
    other_tenant: str


@pytest.fixture
def queue(app: App, clock: FixedClock) -> Queue:
    case_id = make_case(app, clock, order_ref="o-1")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        failed = enqueue(
            uow,
            system="stripe",
            operation="teleport",
            idempotency_key="k-1",
            payload={"to": "mars"},
            now=clock.now(),
            case_id=case_id,
            order_ref="o-1",
        )
        waiting = enqueue(
            uow,
            system="shopify",
            operation="add_note",
            idempotency_key="k-2",
            payload={"order_id": 1, "text": "hi"},
            now=clock.now(),
            order_ref="o-2",
        )
        uow.commit()
    with UnitOfWork(app.sessions, tenant_id="globex") as uow:
        other = enqueue(
            uow,
            system="stripe",
            operation="teleport",
            idempotency_key="k-1",
            payload={},
            now=clock.now(),
        )
        uow.commit()
    add_connection(  # globex's own account; NOWHERE (the environment's) is acme's alone
        app.sessions,
        tenant_id="globex",
        system=VendorSystem.STRIPE,
        base_url="http://127.0.0.1:9",
        secret="sk_test_globex_nowhere",
        mode=None,
        allow_test_mode=True,
        secret_key=app.settings.secret_key,
        clock=clock,
        actor="test",
    )
    runtime = fast_runtime(stored_accounts(app, fallback=NOWHERE), clock)
    assert run_writeback_once(app, worker_id="w-1", runtime=runtime) == 2  # one per tenant
    runtime.close()
    return Queue(case_id=case_id, failed=failed, waiting=waiting, other_tenant=other)


def client_for(app: App, clock: FixedClock, role: Role) -> TestClient:
    api = create_app(app)
    api.include_router(outbox_api.router)
    secret = key_for(app, tenant_id="acme", name=str(role), role=role, clock=clock)
    return TestClient(api, headers={"Authorization": f"Bearer {secret.secret}"})


def test_the_list_filters_by_status_system_case_and_order_within_the_tenant(
    app: App, clock: FixedClock, queue: Queue
) -> None:
    client = client_for(app, clock, Role.VIEWER)

    def ids(**params: str) -> list[str]:
        response = client.get("/v1/outbox", params=params)
        assert response.status_code == 200, response.text
        return [item["id"] for item in response.json()["items"]]

    assert sorted(ids()) == sorted([queue.failed, queue.waiting])
    assert ids(status="failed") == [queue.failed]
    assert ids(system="shopify") == [queue.waiting]
    assert ids(case_id=queue.case_id) == [queue.failed]
    assert ids(order_ref="o-2") == [queue.waiting]
    assert client.get(f"/v1/outbox/{queue.other_tenant}").status_code == 404


def test_a_message_shows_its_dead_letter_reason_and_every_attempt(
    app: App, clock: FixedClock, queue: Queue
) -> None:
    client = client_for(app, clock, Role.AGENT)

    detail = client.get(f"/v1/outbox/{queue.failed}").json()
    attempts = client.get("/v1/outbox/attempts", params={"case_id": queue.case_id}).json()

    assert detail["status"] == "failed"
    assert "no writeback operation stripe.teleport" in detail["dead_letter_reason"]
    assert [(a["number"], a["worker_id"], a["outcome"]) for a in detail["attempt_history"]] == [
        (1, "w-1", "failed")
    ]
    assert [(a["message_id"], a["system"]) for a in attempts["items"]] == [(queue.failed, "stripe")]


def test_only_outbox_managers_retry_and_a_retry_queues_the_message_again(
    app: App, clock: FixedClock, queue: Queue
) -> None:
    agent = client_for(app, clock, Role.AGENT)
    admin = client_for(app, clock, Role.ADMIN)

    refused = agent.post(f"/v1/outbox/{queue.failed}/retry")
    retried = admin.post(f"/v1/outbox/{queue.failed}/retry")

    assert refused.status_code == 403
    assert retried.status_code == 200, retried.text
    body = retried.json()
    assert (body["status"], body["dead_letter_reason"], body["attempts"]) == ("pending", None, 1)
    runtime = fast_runtime(NOWHERE, clock)
    assert run_writeback_once(app, worker_id="w-2", runtime=runtime) == 1
    history = admin.get(f"/v1/outbox/{queue.failed}").json()["attempt_history"]
    assert [(a["number"], a["worker_id"]) for a in history] == [(1, "w-1"), (2, "w-2")]


def test_cancel_stops_a_pending_message_and_a_delivered_one_cannot_be_retried_twice(
    app: App, clock: FixedClock, queue: Queue
) -> None:
    admin = client_for(app, clock, Role.ADMIN)

    cancelled = admin.post(f"/v1/outbox/{queue.waiting}/cancel")
    again = admin.post(f"/v1/outbox/{queue.waiting}/cancel")

    assert cancelled.json()["status"] == "cancelled"
    assert again.status_code == 409
    assert again.json()["type"].endswith("illegal-transition")


def test_the_cli_lists_shows_retries_and_cancels(app: App, clock: FixedClock, queue: Queue) -> None:
    cli = typer.Typer()
    outbox_commands.register(
        cli, app_factory=lambda: bootstrap(app.settings, clock=clock, migrate=False)
    )
    runner = CliRunner()

    listed = runner.invoke(cli, ["outbox", "list", "-t", "acme", "--status", "failed"])
    shown = runner.invoke(cli, ["outbox", "show", "-t", "acme", queue.failed])
    attempts = runner.invoke(cli, ["outbox", "attempts", "-t", "acme", "--order", "o-1"])
    retried = runner.invoke(cli, ["outbox", "retry", "-t", "acme", queue.failed])
    cancelled = runner.invoke(cli, ["outbox", "cancel", "-t", "acme", queue.failed])
    refused = runner.invoke(cli, ["outbox", "retry", "-t", "acme", queue.waiting])

    assert listed.exit_code == 0, listed.output
    assert queue.failed in listed.output
    assert queue.waiting not in listed.output
    assert "1 of 1" in listed.output
    assert "dead letter: permanent error" in shown.output
    assert queue.failed in attempts.output
    assert retried.output.strip() == f"{queue.failed} is pending"
    assert cancelled.output.strip() == f"{queue.failed} is cancelled"
    assert refused.exit_code == 1
    assert "cannot move from pending to pending" in refused.output
