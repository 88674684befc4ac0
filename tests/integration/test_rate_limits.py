"""Rate limits per tenant and per API key, on ingest and on the rest of the API (issue #12).

A refused request is 429 problem+json with Retry-After and the RateLimit fields of
draft-ietf-httpapi-ratelimit-headers; nothing of it is done, so a webhook provider's retry
after the window is stored like a first delivery. Windows are fixed and aligned to the
epoch; the limiter reads a clock of its own, which these tests hold and move (T0 is on a
whole minute, so every window starts there). Counts live in the database, or in Redis
when one is configured; several processes share them.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import pytest
import typer
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import event, func, select
from typer.testing import CliRunner

from builders.access import key_for
from builders.events import order_placed
from builders.rate_limits import REDIS_URL, redis_or_skip
from builders.webhooks import Delivery, shopify, shopify_order
from builders.webhooks import post as post_webhook
from orderops.api.app import create_app
from orderops.api.rate_limits import limiter_for
from orderops.bootstrap import App
from orderops.commands.errors import CleanErrors
from orderops.commands.limits import register
from orderops.console.accounts import sign_in
from orderops.console.throttle import Attempt, SignInThrottle, SignInThrottled
from orderops.domain.clock import FixedClock
from orderops.domain.errors import Unauthorized
from orderops.domain.rate_limits import RateScope
from orderops.domain.roles import Role
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source
from orderops.storage.tables import AuditRecord, WebhookDelivery
from orderops.storage.tables.rate_limits import RateLimitWindow
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.rate_limits import OVERRIDE_TTL
from orderops.tenancy.tenant_rate_limits import tenant_quotas
from orderops.tenancy.tenants import ensure_tenant

SECRET = "rate-limit-test-signing-secret-0123456789"
SECOND = timedelta(seconds=1)


class _Kept(App):
    """The test's database and clock under other settings; commands leave it open."""

    def close(self) -> None:
        return None


@dataclass
class Desk:
    app: App
    clock: FixedClock
    http: TestClient
    tokens: dict[str, str]
    """Each tenant's Shopify webhook token."""

    def deliver(self, delivery: Delivery, tenant: str = "acme") -> Any:
        return post_webhook(
            self.http, delivery, token=self.tokens[tenant], secret=SECRET, now=self.clock.now()
        )

    def key(self, tenant: str = "acme", role: Role = Role.ADMIN) -> dict[str, str]:
        issued = key_for(self.app, tenant_id=tenant, name="k", role=role, clock=self.clock)
        return {"Authorization": f"Bearer {issued.secret}"}

    def stored(self, tenant: str = "acme") -> list[str]:
        """The provider delivery ids stored for the tenant."""
        with UnitOfWork(self.app.sessions, tenant_id=tenant, write=False) as uow:
            return sorted(uow.session.scalars(select(WebhookDelivery.delivery_id)))


def _settings(app: App, **limits: Any) -> App:
    return _Kept(
        settings=app.settings.model_copy(update=limits),
        engine=app.engine,
        sessions=app.sessions,
        clock=app.clock,
    )


@contextmanager
def desk(
    app: App, clock: FixedClock, *, tenants: tuple[str, ...] = ("acme", "globex"), **limits: Any
) -> Iterator[Desk]:
    """The API under these settings, its limiter on the test's clock."""
    limited = _settings(app, **limits)
    tokens = {
        tenant: connect_source(
            app.sessions,
            tenant_id=tenant,
            source=WebhookSource.SHOPIFY,
            box=SecretBox(app.settings.secret_key),
            clock=clock,
            actor="test",
            secret=SECRET,
        ).connection.endpoint_token
        for tenant in tenants
    }
    api = create_app(limited)
    api.state.rate_limiter = limiter_for(limited, clock=clock)
    with TestClient(api) as http:
        yield Desk(limited, clock, http, tokens)


def order() -> Delivery:
    return shopify("orders/create", shopify_order(id=int(uuid.uuid4().int % 10**12)))


def refused(answer: Any) -> bool:
    return bool(
        answer.status_code == 429
        and answer.headers["content-type"] == "application/problem+json"
        and answer.json()["type"].endswith("/rate-limited")
    )


# --- ingest: webhooks -------------------------------------------------------------------------


