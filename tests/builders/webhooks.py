"""Signed provider deliveries for webhook tests, built from the real fixtures.

Each signer follows the provider's published scheme directly (hmac + hashlib here, not
orderops.ingest.signatures), so the tests check our verification against the scheme
and not against itself.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import itertools
import json
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from orderops.api import webhooks as webhook_api
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.ingest.webhook_metrics import WebhookMetrics

FIXTURES = Path(__file__).parents[1] / "fixtures"
WEBHOOK_PATH = "/v1/webhooks/{source}/{endpoint_token}"
_ids = itertools.count(1)


def _mac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def sign_shopify(body: bytes, secret: str, now: datetime) -> dict[str, str]:
    return {"X-Shopify-Hmac-Sha256": _b64(_mac(secret.encode(), body))}


def sign_aftership(body: bytes, secret: str, now: datetime) -> dict[str, str]:
    return {"aftership-hmac-sha256": _b64(_mac(secret.encode(), body))}


def sign_easypost(body: bytes, secret: str, now: datetime) -> dict[str, str]:
    key = unicodedata.normalize("NFKD", secret).encode()
    return {"X-Hmac-Signature": "hmac-sha256-hex=" + _mac(key, body).hex()}


def sign_stripe(body: bytes, secret: str, now: datetime) -> dict[str, str]:
    stamp = str(int(now.timestamp()))
    digest = _mac(secret.encode(), stamp.encode() + b"." + body).hex()
    return {"Stripe-Signature": f"t={stamp},v1={digest}"}


def sign_shippo(body: bytes, secret: str, now: datetime) -> dict[str, str]:
    stamp = str(int(now.timestamp()))
    digest = _mac(secret.encode(), stamp.encode() + b"." + body).hex()
    return {"Shippo-Auth-Signature": f"t={stamp},v1={digest}"}


def sign_zendesk(body: bytes, secret: str, now: datetime) -> dict[str, str]:
    stamp = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    return {
        "X-Zendesk-Webhook-Signature": _b64(_mac(secret.encode(), stamp.encode() + body)),
        "X-Zendesk-Webhook-Signature-Timestamp": stamp,
    }


SIGNERS: dict[str, Callable[[bytes, str, datetime], dict[str, str]]] = {
    "shopify": sign_shopify,
    "stripe": sign_stripe,
    "easypost": sign_easypost,
    "shippo": sign_shippo,
    "aftership": sign_aftership,
    "zendesk": sign_zendesk,
}

TIMESTAMPED = ("stripe", "shippo", "zendesk")
"""Schemes that sign a time, so a stale delivery can be told from a fresh one."""


@dataclass(frozen=True)
class Delivery:
    """One provider delivery: the bytes and the unsigned headers (topic, delivery id)."""

    source: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    def signed(self, secret: str, now: datetime) -> dict[str, str]:
        return {
            "content-type": "application/json",
            **self.headers,
            **SIGNERS[self.source](self.body, secret, now),
        }

    def truncated(self) -> Delivery:
        """The same delivery cut short in transit (the sender signed what it sent)."""
        return Delivery(self.source, self.body[: len(self.body) // 2], dict(self.headers))


def load(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


# --- payloads from the real fixtures --------------------------------------------------------


def shopify(topic: str, resource: dict[str, Any], *, webhook_id: str | None = None) -> Delivery:
    headers = {
        "X-Shopify-Topic": topic,
        "X-Shopify-Webhook-Id": webhook_id or f"wh-{next(_ids)}",
        "X-Shopify-Shop-Domain": "acme.myshopify.com",
    }
    return Delivery("shopify", encode(resource), headers)


def shopify_order(**overrides: Any) -> dict[str, Any]:
    order: dict[str, Any] = copy.deepcopy(
        load("shopify/webhook_examples_gadget/orders__create.2026-04.json")["response"]
    )
    order.update(overrides)
    return order


def shopify_fulfillment(**overrides: Any) -> dict[str, Any]:
    fulfillment: dict[str, Any] = copy.deepcopy(
        load("shopify/webhook_examples_gadget/fulfillments__create.2026-04.json")["response"]
    )
    fulfillment.update(overrides)
    return fulfillment


def stripe_event(
    name: str,
    *,
    created: datetime,
    order_ref: str | None = None,
    event_id: str | None = None,
    intent_id: str | None = None,
) -> Delivery:
    """A fixture Stripe event; ``order_ref`` goes into the PaymentIntent's metadata."""
    event: dict[str, Any] = copy.deepcopy(load(f"stripe/webhook_events/{name}.json"))
    event["id"] = event_id or f"evt_test_{next(_ids)}"
    event["created"] = int(created.timestamp())
    if order_ref is not None:
        event["data"]["object"]["metadata"] = {"order_id": order_ref}
    if intent_id is not None:
        event["data"]["object"]["id"] = intent_id
    return Delivery("stripe", encode(event))


def easypost_tracker(
    *, event_id: str | None = None, **result_overrides: Any
) -> tuple[Delivery, dict[str, Any]]:
    event: dict[str, Any] = copy.deepcopy(load("easypost/examples/fixtures__event-body.json"))
    event["id"] = event_id or event["id"]
    event["result"].update(result_overrides)
    return Delivery("easypost", encode(event)), event


def shippo_track() -> tuple[Delivery, dict[str, Any]]:
    track = load("shippo/shippo-python-client/track__test_get_status.response.decoded.json")
    body = {"event": "track_updated", "test": True, "data": track}
    return Delivery("shippo", encode(body)), track


def aftership_tracking(*, event_id: str = "as-evt-1") -> tuple[Delivery, dict[str, Any]]:
    tracking = load("aftership/aftership-sdk-java/GetTrackingResult.json")["data"]["tracking"]
    body = {"event": "tracking_update", "event_id": event_id, "ts": 1534486010, "msg": tracking}
    return Delivery("aftership", encode(body)), tracking


def zendesk_ticket(*, invocation_id: str = "inv-1") -> tuple[Delivery, dict[str, Any]]:
    ticket = load("zendesk/zendesk_api_client_rb_cassettes/tickets_sample.json")["tickets"][0]
    headers = {"X-Zendesk-Webhook-Invocation-Id": invocation_id, "X-Zendesk-Webhook-Id": "wh-1"}
    return Delivery("zendesk", encode({"ticket": ticket}), headers), ticket


# --- the HTTP side --------------------------------------------------------------------------


@contextmanager
def webhook_client(app: App, **client_options: Any) -> Iterator[TestClient]:
    """The real app; the webhook router is added only until the lead wires it in."""
    api = create_app(app)
    if not any(getattr(route, "path", None) == WEBHOOK_PATH for route in api.routes):
        api.include_router(webhook_api.router)
    webhook_api.install(api)
    with TestClient(api, **client_options) as client:
        yield client


def metrics_of(client: TestClient) -> WebhookMetrics:
    metrics: WebhookMetrics = client.app.state.webhook_metrics  # type: ignore[attr-defined]
    return metrics


def post(
    client: TestClient,
    delivery: Delivery,
    *,
    token: str,
    secret: str,
    now: datetime,
    source: str | None = None,
) -> Any:
    return client.post(
        f"/v1/webhooks/{source or delivery.source}/{token}",
        content=delivery.body,
        headers=delivery.signed(secret, now),
    )
