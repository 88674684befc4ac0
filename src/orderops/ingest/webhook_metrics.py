"""The count of webhook deliveries refused at the door, by provider and reason.

Traffic with a bad signature leaves no row by design (a forger must not be able to fill
the database), so this counter is the only trace of it: a rise in ``bad_signature`` after
a secret rotation means the provider still signs with the old secret; a rise in
``stale_timestamp`` means a clock is off or someone replays captured requests.

Two reasons count correctly signed deliveries that are refused as forgery-like and kept
as dead letters: ``topic_mismatch`` (the unsigned topic header claims something the signed
body does not prove) and ``cross_topic_replay`` (a body already accepted under another
topic, resent with a fresh delivery id). Either means someone holds captured traffic.

Registry choice: each ``WebhookMetrics`` owns a fresh ``CollectorRegistry`` instead of
registering on prometheus_client's global one. Registering at import is work at import
time, breaks when two apps live in one process (the tests build one per test), and
makes counts leak between tests. Whoever exposes ``/metrics`` collects
``metrics.registry`` (``prometheus_client.generate_latest(metrics.registry)``), or passes
``REGISTRY`` explicitly to share the global one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter

from orderops.ingest.signatures import SignatureError

REJECTED_METRIC = "orderops_webhook_rejected_total"


class RejectReason(StrEnum):
    """A closed set of label values, so a sender cannot mint new time series."""

    MISSING_SIGNATURE = "missing_signature"
    MALFORMED_SIGNATURE = "malformed_signature"
    BAD_SIGNATURE = "bad_signature"
    STALE_TIMESTAMP = "stale_timestamp"
    UNKNOWN_ENDPOINT = "unknown_endpoint"
    TOO_LARGE_UNVERIFIED = "too_large_unverified"
    TOPIC_MISMATCH = "topic_mismatch"
    CROSS_TOPIC_REPLAY = "cross_topic_replay"


UNKNOWN_SOURCE = "unknown"
"""The ``source`` label for a path naming no provider we know (the label set stays closed)."""


@dataclass(frozen=True)
class WebhookMetrics:
    registry: CollectorRegistry
    rejected: Counter

    def reject(self, *, source: str, reason: RejectReason) -> None:
        self.rejected.labels(source=source, reason=str(reason)).inc()

    def rejected_count(self, *, source: str, reason: RejectReason) -> float:
        """The current count, for tests and health pages (0 before the first refusal)."""
        value = self.registry.get_sample_value(
            REJECTED_METRIC, {"source": source, "reason": str(reason)}
        )
        return value or 0.0


def create_webhook_metrics(registry: CollectorRegistry | None = None) -> WebhookMetrics:
    """A counter on ``registry``, or on a new private registry when none is given."""
    registry = registry if registry is not None else CollectorRegistry(auto_describe=True)
    rejected = Counter(
        "orderops_webhook_rejected",
        "Webhook deliveries refused at the door (unverified, forged or replayed), "
        "by provider and reason.",
        labelnames=("source", "reason"),
        registry=registry,
    )
    return WebhookMetrics(registry=registry, rejected=rejected)


def signature_reason(error: SignatureError) -> RejectReason:
    """Sort a signature failure into one label value from the message signatures.py gives.

    The messages are the only structured signal the shared signature checks expose; the
    unit tests pin one case of each per provider so a reworded message shows up there.
    """
    message = error.message
    if message.startswith("missing "):
        return RejectReason.MISSING_SIGNATURE
    if "does not match" in message:
        return RejectReason.BAD_SIGNATURE
    if "outside the" in message and "window" in message:
        return RejectReason.STALE_TIMESTAMP
    return RejectReason.MALFORMED_SIGNATURE