def test_a_webhook_over_the_tenants_limit_is_refused_stored_nowhere_and_its_retry_is_stored(
    app: App, clock: FixedClock
) -> None:
    with desk(app, clock, rate_limit_ingest_per_tenant="2/second") as d:
        first, second, third = order(), order(), order()
        answers = [d.deliver(first), d.deliver(second)]
        assert [a.status_code for a in answers] == [202, 202]
        assert answers[0].headers["RateLimit-Policy"] == '"ingest-tenant";q=2;w=1'
        assert [a.headers["RateLimit"] for a in answers] == [
            '"ingest-tenant";r=1;t=1',
            '"ingest-tenant";r=0;t=1',
        ]

        over = d.deliver(third)
        assert refused(over), over.text
        assert over.headers["Retry-After"] == "1"
        assert over.headers["RateLimit"] == '"ingest-tenant";r=0;t=1'
        assert over.json()["policy"] == "ingest-tenant"
        assert third.headers["X-Shopify-Webhook-Id"] not in d.stored()
        assert len(d.stored()) == 2

        clock.advance(SECOND)  # the provider retries after Retry-After
        retried = d.deliver(third)
        assert retried.status_code == 202, retried.text
        assert retried.json()["accepted"] == 1
        assert third.headers["X-Shopify-Webhook-Id"] in d.stored()
        assert retried.headers["RateLimit"] == '"ingest-tenant";r=1;t=1'


def test_one_tenant_over_its_limit_leaves_another_tenants_webhooks_alone(
    app: App, clock: FixedClock
) -> None:
    with desk(app, clock, rate_limit_ingest_per_tenant="1/second") as d:
        assert d.deliver(order(), "acme").status_code == 202
        assert refused(d.deliver(order(), "acme"))
        answer = d.deliver(order(), "globex")
        assert answer.status_code == 202
        assert answer.headers["RateLimit"] == '"ingest-tenant";r=0;t=1'
        assert (len(d.stored("acme")), len(d.stored("globex"))) == (1, 1)


def test_once_a_window_is_spent_a_flood_is_refused_without_a_database_statement(
    app: App, clock: FixedClock
) -> None:
    with desk(app, clock, rate_limit_ingest_per_tenant="1/second") as d:
        assert d.deliver(order()).status_code == 202
        assert refused(d.deliver(order()))  # this one learns that the window is spent
        statements: list[str] = []

        def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
            statements.append(statement)

        event.listen(app.engine, "before_cursor_execute", record)
        try:
            flood = [d.deliver(order()) for _ in range(5)]
        finally:
            event.remove(app.engine, "before_cursor_execute", record)
        assert all(refused(answer) for answer in flood)
        assert (flood[0].headers["Retry-After"], statements) == ("1", [])
        unknown = post_webhook(d.http, order(), token="x" * 32, secret=SECRET, now=clock.now())
        assert unknown.status_code == 404  # an unknown URL still goes to its lookup
        assert len(d.stored()) == 1


def test_an_unknown_token_or_key_is_refused_before_any_limit_is_spent(
    app: App, clock: FixedClock
) -> None:
    with desk(
        app, clock, rate_limit_ingest_per_tenant="1/second", rate_limit_api_per_key="1/second"
    ) as d:
        delivery = order()
        unknown = post_webhook(d.http, delivery, token="nope" * 8, secret=SECRET, now=clock.now())
        assert unknown.status_code == 404
        assert "RateLimit" not in unknown.headers
        bad_key = d.http.get("/v1/cases", headers={"Authorization": "Bearer oo_not_a_key"})
        assert bad_key.status_code == 401
        with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
            assert uow.session.scalar(select(func.count()).select_from(RateLimitWindow)) == 0

        assert d.deliver(delivery).status_code == 202
        assert d.http.get("/v1/cases", headers=d.key()).status_code == 200


# --- keys and scopes ------------------------------------------------------------------------


