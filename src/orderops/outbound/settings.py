"""How outbound webhooks are paced and bounded: ``ORDEROPS_OUTBOUND_WEBHOOKS_*``.

Read from the environment when a service or the worker needs them (never at import).
The defaults follow the Standard Webhooks advice: a 15 s request timeout, exponential
backoff with jitter spread over most of a day, and a subscription switched off only after
failing for days, never after one bad hour.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from orderops.writeback.policy import DeliveryPolicy


class OutboundSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDEROPS_OUTBOUND_WEBHOOKS_", env_file=".env", extra="ignore"
    )

    allow_loopback: bool = False
    """Accept endpoints on loopback or private addresses (and plain HTTP on loopback):
    tests and local development only; in production it invites request forgery."""
    timeout_seconds: float = Field(default=15.0, gt=0, le=60)
    max_attempts: int = Field(default=12, ge=1, le=50)
    """Attempts per event before it is given up as failed (redeliverable by hand)."""
    base_delay_seconds: float = Field(default=30.0, ge=0)
    max_delay_seconds: float = Field(default=12 * 3600.0, ge=0)
    """Backoff doubles from ``base_delay`` up to this; with the defaults the 12 attempts
    span about 17 hours."""
    disable_after_failures: int = Field(default=20, ge=1)
    disable_after_hours: float = Field(default=72.0, ge=0)
    """A subscription is switched off when its deliveries have failed this many times in a
    row (any of its events) AND the first of those failures is at least this old."""
    rotation_overlap_hours: float = Field(default=24.0, ge=0, le=24 * 7)
    """Default overlap of a secret rotation: both signatures are sent meanwhile."""
    max_subscriptions: int = Field(default=20, ge=1)
    """Per tenant (environment)."""

    def policy(self) -> DeliveryPolicy:
        return DeliveryPolicy(
            max_attempts=self.max_attempts,
            base_delay=timedelta(seconds=self.base_delay_seconds),
            max_delay=timedelta(seconds=self.max_delay_seconds),
            lease=timedelta(seconds=max(60.0, self.timeout_seconds * 10)),
            batch_size=10,
        )

    @property
    def disable_after(self) -> timedelta:
        return timedelta(hours=self.disable_after_hours)
