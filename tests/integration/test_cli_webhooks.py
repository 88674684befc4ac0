"""`orderops webhooks`: outbound webhook subscriptions from a terminal, on both databases.

The same services as /v1/webhook-subscriptions: the signing secret is printed by ``add``
and ``rotate`` and nowhere else, every change is audited as ``cli``, and a listing has
``--json`` for scripts.
"""

from __future__ import annotations

import json
from typing import Any

import typer
from sqlalchemy import select
from typer.testing import CliRunner, Result

from builders.outbound_webhooks import failed_delivery
from orderops.bootstrap import App
from orderops.commands import webhooks
from orderops.commands.errors import CleanErrors
from orderops.domain.clock import FixedClock
from orderops.storage.tables.audit import AuditRecord
from orderops.storage.uow import UnitOfWork

URL = "https://ops.example.com/hooks/orderops"


def _run(app: App, *args: str) -> Result:
    shell = typer.Typer(cls=CleanErrors)
    webhooks.register(shell, make_app=lambda: app)
    return CliRunner().invoke(shell, ["webhooks", *args], env={"COLUMNS": "250"})


def _listed(app: App) -> list[dict[str, Any]]:
    result = _run(app, "list", "--tenant", "acme", "--json")
    assert result.exit_code == 0, result.output
    items: list[dict[str, Any]] = json.loads(result.stdout)["items"]
    return items


def _add(app: App) -> tuple[str, str]:
    """Subscribe URL to case.opened and case.resolved: (subscription id, secret)."""
    result = _run(
        app, "add", "--tenant", "acme", "--url", URL, "-e", "case.opened", "-e", "case.resolved"
    )
    assert result.exit_code == 0, result.output
    secret = result.stdout.strip()
    subscription_id = _listed(app)[0]["id"]
    return subscription_id, secret


def test_add_prints_the_secret_once_and_listings_never_show_it(app: App) -> None:
    subscription_id, secret = _add(app)

    assert secret.startswith("whsec_")
    listed = _run(app, "list", "--tenant", "acme", "--json")
    shown = _run(app, "show", "--tenant", "acme", subscription_id, "--json")
    table = _run(app, "list", "--tenant", "acme")
    for result in (listed, shown, table):
        assert result.exit_code == 0, result.output
        assert secret not in result.output
        assert secret.removeprefix("whsec_") not in result.output
    (item,) = json.loads(listed.stdout)["items"]
    assert item["url"] == URL
    assert item["event_types"] == ["case.opened", "case.resolved"]
    assert item["enabled"] is True
    assert "secret" not in item
    assert json.loads(shown.stdout)["id"] == subscription_id
    assert subscription_id in table.stdout


def test_add_is_audited_as_the_cli(app: App) -> None:
    subscription_id, _ = _add(app)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        actors = uow.session.scalars(
            select(AuditRecord.actor).where(
                AuditRecord.tenant_id == "acme", AuditRecord.entity_id == subscription_id
            )
        ).all()
    assert actors == ["cli"]


def test_add_json_carries_the_secret_for_a_script(app: App) -> None:
    result = _run(app, "add", "--tenant", "acme", "--url", URL, "--event", "case.opened", "--json")

    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["secret"].startswith("whsec_")
    assert document["event_types"] == ["case.opened"]


def test_disable_and_enable_switch_the_subscription(app: App) -> None:
    subscription_id, _ = _add(app)

    off = _run(app, "disable", "--tenant", "acme", subscription_id)
    assert off.exit_code == 0, off.output
    assert "disabled" in off.stdout
    assert _listed(app)[0]["enabled"] is False
    assert _listed(app)[0]["disabled_reason"] == "disabled by cli"

    on = _run(app, "enable", "--tenant", "acme", subscription_id)
    assert on.exit_code == 0, on.output
    assert _listed(app)[0]["enabled"] is True


def test_rotate_prints_a_new_secret_and_counts_the_version(app: App) -> None:
    subscription_id, first = _add(app)

    result = _run(app, "rotate", "--tenant", "acme", subscription_id, "--overlap", "0")

    assert result.exit_code == 0, result.output
    second = result.stdout.strip()
    assert second.startswith("whsec_")
    assert second != first
    (item,) = _listed(app)
    assert item["secret_version"] == 2
    assert item["previous_secret_until"] is None


def test_deliveries_lists_the_log_and_redeliver_queues_a_failed_one(
    app: App, clock: FixedClock
) -> None:
    subscription_id, _ = _add(app)
    message_id = failed_delivery(app, clock, subscription_id)

    before = _run(app, "deliveries", "--tenant", "acme", subscription_id, "--json")
    again = _run(app, "redeliver", "--tenant", "acme", subscription_id, message_id)
    after = _run(app, "deliveries", "--tenant", "acme", subscription_id, "--json")

    assert before.exit_code == 0, before.output
    (failed,) = json.loads(before.stdout)["items"]
    assert failed["id"] == message_id
    assert failed["status"] == "failed"
    assert failed["event_type"] == "case.opened"
    assert again.exit_code == 0, again.output
    assert "queued" in again.stdout
    assert [d["status"] for d in json.loads(after.stdout)["items"]] == ["pending"]


def test_remove_forgets_the_subscription(app: App) -> None:
    subscription_id, _ = _add(app)

    result = _run(app, "remove", "--tenant", "acme", subscription_id)

    assert result.exit_code == 0, result.output
    assert _listed(app) == []
    assert "no webhook subscriptions" in _run(app, "list", "--tenant", "acme").stdout


def test_a_plain_http_url_is_refused_with_one_line(app: App) -> None:
    result = _run(
        app, "add", "--tenant", "acme", "--url", "http://ops.example.com/h", "-e", "case.opened"
    )

    assert result.exit_code == 1
    assert result.stdout.strip() == "error: url must use https"
    assert _listed(app) == []


def test_an_unknown_event_type_is_a_usage_error(app: App) -> None:
    result = _run(app, "add", "--tenant", "acme", "--url", URL, "-e", "case.closed")

    assert result.exit_code == 2
    assert "case.closed" in result.output
    assert _listed(app) == []


def test_another_tenants_subscription_is_not_found(app: App) -> None:
    subscription_id, _ = _add(app)

    result = _run(app, "disable", "--tenant", "globex", subscription_id)

    assert result.exit_code == 1
    assert "error:" in result.stdout
    assert _listed(app)[0]["enabled"] is True