def test_a_key_over_its_limit_is_refused_while_another_key_of_the_tenant_is_not(
    app: App, clock: FixedClock
) -> None:
    with desk(
        app, clock, rate_limit_api_per_key="2/second", rate_limit_api_per_tenant="3/second"
    ) as d:
        one, two = d.key(), d.key()
        answers = [d.http.get("/v1/cases", headers=one) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert answers[0].headers["RateLimit-Policy"] == ('"api-key";q=2;w=1, "api-tenant";q=3;w=1')
        assert answers[1].headers["RateLimit"] == '"api-key";r=0;t=1, "api-tenant";r=1;t=1'
        assert answers[2].json()["policy"] == "api-key"
        assert answers[2].headers["RateLimit-Policy"] == '"api-key";q=2;w=1'  # tenant untouched

        other = [d.http.get("/v1/cases", headers=two) for _ in range(2)]
        assert other[0].status_code == 200  # the tenant's third request
        assert refused(other[1])
        assert other[1].json()["policy"] == "api-tenant"  # every key of it is held now

        assert d.http.get("/v1/cases", headers=d.key("globex")).status_code == 200
        clock.advance(SECOND)
        assert d.http.get("/v1/cases", headers=one).status_code == 200


def test_events_spend_the_ingest_limits_and_other_routes_the_api_limits(
    app: App, clock: FixedClock
) -> None:
    with desk(
        app, clock, rate_limit_ingest_per_key="2/second", rate_limit_api_per_key="1/second"
    ) as d:
        key = d.key(role=Role.SERVICE)
        events = [
            d.http.post("/v1/events", json=order_placed(f"o-{n}", at=clock.now()), headers=key)
            for n in range(3)
        ]
        assert [e.status_code for e in events] == [202, 202, 429]
        assert events[0].headers["RateLimit-Policy"] == (
            '"ingest-key";q=2;w=1, "ingest-tenant";q=600;w=1'
        )
        assert events[2].json()["policy"] == "ingest-key"

        reads = [d.http.get("/v1/inbox/lag", headers=key) for _ in range(2)]
        assert [r.status_code for r in reads] == [200, 429]
        assert reads[0].json()["pending"] == 2  # the refused event was not stored


# --- a tenant's own limits ------------------------------------------------------------------


def _limits_cli(app: App) -> typer.Typer:
    cli = typer.Typer(cls=CleanErrors)
    tenant = typer.Typer()
    cli.add_typer(tenant, name="tenant")
    register(tenant, app_factory=lambda: app)
    return cli


def test_a_tenants_own_limit_set_by_the_command_applies_within_the_refresh_time_and_is_audited(
    app: App, clock: FixedClock
) -> None:
    runner = CliRunner()
    with desk(app, clock, rate_limit_ingest_per_tenant="5/second") as d:
        cli = _limits_cli(d.app)
        assert d.deliver(order()).status_code == 202  # the tenant's limits are read now
        done = runner.invoke(
            cli,
            [
                "tenant",
                "limits",
                "set",
                "-t",
                "acme",
                "--scope",
                "ingest",
                "--per",
                "tenant",
                "--rate",
                "1/minute",
                "--actor",
                "ops:ann",
            ],
        )
        assert done.exit_code == 0, done.output
        assert "acme: ingest per tenant is 1 per 60 seconds (was the default)" in done.output

        assert d.deliver(order()).status_code == 202  # still the default it read
        clock.advance(OVERRIDE_TTL)  # 12:00:10: every process has read it again by now
        assert d.deliver(order()).status_code == 202
        over = d.deliver(order())
        assert refused(over)
        assert over.headers["RateLimit-Policy"] == '"ingest-tenant";q=1;w=60'
        assert over.headers["Retry-After"] == "50"  # the minute's window ends at 12:01
        assert d.deliver(order(), "globex").status_code == 202  # globex keeps the default

        shown = runner.invoke(cli, ["tenant", "limits", "show", "-t", "acme"])
        assert shown.exit_code == 0, shown.output
        rows = [line.split("│")[1:5] for line in shown.output.splitlines() if "│" in line]
        assert [[cell.strip() for cell in row] for row in rows] == [
            ["ingest", "tenant", "1 per 60 seconds", "tenant"],
            ["ingest", "key", "300 per 1 second", "default"],
            ["api", "tenant", "200 per 1 second", "default"],
            ["api", "key", "50 per 1 second", "default"],
        ]

        cleared = runner.invoke(
            cli, ["tenant", "limits", "clear", "-t", "acme", "--scope", "ingest", "--per", "tenant"]
        )
        assert "follows the default (was 1 per 60 seconds)" in cleared.output
        clock.advance(OVERRIDE_TTL)
        assert d.deliver(order()).status_code == 202

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        audited = uow.session.execute(
            select(AuditRecord.action, AuditRecord.actor, AuditRecord.data)
            .where(AuditRecord.entity_type == "rate_limit")
            .order_by(AuditRecord.seq)
        ).all()
    assert [(a, actor, data) for a, actor, data in audited] == [
        ("rate_limit.set", "ops:ann", {"limit": "1 per 60 seconds", "previous": None}),
        ("rate_limit.cleared", "cli", {"limit": None, "previous": "1 per 60 seconds"}),
    ]


def test_a_malformed_limit_or_an_unknown_tenant_is_refused_by_the_command(app: App) -> None:
    runner, cli = CliRunner(), _limits_cli(_settings(app))
    base = ["tenant", "limits", "set", "--scope", "api", "--per", "key"]
    malformed = runner.invoke(cli, [*base, "-t", "acme", "--rate", "lots"])
    assert malformed.exit_code == 1
    assert "not a rate limit: 'lots'" in malformed.output
    nobody = runner.invoke(cli, [*base, "-t", "initech", "--rate", "5/second"])
    assert nobody.exit_code == 2
    assert "no tenant 'initech'" in nobody.output
    assert tenant_quotas(app.sessions, "acme") == {}


# --- console sign-in ------------------------------------------------------------------------


def test_failed_sign_ins_spread_over_accounts_and_addresses_are_limited_per_tenant(
    app: App, clock: FixedClock
) -> None:
    throttle = SignInThrottle(
        app.sessions,
        clock,
        per_account="5 per 15 minutes",
        per_address="20 per 15 minutes",
        per_tenant="3 per 15 minutes",
    )
    attempts = [Attempt("acme", f"p{n}@acme.example", f"10.0.0.{n}") for n in range(6)]
    throttle.reserve(attempts[0])
    throttle.reserve(attempts[1])
    throttle.succeeded(attempts[1])  # the right password: not a failure
    throttle.reserve(attempts[2])
    throttle.reserve(attempts[3])
    with pytest.raises(SignInThrottled) as refused_attempt:
        throttle.reserve(attempts[4])  # the tenant's fourth failure in the window
    assert refused_attempt.value.retry_after == 15 * 60
    throttle.reserve(Attempt("globex", "p4@acme.example", "10.0.0.4"))
    clock.advance(timedelta(minutes=15))
    throttle.reserve(attempts[5])


def test_the_per_tenant_sign_in_setting_reaches_the_console(app: App, clock: FixedClock) -> None:
    settings = app.settings.model_copy(update={"sign_in_limit_per_tenant": "1 per 15 minutes"})

    def wrong_password(n: int) -> Exception:
        with pytest.raises(Unauthorized) as refused:
            sign_in(
                app.sessions,
                settings=settings,
                clock=clock,
                tenant_id="acme",
                email=f"p{n}@acme.example",
                password="not-the-password",
                address=f"10.0.1.{n}",
            )
        return refused.value

    assert not isinstance(wrong_password(1), SignInThrottled)
    assert isinstance(wrong_password(2), SignInThrottled)  # another account, another address


# --- Redis ------------------------------------------------------------------------------


def test_redis_counts_the_windows_when_it_is_configured(app: App, clock: FixedClock) -> None:
    redis_or_skip()
    tenant = f"t-{uuid.uuid4().hex[:12]}"  # its own counts, whatever else shares the Redis
    ensure_tenant(app.sessions, tenant_id=tenant, name=tenant, clock=clock)
    redis = SecretStr(REDIS_URL)
    with desk(
        app, clock, tenants=(tenant,), redis_url=redis, rate_limit_ingest_per_tenant="2/minute"
    ) as d:
        answers = [d.deliver(order(), tenant) for _ in range(3)]
        assert [a.status_code for a in answers] == [202, 202, 429]
        with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
            assert uow.session.scalar(select(func.count()).select_from(RateLimitWindow)) == 0

        another_process = limiter_for(d.app, clock=clock)
        assert not another_process.admit(tenant_id=tenant, scope=RateScope.INGEST).allowed
        clock.advance(timedelta(minutes=1))
        assert d.deliver(order(), tenant).status_code == 202


# --- the document ---------------------------------------------------------------------------


def test_the_openapi_document_names_429_where_limits_apply(app: App, clock: FixedClock) -> None:
    with desk(app, clock) as d:
        paths = d.http.get("/openapi.json").json()["paths"]
    limited = paths["/v1/cases"]["get"]["responses"]["429"]
    limits = {"Retry-After", "RateLimit-Policy", "RateLimit"}
    assert set(limited["headers"]) == limits | {"X-Request-ID"}
    assert "429" in paths["/v1/webhooks/{source}/{endpoint_token}"]["post"]["responses"]
    assert "429" in paths["/v1/events"]["post"]["responses"]
    assert "429" not in paths["/healthz"]["get"]["responses"]
