"""Webhook ingestion throughput against a bare insert of the same bodies.

Signed Shopify orders/create and Stripe payment_intent deliveries (built from the real
fixtures, with fresh ids) are POSTed through the webhook endpoint in process (signature
check, raw storage, mapping, intake, projection, detection), beside a bare executemany
INSERT of the same bodies into the same database.

    .venv/bin/python benchmarks/webhook_throughput.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import hmac
import json
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from _db import scratch_database
from fastapi.testclient import TestClient
from rich.console import Console
from rich.table import Table
from sqlalchemy import Column, MetaData, String, Text, create_engine
from sqlalchemy import Table as SqlTable

from orderops.api.app import create_app
from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.ingest.connections import SecretBox, connect_source
from orderops.workflow.tenants import ensure_tenant

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures"
SECRET = "bench-signing-secret-0123456789abcdef"
NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)

Delivery = tuple[str, dict[str, str], bytes]


def _deliveries(count: int) -> list[Delivery]:
    order = json.loads(
        (FIXTURES / "shopify/webhook_examples_gadget/orders__create.2026-04.json").read_text()
    )
    intent = json.loads(
        (FIXTURES / "stripe/webhook_events/payment_intent.payment_failed.json").read_text()
    )
    out: list[Delivery] = []
    for i in range(count // 2):
        body = copy.deepcopy(order["response"])
        body["id"] = 9_000_000 + i
        body["name"] = f"#B{i}"
        body["created_at"] = body["updated_at"] = (NOW - timedelta(hours=1)).isoformat()
        raw = json.dumps(body).encode()
        digest = base64.b64encode(hmac.new(SECRET.encode(), raw, hashlib.sha256).digest()).decode()
        headers = {
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": f"wh-{i}",
            "X-Shopify-Hmac-Sha256": digest,
            "Content-Type": "application/json",
        }
        out.append(("shopify", headers, raw))
        event = copy.deepcopy(intent)
        event["id"] = f"evt_bench_{i}"
        event["created"] = int((NOW - timedelta(minutes=30)).timestamp())
        event["data"]["object"]["id"] = f"pi_bench_{i}"
        event["data"]["object"].setdefault("metadata", {})["order_id"] = str(9_000_000 + i)
        raw = json.dumps(event).encode()
        stamp = str(int(NOW.timestamp()))
        signature = hmac.new(
            SECRET.encode(), stamp.encode() + b"." + raw, hashlib.sha256
        ).hexdigest()
        out.append(
            (
                "stripe",
                {
                    "Stripe-Signature": f"t={stamp},v1={signature}",
                    "Content-Type": "application/json",
                },
                raw,
            )
        )
    return out


def bare_insert(url: str, deliveries: list[Delivery]) -> float:
    engine = create_engine(url)
    metadata = MetaData()
    raw = SqlTable(
        "bench_raw", metadata, Column("id", String(64), primary_key=True), Column("body", Text)
    )
    metadata.create_all(engine)
    started = time.perf_counter()
    for i, (_source, _headers, body) in enumerate(deliveries):
        with engine.begin() as connection:  # one delivery, one transaction: as webhooks arrive
            connection.execute(raw.insert(), {"id": str(i), "body": body.decode()})
    elapsed = time.perf_counter() - started
    engine.dispose()
    return elapsed


def through_orderops(url: str, deliveries: list[Delivery]) -> tuple[float, int]:
    clock = FixedClock(NOW)
    app = bootstrap(Settings(database_url=url, demo_mode=True), clock=clock)
    ensure_tenant(app.sessions, tenant_id="bench", name="Bench", clock=clock)
    box = SecretBox(app.settings.secret_key)
    tokens = {
        source: connect_source(
            app.sessions,
            tenant_id="bench",
            source=source,
            box=box,
            clock=clock,
            actor="bench",
            secret=SECRET,
        ).connection.endpoint_token
        for source in ("shopify", "stripe")
    }
    accepted = 0
    with TestClient(create_app(app)) as client:
        started = time.perf_counter()
        for source, headers, body in deliveries:
            answer = client.post(
                f"/v1/webhooks/{source}/{tokens[source]}", content=body, headers=headers
            )
            accepted += answer.status_code == 200
        elapsed = time.perf_counter() - started
    app.close()
    return elapsed, accepted


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small run, for a smoke check")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    deliveries = _deliveries(200 if args.quick else 2000)
    table = Table(
        "database", "deliveries", "accepted", "bare insert /s", "OrderOps /s", "time ratio"
    )
    for kind in args.db or ["sqlite", "postgres"]:
        with scratch_database(kind) as url:
            bare = bare_insert(url, deliveries)
        with scratch_database(kind) as url:
            full, accepted = through_orderops(url, deliveries)
        n = len(deliveries)
        table.add_row(
            kind,
            str(n),
            str(accepted),
            f"{n / bare:,.0f}",
            f"{n / full:,.0f}",
            f"{full / bare:.1f}x",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
