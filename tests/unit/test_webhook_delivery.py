"""Pure parts of webhook intake: delivery ids, kept headers, refusal reasons, metrics."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry

from builders.webhooks import SIGNERS, TIMESTAMPED, encode
from orderops.ingest.adapters import ADAPTERS
from orderops.ingest.connections import SecretBox, SecretUnreadable, webhook_url
from orderops.ingest.signatures import SignatureError
from orderops.ingest.webhook_metrics import (
    REJECTED_METRIC,
    RejectReason,
    create_webhook_metrics,
    signature_reason,
)
from orderops.ingest.webhooks import delivery_key, kept_headers

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
BODY = encode({"id": "evt_1", "event_id": "as-1", "event": "track_updated"})


@pytest.mark.parametrize(
    ("source", "headers", "body", "expected"),
    [
        ("shopify", {"X-Shopify-Webhook-Id": "wh-1", "X-Shopify-Event-Id": "ev-1"}, BODY, "wh-1"),
        ("shopify", {"X-Shopify-Event-Id": "ev-1"}, BODY, "ev-1"),
        ("zendesk", {"X-Zendesk-Webhook-Invocation-Id": "inv-1"}, BODY, "inv-1"),
        ("stripe", {}, BODY, "evt_1"),
        ("easypost", {}, BODY, "evt_1"),
        ("aftership", {}, BODY, "as-1"),
    ],
)
def test_the_providers_own_delivery_id_is_used(
    source: str, headers: dict[str, str], body: bytes, expected: str
) -> None:
    assert delivery_key(source, headers, body) == expected


@pytest.mark.parametrize(
    ("source", "body"),
    [
        ("shippo", BODY),
        ("shopify", BODY),
        ("stripe", b'{"id": "evt_1", "type": "payment_in'),
        ("stripe", encode({"id": True})),
        ("aftership", encode(["not", "an", "object"])),
    ],
    ids=["shippo sends none", "no shopify header", "truncated", "id not text", "not an object"],
)
def test_without_a_delivery_id_the_body_hash_stands_in(source: str, body: bytes) -> None:
    assert delivery_key(source, {}, body) == "sha256:" + hashlib.sha256(body).hexdigest()


def test_only_routing_headers_are_kept_never_signatures() -> None:
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Hmac-Sha256": "c2lnbmF0dXJl",
        "Cookie": "session=1",
        "Authorization": "Bearer x",
    }

    assert kept_headers("shopify", headers) == {
        "content-type": "application/json",
        "x-shopify-topic": "orders/create",
    }


def refusal(source: str, *, secret: str, signed_at: datetime, drop: bool = False) -> RejectReason:
    headers = {} if drop else SIGNERS[source](BODY, secret, signed_at)
    with pytest.raises(SignatureError) as caught:
        ADAPTERS[source].verify(headers=headers, body=BODY, secret="right-secret", now=NOW)
    return signature_reason(caught.value)


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_a_wrong_secret_is_a_bad_signature(source: str) -> None:
    assert refusal(source, secret="wrong-secret", signed_at=NOW) is RejectReason.BAD_SIGNATURE


@pytest.mark.parametrize("source", sorted(SIGNERS))
def test_no_signature_header_is_a_missing_signature(source: str) -> None:
    reason = refusal(source, secret="right-secret", signed_at=NOW, drop=True)
    assert reason is RejectReason.MISSING_SIGNATURE


@pytest.mark.parametrize("source", TIMESTAMPED)
def test_a_right_but_old_signature_is_stale(source: str) -> None:
    reason = refusal(source, secret="right-secret", signed_at=NOW - timedelta(minutes=10))
    assert reason is RejectReason.STALE_TIMESTAMP


@pytest.mark.parametrize(
    ("source", "headers"),
    [
        ("stripe", {"Stripe-Signature": "v1=abc"}),
        ("shopify", {"X-Shopify-Hmac-Sha256": "not base64!"}),
        ("easypost", {"X-Hmac-Signature": "sha1=abc"}),
    ],
)
def test_a_garbled_signature_is_malformed(source: str, headers: dict[str, str]) -> None:
    with pytest.raises(SignatureError) as caught:
        ADAPTERS[source].verify(headers=headers, body=BODY, secret="s", now=NOW)
    assert signature_reason(caught.value) is RejectReason.MALFORMED_SIGNATURE


def test_metrics_live_on_their_own_registry_unless_one_is_given() -> None:
    first, second = create_webhook_metrics(), create_webhook_metrics()
    shared = CollectorRegistry()
    on_shared = create_webhook_metrics(shared)

    first.reject(source="stripe", reason=RejectReason.BAD_SIGNATURE)
    first.reject(source="stripe", reason=RejectReason.BAD_SIGNATURE)
    on_shared.reject(source="shopify", reason=RejectReason.STALE_TIMESTAMP)

    assert first.rejected_count(source="stripe", reason=RejectReason.BAD_SIGNATURE) == 2
    assert second.rejected_count(source="stripe", reason=RejectReason.BAD_SIGNATURE) == 0
    labels = {"source": "shopify", "reason": "stale_timestamp"}
    assert shared.get_sample_value(REJECTED_METRIC, labels) == 1


def test_a_secret_box_opens_only_what_the_same_key_sealed() -> None:
    sealed = SecretBox("key-one").seal("whsec_abc", now=NOW)

    assert SecretBox("key-one").open(sealed) == "whsec_abc"
    with pytest.raises(SecretUnreadable):
        SecretBox("key-two").open(sealed)
    with pytest.raises(SecretUnreadable):
        SecretBox("key-one").open(sealed[:-4] + "AAAA")


@pytest.mark.parametrize("base", ["https://ops.example.com", "https://ops.example.com/"])
def test_the_webhook_url_has_one_slash_between_its_parts(base: str) -> None:
    url = webhook_url(base, "stripe", "tok")
    assert url == "https://ops.example.com/v1/webhooks/stripe/tok"
