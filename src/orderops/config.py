"""Settings from the environment (``ORDEROPS_*``) or a ``.env`` file, validated once at start.

A ``Settings`` object is passed to every factory; nothing reads the environment later.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from limits import parse
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_SECRET = "demo-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDEROPS_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to a SQLite file under data_dir."
    )
    migration_database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL migrations run with: the role that owns the tables. Unset: "
        "database_url (one role; see docs/DEPLOYMENT.md for what row-level security then "
        "enforces).",
    )
    database_app_role: str = Field(
        default="orderops_app",
        min_length=1,
        max_length=63,
        description="PostgreSQL group role migrations grant the application's privileges to.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: str = DEMO_SECRET
    demo_mode: bool = False
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1)
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    inbox_poll_seconds: float = Field(
        default=0.25,
        gt=0,
        description="How often a worker looks for new inbox rows between full passes; a "
        "worker in the API's own process is also woken at once by each accept.",
    )
    log_sql: bool = False
    audit_key: SecretStr | None = Field(
        default=None,
        description="Keys the audit chain's hashes and signs checkpoints; kept outside the "
        "database. Unset: derived from secret_key (so rotating that breaks verification).",
    )
    audit_accept_unkeyed: bool = Field(
        default=False,
        description="Accept audit records written before keys (a prefix of the chain) "
        "without a checkpoint vouching for them.",
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        min_length=16,
        description="When set, /metrics answers only `Authorization: Bearer <token>` "
        "(its lag gauges name tenants). Unset: open, as scrapers expect.",
    )
    webhook_secret_overlap_hours: float = Field(
        default=24.0,
        ge=0,
        description="After `orderops sources rotate`, how long deliveries signed with the "
        "replaced secret still verify (the command's --overlap overrides it; 0: not at all).",
    )
    console_session_idle_minutes: int = Field(default=30, ge=1)
    console_session_hours: int = Field(default=12, ge=1)
    console_live_seconds: float = Field(
        default=300.0,
        gt=0,
        description="How long one console live-update stream stays open before the server "
        "ends it and the browser reconnects (so no server piles up streams).",
    )
    console_live_check_seconds: float = Field(
        default=2.0,
        gt=0,
        description="How often an open live stream reads its queue's or case's change marker.",
    )
    console_live_streams_per_session: int = Field(
        default=6,
        ge=1,
        description="Live streams one console session may hold open at once, per process.",
    )
    sign_in_limit_per_account: str = "5 per 15 minutes"
    sign_in_limit_per_address: str = "20 per 15 minutes"
    sign_in_limit_per_tenant: str = Field(
        default="200 per 15 minutes",
        description="Failed console sign-ins a tenant may have, over all its accounts and "
        "addresses; spent, password sign-in to the tenant waits for the window to end.",
    )
    sso_http_timeout_seconds: float = Field(
        default=10.0,
        gt=0,
        description="How long a single sign-on request to a tenant's identity provider "
        "(discovery, keys, token exchange) may take before the sign-in fails with a clear page.",
    )
    sso_clock_leeway_seconds: int = Field(
        default=60,
        ge=0,
        le=300,
        description="Clock skew tolerated on an ID token's exp and iat.",
    )
    rate_limit_ingest_per_tenant: str = Field(
        default="600/second",
        description="Webhook deliveries and POST /v1/events requests a tenant may make; "
        "windows are fixed, so a whole window's worth may come at once.",
    )
    rate_limit_ingest_per_key: str = Field(
        default="300/second", description="POST /v1/events requests one API key may make."
    )
    rate_limit_api_per_tenant: str = Field(
        default="200/second", description="Other API requests all of a tenant's keys may make."
    )
    rate_limit_api_per_key: str = Field(
        default="50/second", description="Other API requests one API key may make."
    )
    ingest_concurrency_per_tenant: int = Field(
        default=4,
        ge=1,
        description="Webhook deliveries of one tenant an API process accepts at once; the "
        "rest of a tenant's burst waits for them, not in front of other tenants.",
    )
    redis_url: SecretStr | None = Field(
        default=None,
        description="Count rate limits in this Redis (redis://host:port/db) instead of the "
        "database.",
    )
    # Telemetry (docs/OPERATIONS.md, "Metrics", "Logs", "Traces").
    log_format: Literal["json", "console"] = Field(
        default="json",
        description="Log lines as JSON objects (one per line, for a log shipper) or as "
        "aligned text for a person at a terminal.",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field(
        default="INFO", description="The least severe log lines written (each request: INFO)."
    )
    otlp_endpoint: str | None = Field(
        default=None,
        description="Export OpenTelemetry traces over OTLP/HTTP to this collector URL "
        "(e.g. http://otel-collector:4318/v1/traces). Unset: no tracing SDK at all.",
    )
    otel_service_name: str = Field(
        default="orderops",
        min_length=1,
        max_length=100,
        description="The service.name traces are exported under (one per deployment).",
    )
    metrics_max_tenants: int = Field(
        default=50,
        ge=0,
        description="/metrics shows the per-tenant desk gauges (cases, approvals, outbox) "
        "only while the desk serves at most this many tenants.",
    )

    @field_validator(
        "sign_in_limit_per_account", "sign_in_limit_per_address", "sign_in_limit_per_tenant"
    )
    @classmethod
    def _a_rate(cls, value: str) -> str:
        parse(value)  # refuse a malformed limit at start, not at the first failed sign-in
        return value

    @field_validator(
        "rate_limit_ingest_per_tenant",
        "rate_limit_ingest_per_key",
        "rate_limit_api_per_tenant",
        "rate_limit_api_per_key",
    )
    @classmethod
    def _a_positive_rate(cls, value: str) -> str:
        if parse(value).amount < 1:
            raise ValueError(f"a rate limit admits at least one request: {value!r}")
        return value

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if not self.demo_mode and self.secret_key == DEMO_SECRET:
            raise ValueError(
                "ORDEROPS_SECRET_KEY is the demo placeholder; set a real secret outside the demo"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'orderops.db').as_posix()}"

    @property
    def resolved_migration_database_url(self) -> str:
        return self.migration_database_url or self.resolved_database_url
