"""A year of history on PostgreSQL: the queue and case pages, and the worker's memory.

Issue #19's aim: "history of 1M orders / 10M events on PostgreSQL: queue page and case
page p99 < 50 ms, worker RSS flat over the run".

1. Load. A scratch schema (migrated the normal way) gets, by COPY, --orders orders
   (default 1,000,000; --quick 100,000) spread over the last year, with 1-3 lines each,
   a customer per five orders, a payment each, a shipment for 9 in 10, ~10 processed inbox
   events each (customer upserted, order placed and updated, payment authorized and
   captured or declined, shipment created, four carrier scans; envelopes of a provider's
   size, 0.4-1.9 KB, ~0.9 KB on average), a
   case on one order in ten (the newest 3,000 open across the four queues, half of them
   in ``ops``; the rest resolved) with its timeline, SLA timer, recommendation and a real
   hash-chained audit record per step. Rows are generated a chunk of orders at a time and
   streamed into COPY, so memory stays bounded. The load time is printed.
2. Pages. The real app runs under uvicorn in a subprocess (``_servers.serve``); one
   client at a time (an idle desk) asks, --samples times each, first endpoint by endpoint
   (sequential) and then round-robin (interleaved):
     baseline     GET /v1/routing-rules (bearer key, one small query; same server, same run)
     queue page   GET /console/queues/ops as a signed-in agent (the busiest queue)
     queue API    GET /v1/cases?queue=ops&open=true
     case page    GET /console/cases/{id} of an open case in ops
     case API     GET /v1/cases/{id}
   and prints p50/p99, p99 / the baseline's p99, and the aim (p99 < 50 ms). The server's
   API limits are lifted for the run (the environment it inherits), as one client asking
   back to back is not what they guard against.
3. Worker memory. ``orderops worker``'s loop runs as its own process (``_servers.WORKER``)
   on the loaded database; once its start-up pass is over, --stream events (default
   20,000; --quick 5,000) are accepted through the intake (``accept_items``, as the event
   endpoint stores them), a third for fresh orders (placed, then paid, or declined, which
   opens a case, for one in five) and the rest for existing orders of the year (carrier
   scans, payment updates); its RSS (/proc/PID/status VmRSS) is sampled every second
   until the inbox is drained (the sender keeps at most 2,000 events waiting). Printed:
   RSS once the first 10% of the stream is processed (after warm-up), at the end, the
   maximum, and the growth from warm-up to the end beside the aim (flat: under 10%).

``--explain`` also replays the case page and the queue page in process with every SQL
statement timed, and prints EXPLAIN (ANALYZE, BUFFERS) of the slowest.
``--keep`` leaves the scratch schema (and prints how to drop it) instead of dropping it;
``--url`` measures a schema a ``--keep`` run loaded (no load; ``--stream 0``: pages only).
The full load takes ~40 minutes and ~14 GB on a shared 2-core machine.

    nice .venv/bin/python benchmarks/history_scale.py [--quick] [--orders N] [--stream N]
        [--samples 200] [--explain]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from _db import PG_URL, scratch_database, viewer_key
from _servers import WORKER, serve
from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the builders

from builders.console import console_person, sign_in_with
from orderops.audit.chain import AuditEntry, data_digest, record_hash
from orderops.audit.keys import audit_key_from
from orderops.bootstrap import App, bootstrap
from orderops.cases.queues import ensure_queue
from orderops.config import Settings
from orderops.domain.clock import FixedClock, SystemClock
from orderops.domain.policy import parse_policy
from orderops.domain.roles import Role
from orderops.ingest.intake import accept_items
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file, store_policy
from orderops.tenancy.tenants import ensure_tenant, issue_key
from orderops.tenancy.users import add_user

TENANT = "bench"
AIM_MS = 50.0
AIM_RSS_GROWTH = 0.10
CHUNK = 2_000
OPEN_CASES = 3_000
QUEUES = ["ops"] * 10 + ["support"] * 4 + ["fraud"] * 3 + ["finance"] * 3
TYPES_BY_QUEUE = {
    "ops": ["shipment_late", "inventory_shortfall", "shipment_delay_predicted", "stuck_order"],
    "support": ["customer_chasing", "address_problem", "cancel_requested"],
    "fraud": ["fraud_review"],
    "finance": ["payment_failed", "refund_pending", "duplicate_charge"],
}
OPEN_STATUSES = ["new", "new", "triaged", "awaiting_approval", "escalated"]
PEOPLE = [f"agent-{n}" for n in range(12)]
CITIES = ["Lyon", "Austin", "Leeds", "Porto", "Osaka", "Denver", "Gdansk", "Tucson"]
WORDS = [
    "merino",
    "linen",
    "wool",
    "organic",
    "classic",
    "slim",
    "relaxed",
    "travel",
    "everyday",
    "summer",
]
REGIONS = ["CA", "TX", "NY", "WA", "ON"]
COUNTRIES = ["US", "US", "US", "GB", "FR", "DE"]
LOCALES = [None, "en-US", "fr-FR", "de-DE"]
SCANS = ["in_transit", "in_transit", "out_for_delivery", "delivered"]
PRODUCTS = [
    "sweater",
    "shirt",
    "jacket",
    "scarf",
    "trousers",
    "socks",
    "beanie",
    "dress",
    "hoodie",
    "tee",
]


def hid(kind: str, n: int) -> str:
    """A random-looking, reproducible 32-hex id (ids are uuid4 hex in the app)."""
    return hashlib.md5(f"{kind}{n}".encode(), usedforsecurity=False).hexdigest()


def order_ref(n: int) -> str:
    return f"H{n:07d}"


def js(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


# --- the history ------------------------------------------------------------------------


@dataclass
class Spec:
    orders: int
    now: datetime
    customers: int = 0
    cases: int = 0
    open_from: int = 0
    """Case numbers from this one on are open (the newest OPEN_CASES)."""

    def __post_init__(self) -> None:
        self.customers = max(1, self.orders // 5)
        self.cases = (self.orders + 6) // 10
        self.open_from = max(0, self.cases - OPEN_CASES)

    def placed(self, n: int) -> datetime:
        start = self.now - timedelta(days=366)
        return start + timedelta(seconds=365 * 86_400 * n / self.orders + (n * 7919) % 3_600)


COLUMNS: dict[str, str] = {
    "customers": (
        "id, tenant_id, email, phone, name, tier, address, created_at, updated_at, locale"
    ),
    "orders": (
        "id, tenant_id, order_ref, number, source, customer_id, status, "
        "financial_status, fulfillment_status, currency, total_minor, placed_at, "
        "promised_by, promise_source, service_level, location, ship_to, delivered_at, "
        "source_updated_at, created_at, updated_at, channel, store"
    ),
    "order_lines": (
        "id, tenant_id, order_id, position, sku, title, quantity, unit_price_minor, location"
    ),
    "payments": (
        "id, tenant_id, provider, payment_ref, order_ref, status, amount_minor, "
        "amount_refunded_minor, currency, failure_code, failure_message, status_at, "
        "created_at, authorized_at, captured_at, failed_at"
    ),
    "shipments": (
        "id, tenant_id, shipment_ref, order_ref, carrier, service, tracking_number, "
        "origin_location, status, status_at, last_location, estimated_delivery, "
        "delivered_at, created_at, first_scan_at, last_message"
    ),
    "inbox": (
        "id, tenant_id, source, event_id, type, subject, event_time, received_at, "
        "envelope, status, attempts, processed_at"
    ),
    "cases": (
        "id, tenant_id, order_id, order_ref, exception_type, status, summary, "
        "detected_at, opened_at, updated_at, closed_at, close_reason, occurrences, "
        "reopen_count, facts, version, queue, priority, assignee, wake_on_event, "
        "impact_score, impact, jeopardy"
    ),
    "case_timeline": ("id, tenant_id, case_id, at, kind, summary, actor, data, inbox_id"),
    "case_timers": ("id, tenant_id, case_id, kind, due_at, fired_at, outcome, created_at"),
    "recommendations": (
        "id, tenant_id, case_id, order_ref, exception_type, policy, top_rule, "
        "confidence, body, created_by, created_at, playbook_version"
    ),
    "audit_log": (
        "id, tenant_id, seq, at, actor, action, entity_type, entity_id, data, "
        "data_digest, prev_hash, hash, key_id"
    ),
}


def cell(value: Any) -> str:
    """One value in COPY's text format (the generated text has no tab, newline or
    backslash to escape)."""
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bool):
        return "t" if value else "f"
    return str(value)


@dataclass
class Chunk:
    """Rows of one chunk of orders, per table, as COPY text lines in column order."""

    lines: dict[str, list[str]] = field(default_factory=dict)

    def add(self, table: str, *values: Any) -> None:
        self.lines.setdefault(table, []).append("\t".join(map(cell, values)))


def address(rng: random.Random, name: str) -> str:
    """A postal address as JSON text."""
    line2 = f'"Apt {rng.randrange(1, 90)}"' if rng.random() < 0.4 else "null"
    return (
        f'{{"name":"{name}","line1":"{rng.randrange(1, 400)} {rng.choice(WORDS).title()} '
        f'Street","line2":{line2},"city":"{rng.choice(CITIES)}","region":'
        f'"{rng.choice(REGIONS)}","postal_code":"{rng.randrange(10_000, 99_999)}",'
        f'"country":"{rng.choice(COUNTRIES)}"}}'
    )


def customer_chunk(spec: Spec, first: int, last: int) -> Chunk:
    out, rng = Chunk(), random.Random(first)
    for c in range(first, last):
        name = f"{rng.choice(WORDS).title()} Customer{c}"
        at = spec.now - timedelta(days=400 - c % 30)
        out.add(
            "customers",
            customer_id(c), TENANT, f"customer{c}@example.com",
            f"+1555{c:07d}" if c % 3 else None, name, "vip" if c % 50 == 0 else "standard",
            address(rng, name), at, at, rng.choice(LOCALES),
        )  # fmt: skip
    return out


def customer_id(c: int) -> str:
    return hid("c", c)


def payment_ref(n: int) -> str:
    return f"pi_3Hb{n:08d}x{n * 2_654_435_761 % 10**12:012d}"


_DAYS: dict[int, str] = {}


def iso(ts: int) -> str:
    """Epoch seconds as ISO 8601 UTC, fast (a day's date is formatted once)."""
    day, rest = divmod(ts, 86_400)
    date = _DAYS.get(day)
    if date is None:
        date = _DAYS[day] = datetime.fromtimestamp(day * 86_400, UTC).date().isoformat()
    hours, rest = divmod(rest, 3_600)
    return f"{date}T{hours:02d}:{rest // 60:02d}:{rest % 60:02d}+00:00"


def payment_doc(
    n: int, ref: str, pay_ref: str, total: int, status: str, at: int
) -> tuple[str, str, int, str, str]:
    failure = ',"failure_code":"card_declined"' if status == "failed" else ""
    doc = (
        f'{{"payment_ref":"{pay_ref}","order_ref":"{ref}","provider":"stripe",'
        f'"status":"{status}","amount_minor":{total},"currency":"USD"{failure},'
        f'"order_keys":[{{"kind":"shopify_order_id","value":"{5_000_000_000 + n}"}}],'
        f'"aliases":[{{"kind":"stripe_charge","value":"ch_3Hb{n:08d}"}}]}}'
    )
    return ("stripe://acct_bench", "payment.updated", at, ref, doc)


def envelope(source: str, type_: str, iso: str, subject: str, data: str, event_id: str) -> str:
    """A canonical event as the intake stores it (CloudEvents JSON), as text."""
    return (
        f'{{"specversion":"1.0","id":"{event_id}","source":"{source}","type":"{type_}",'
        f'"time":"{iso}","subject":"{subject}","datacontenttype":"application/json",'
        f'"data":{data}}}'
    )


def history_chunk(spec: Spec, first: int, last: int, audit: AuditChain) -> Chunk:
    """Rows for orders ``first``..``last``: the order, its lines, payment, shipment, inbox
    events and, for one order in ten, a case with its timeline, timer and audit."""
    out, rng = Chunk(), random.Random(first)
    bits = rng.getrandbits
    for n in range(first, last):
        ref, order_id = order_ref(n), hid("o", n)
        placed = spec.placed(n)
        customer = rng.randrange(spec.customers)
        name = f"Customer{customer}"
        ship_to = address(rng, name)
        country = ship_to[-4:-2]
        case_no = n // 10 if n % 10 == 3 else None
        is_open = case_no is not None and case_no >= spec.open_from
        queue = rng.choice(QUEUES)
        exception = rng.choice(TYPES_BY_QUEUE[queue])
        declined = case_no is not None and exception == "payment_failed"
        shipped = rng.random() < 0.9 and not declined
        recent = spec.now - placed < timedelta(days=4)
        delivered = shipped and not recent and not (is_open and queue == "ops")
        lines, line_docs = [], []
        for position in range(rng.randrange(1, 4)):
            sku = f"SKU-{rng.randrange(5_000):05d}"
            title = f"{rng.choice(WORDS).title()} {rng.choice(PRODUCTS)}"
            quantity, price = rng.randrange(1, 3), rng.randrange(900, 18_000)
            lines.append(quantity * price)
            line_docs.append(
                f'{{"sku":"{sku}","title":"{title}","quantity":{quantity},'
                f'"unit_price_minor":{price},"location":"WH1"}}'
            )
            out.add(
                "order_lines",
                f"{bits(128):032x}", TENANT, order_id, position, sku, title, quantity, price,
                "WH1",
            )  # fmt: skip
        total = sum(lines)
        promised = placed + timedelta(days=5)
        delivered_at = placed + timedelta(days=rng.randrange(2, 7)) if delivered else None
        out.add(
            "orders",
            order_id, TENANT, ref, f"#{1000 + n}", "shopify://bench-shop", customer_id(customer),
            "open" if not delivered else "closed", "pending" if declined else "paid",
            "fulfilled" if delivered else ("partial" if shipped else "unfulfilled"), "USD",
            total, placed, promised, "store", "standard", "WH1", ship_to, delivered_at,
            delivered_at or placed, placed, delivered_at or placed, "web", "bench-shop",
        )  # fmt: skip
        # -- the payment
        pay_ref = payment_ref(n)
        authorized = placed + timedelta(seconds=20)
        captured = None if declined else authorized + timedelta(minutes=rng.randrange(1, 90))
        out.add(
            "payments",
            f"{bits(128):032x}", TENANT, "stripe", pay_ref, ref,
            "failed" if declined else "captured", total, 0, "USD",
            "card_declined" if declined else None,
            "Your card was declined." if declined else None, captured or authorized,
            authorized, authorized, captured, authorized if declined else None,
        )  # fmt: skip
        # -- the shipment
        tracking = f"1ZB{n:012d}"
        shipped_at = placed + timedelta(days=1, hours=rng.randrange(12))
        if shipped:
            out.add(
                "shipments",
                f"{bits(128):032x}", TENANT, f"ful_{n}", ref, "ups", "Ground", tracking, "WH1",
                "delivered" if delivered else "in_transit", delivered_at or shipped_at,
                rng.choice(CITIES), promised, delivered_at, shipped_at,
                shipped_at + timedelta(hours=3), "Delivered" if delivered else "On the way",
            )  # fmt: skip
        # -- the inbox: what the providers sent, as they sent it (times in epoch seconds)
        t_placed = int(placed.timestamp())
        t_auth, t_ship = t_placed + 20, int(shipped_at.timestamp())
        t_captured = int(captured.timestamp()) if captured else t_auth
        placed_iso, promised_iso = iso(t_placed), iso(t_placed + 5 * 86_400)
        customer_doc = (
            f'{{"customer_ref":"gid://shopify/Customer/{customer}","email":'
            f'"customer{customer}@example.com","name":"{name}","address":{ship_to},'
            f'"aliases":[{{"kind":"shopify_customer_id","value":"{7_000_000 + customer}"}}],'
            f'"locale":"en-US"}}'
        )
        order_doc = (
            f'{{"order_ref":"{ref}","number":"#{1000 + n}","customer":{customer_doc},'
            f'"currency":"USD","total_minor":{total},"placed_at":"{placed_iso}","promised_by":'
            f'"{promised_iso}","service_level":"standard","location":"WH1","ship_to":{ship_to},'
            f'"lines":[{",".join(line_docs)}],"aliases":[{{"kind":"shopify_order_id","value":'
            f'"{5_000_000_000 + n}"}},{{"kind":"checkout_token","value":"{bits(128):032x}"}},'
            f'{{"kind":"cart_token","value":"{bits(128):032x}"}}],"store":"bench-shop",'
            f'"channel":"web","tags":["bench","{rng.choice(WORDS)}"]}}'
        )
        sent = [
            ("shopify://bench-shop", "customer.upserted", t_placed - 5, ref, customer_doc),
            ("shopify://bench-shop", "order.placed", t_placed, ref, order_doc),
            payment_doc(n, ref, pay_ref, total, "authorized", t_auth),
        ]
        if declined:
            sent.append(payment_doc(n, ref, pay_ref, total, "failed", t_auth + 2))
        else:
            sent.append(payment_doc(n, ref, pay_ref, total, "captured", t_captured))
            sent.append(("shopify://bench-shop", "order.updated", t_captured, ref, order_doc))
        if shipped:
            shipment_doc = (
                f'{{"shipment_ref":"ful_{n}","order_ref":"{ref}","carrier":"ups","service":'
                f'"Ground","tracking_number":"{tracking}","origin_location":"WH1",'
                f'"estimated_delivery":"{promised_iso}"}}'
            )
            sent.append(("shopify://bench-shop", "shipment.created", t_ship, ref, shipment_doc))
            for step, status in enumerate(SCANS if delivered else SCANS[:2]):
                at = t_ship + 3_600 * (3 + 14 * step)
                scan = (
                    f'{{"tracking_number":"{tracking}","carrier":"ups","status":"{status}",'
                    f'"occurred_at":"{iso(at)}","location":"{rng.choice(CITIES)}, {country}",'
                    f'"message":"UPS scan: {status} at facility {step}",'
                    f'"estimated_delivery":"{promised_iso}"}}'
                )
                sent.append(("ups://bench", "shipment.tracking", at, tracking, scan))
        inbox = out.lines.setdefault("inbox", [])
        for k, (source, type_, at, subject, data) in enumerate(sent):
            event_id, when = f"evt_{n:08d}{k:02d}{bits(32):08x}", iso(at)
            body = envelope(source, type_, when, subject, data, event_id)
            inbox.append(
                f"{bits(128):032x}\t{TENANT}\t{source}\t{event_id}\t{type_}\t{subject}\t"
                f"{when}\t{when}\t{body}\tprocessed\t1\t{when}"
            )
        if case_no is not None:
            case_rows(out, spec, case_no, n, rng, queue, exception, is_open, placed, audit)
    return out


def case_rows(
    out: Chunk,
    spec: Spec,
    case_no: int,
    n: int,
    rng: random.Random,
    queue: str,
    exception: str,
    is_open: bool,
    placed: datetime,
    audit: AuditChain,
) -> None:
    case_id, ref = hid("case", case_no), order_ref(n)
    opened = placed + timedelta(hours=rng.randrange(1, 60))
    opened = min(opened, spec.now - timedelta(minutes=5))
    closed = None if is_open else opened + timedelta(hours=rng.randrange(1, 72))
    status = rng.choice(OPEN_STATUSES) if is_open else "resolved"
    impact = rng.randrange(5, 100)
    facts = js(
        {
            "order_ref": ref,
            "detector": exception,
            "total_minor": 2_000 + n % 50_000,
            "promised_by": (placed + timedelta(days=5)).isoformat(),
            "evidence": [f"{exception} seen at {opened.isoformat()}", "carrier: ups"],
        }
    )
    out.add(
        "cases",
        case_id, TENANT, hid("o", n), ref, exception, status,
        f"{exception.replace('_', ' ')} on {ref}", opened, opened, closed or opened, closed,
        "resolved by the desk" if closed else None, 1, 0, facts, 1 if is_open else 3, queue,
        f"P{rng.randrange(1, 5)}",
        rng.choice([None, None, *PEOPLE]) if is_open else rng.choice(PEOPLE), False, impact,
        js({"order_value": impact // 2, "customer": impact - impact // 2}), "on_track",
    )  # fmt: skip
    steps = [("opened", opened, f"Opened: {exception}"), ("routed", opened, f"Routed to {queue}")]
    if closed:
        steps.append(("resolved", closed, "Resolved"))
    for k, (kind, at, summary) in enumerate(steps):
        stamp = int(at.timestamp() * 1e9) + k
        out.add(
            "case_timeline",
            f"{stamp:016x}{rng.getrandbits(64):016x}", TENANT, case_id, at, kind, summary,
            "system", js({"queue": queue} if kind == "routed" else {}), None,
        )  # fmt: skip
        out.add("audit_log", *audit.record(at, f"case.{kind}", case_id, {"queue": queue}))
    if is_open:
        due = spec.now + timedelta(hours=rng.randrange(1, 48))
        out.add(
            "case_timers",
            f"{rng.getrandbits(128):032x}", TENANT, case_id, "sla_breach", due, None, None,
            opened,
        )  # fmt: skip
        out.add(
            "recommendations",
            f"{int(opened.timestamp() * 1e9):016x}{rng.getrandbits(64):016x}", TENANT, case_id,
            ref, exception, "default playbook v0", "preloaded", 0.7,
            js({"actions": [], "rationale": "preloaded with the history"}), "system", opened, 0,
        )  # fmt: skip


class AuditChain:
    """Audit records chained after the tenant's head, with the desk's key and hashing."""

    def __init__(self, app: App) -> None:
        self.key = audit_key_from(app.settings)
        with app.engine.connect() as connection:
            seq, prev = connection.execute(
                text("SELECT seq, hash FROM audit_heads WHERE tenant_id = :t"), {"t": TENANT}
            ).one()
        self.seq, self.prev = int(seq), str(prev)

    def record(
        self, at: datetime, action: str, case_id: str, data: dict[str, Any]
    ) -> tuple[Any, ...]:
        self.seq += 1
        entry = AuditEntry(
            tenant_id=TENANT,
            seq=self.seq,
            at=at,
            actor="system",
            action=action,
            entity_type="case",
            entity_id=case_id,
            data=data,
        )
        digest = data_digest(data)
        hashed = record_hash(self.prev, entry, self.key, digest=digest)
        row = (uuid.uuid4().hex, TENANT, self.seq, at, "system", action, "case", case_id,
               js(data), digest, self.prev, hashed, self.key.key_id)  # fmt: skip
        self.prev = hashed
        return row


def copy_lines(cursor: Any, table: str, lines: list[str]) -> None:
    with cursor.copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
        for start in range(0, len(lines), 2_000):
            copy.write("\n".join(lines[start : start + 2_000]) + "\n")


def set_indexes_aside(cursor: Any, tables: list[str]) -> list[str]:
    """Drop the loaded tables' plain indexes (not those behind a primary key or unique
    constraint) and the inbox's NOTIFY trigger; the statements that put them back, as
    the migrations made them. Building an index once after the load is several times
    faster than keeping it up to date row by row."""
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema() "
        "AND i.tablename = ANY(%s) AND NOT EXISTS (SELECT 1 FROM pg_constraint c "
        "WHERE c.conname = i.indexname AND c.connamespace = (SELECT oid FROM pg_namespace "
        "WHERE nspname = current_schema()))",
        (tables,),
    )
    found = cursor.fetchall()
    for name, _ in found:
        cursor.execute(f'DROP INDEX "{name}"')
    cursor.execute("ALTER TABLE inbox DISABLE TRIGGER inbox_notify")
    return [definition for _, definition in found] + [
        "ALTER TABLE inbox ENABLE TRIGGER inbox_notify"
    ]


def load_history(app: App, spec: Spec) -> dict[str, int]:
    """COPY the history in chunks, one transaction each; the row counts per table."""
    counts: dict[str, int] = {}
    audit = AuditChain(app)
    raw = app.engine.raw_connection()
    try:
        pg = raw.driver_connection
        assert pg is not None
        with pg.cursor() as cursor:
            cursor.execute("SET synchronous_commit = off")
            rebuild = set_indexes_aside(cursor, list(COLUMNS))
            pg.commit()
            for first in range(0, spec.customers, 20_000):
                chunk = customer_chunk(spec, first, min(first + 20_000, spec.customers))
                copy_lines(cursor, "customers", chunk.lines["customers"])
                counts["customers"] = counts.get("customers", 0) + len(chunk.lines["customers"])
            pg.commit()
            started = time.perf_counter()
            for first in range(0, spec.orders, CHUNK):
                chunk = history_chunk(spec, first, min(first + CHUNK, spec.orders), audit)
                for table in COLUMNS:
                    if lines := chunk.lines.get(table, []):
                        copy_lines(cursor, table, lines)
                        counts[table] = counts.get(table, 0) + len(lines)
                cursor.execute(
                    "UPDATE audit_heads SET seq = %s, hash = %s WHERE tenant_id = %s",
                    (audit.seq, audit.prev, TENANT),
                )
                pg.commit()
                done = min(first + CHUNK, spec.orders)
                if done % (CHUNK * 25) == 0 or done == spec.orders:
                    rate = done / (time.perf_counter() - started)
                    print(f"  {done:,} orders ({rate:,.0f}/s), load {os.getloadavg()[0]:.1f}")
            cursor.execute("SET maintenance_work_mem = '512MB'")
            index_started = time.perf_counter()
            for statement in rebuild:
                cursor.execute(statement)
            pg.commit()
            print(
                f"  {len(rebuild)} indexes rebuilt in {time.perf_counter() - index_started:.0f} s"
            )
            pg.autocommit = True
            cursor.execute("VACUUM ANALYZE")
            pg.autocommit = False
    finally:
        raw.close()
    return counts


def prepare(app: App) -> tuple[str, Any]:
    """The tenant, its queues, a key for the API reads and an agent for the console."""
    clock = app.clock
    ensure_tenant(app.sessions, tenant_id=TENANT, name="Bench", clock=clock)
    from orderops.storage.uow import UnitOfWork

    with UnitOfWork(app.sessions, tenant_id=TENANT) as uow:
        for name in ("ops", "support", "fraud", "finance", "leads"):
            ensure_queue(uow, name, now=clock.now())
        uow.commit()
    # A decline opens its case from its own event, so the stream opens cases.
    document = load_policy_file(EXAMPLE_POLICY).model_dump(mode="json")
    document["detectors"] = {"payment_failed": {"thresholds": {"grace_minutes": 0}}}
    store_policy(
        app.sessions, tenant_id=TENANT, policy=parse_policy(document), actor="bench", clock=clock
    )
    fixed = FixedClock(clock.now())
    person = console_person(app, fixed, role=Role.AGENT, tenant=TENANT, name="Agent Bench")
    return viewer_key(app, TENANT), person


# --- the pages ---------------------------------------------------------------------------


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass
class Target:
    name: str
    path: str
    console: bool
    timings: dict[str, list[float]] = field(default_factory=dict)


def targets(app: App) -> tuple[list[Target], str]:
    with app.engine.connect() as connection:
        case_id = connection.execute(
            text(
                "SELECT id FROM cases WHERE tenant_id = :t AND queue = 'ops' "
                "AND status NOT IN ('resolved', 'rejected') ORDER BY opened_at LIMIT 1"
            ),
            {"t": TENANT},
        ).scalar_one()
    return [
        Target("baseline: GET /v1/routing-rules", "/v1/routing-rules", False),
        Target("queue page: /console/queues/ops", "/console/queues/ops", True),
        Target("queue API: /v1/cases?queue=ops&open=true", "/v1/cases?queue=ops&open=true", False),
        Target("case page: /console/cases/{id}", f"/console/cases/{case_id}", True),
        Target("case API: GET /v1/cases/{id}", f"/v1/cases/{case_id}", False),
    ], case_id


def measure_pages(base: str, secret: str, person: Any, found: list[Target], samples: int) -> None:
    api = httpx.Client(base_url=base, headers={"Authorization": f"Bearer {secret}"}, timeout=60)
    console = httpx.Client(base_url=base, follow_redirects=False, timeout=60)
    sign_in_with(console, person)

    def once(target: Target) -> float:
        client = console if target.console else api
        started = time.perf_counter()
        answer = client.get(target.path)
        took = 1000 * (time.perf_counter() - started)
        if answer.status_code != 200:
            raise RuntimeError(f"{target.path}: {answer.status_code} {answer.text[:300]}")
        return took

    for target in found:  # warm: templates compiled, pools and caches filled
        for _ in range(5):
            once(target)
    for target in found:
        target.timings["sequential"] = [once(target) for _ in range(samples)]
    interleaved: dict[str, list[float]] = {t.name: [] for t in found}
    for _ in range(samples):
        for target in found:
            interleaved[target.name].append(once(target))
    for target in found:
        target.timings["interleaved"] = interleaved[target.name]
    api.close()
    console.close()


# --- the worker's memory -------------------------------------------------------------------


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def stream_items(spec: Spec, count: int, now: datetime) -> Iterator[list[dict[str, Any]]]:
    """Batches of events: fresh orders (placed, paid or declined) and existing ones."""
    rng = random.Random(1919)
    sent, fresh = 0, 0
    while sent < count:
        batch: list[dict[str, Any]] = []
        while len(batch) < 20 and sent + len(batch) < count:
            at = now + timedelta(milliseconds=sent + len(batch))
            if rng.random() < 0.17:  # a fresh order: placed, then its payment (x2 events)
                ref = f"F{fresh:07d}-{uuid.uuid4().hex[:6]}"
                fresh += 1
                total = rng.randrange(1_500, 30_000)
                placed = {
                    "order_ref": ref,
                    "currency": "USD",
                    "total_minor": total,
                    "placed_at": at.isoformat(),
                    "promised_by": (at + timedelta(days=5)).isoformat(),
                    "customer": {
                        "customer_ref": f"gid://shopify/Customer/{rng.randrange(spec.customers)}",
                        "email": f"customer{rng.randrange(spec.customers)}@example.com",
                    },
                    "lines": [{"sku": "SKU-00001", "quantity": 1, "unit_price_minor": total}],
                }
                paid = {
                    "payment_ref": f"pi_{ref}",
                    "order_ref": ref,
                    "provider": "stripe",
                    "status": "failed" if rng.random() < 0.2 else "captured",
                    "amount_minor": total,
                    "currency": "USD",
                    "failure_code": "card_declined",
                }
                batch.append(stream_event("shopify://bench-shop", "order.placed", at, ref, placed))
                batch.append(stream_event("stripe://acct_bench", "payment.updated", at, ref, paid))
                continue
            n = rng.randrange(spec.orders)
            ref, tracking = order_ref(n), f"1ZB{n:012d}"
            data: dict[str, Any]
            if rng.random() < 0.5:
                data = {
                    "tracking_number": tracking,
                    "carrier": "ups",
                    "status": "in_transit",
                    "occurred_at": at.isoformat(),
                    "location": rng.choice(CITIES),
                    "message": "UPS scan: in transit (stream)",
                }
                batch.append(stream_event("ups://bench", "shipment.tracking", at, tracking, data))
            else:
                data = {
                    "payment_ref": payment_ref(n),
                    "order_ref": ref,
                    "provider": "stripe",
                    "status": "captured",
                    "amount_minor": 1_000,
                    "amount_refunded_minor": 0,
                    "currency": "USD",
                }
                batch.append(stream_event("stripe://acct_bench", "payment.updated", at, ref, data))
        sent += len(batch)
        yield batch


def stream_event(
    source: str, type_: str, at: datetime, subject: str, data: dict[str, Any]
) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"evt_{uuid.uuid4().hex}",
        "source": source,
        "type": type_,
        "time": at.isoformat(),
        "subject": subject,
        "data": data,
    }


@dataclass
class RssRun:
    samples: list[tuple[float, int, int]]
    """(seconds since start, RSS kB, events processed)"""
    accepted: int
    seconds: float
    warm_kb: int = 0
    end_kb: int = 0
    max_kb: int = 0


def pending(app: App) -> int:
    with app.engine.connect() as connection:
        return int(
            connection.execute(
                text("SELECT count(*) FROM inbox WHERE tenant_id = :t AND status = 'pending'"),
                {"t": TENANT},
            ).scalar_one()
        )


def measure_worker(app: App, url: str, spec: Spec, count: int) -> RssRun:
    child = subprocess.Popen([sys.executable, "-c", WORKER, url], stdout=subprocess.PIPE, text=True)
    samples: list[tuple[float, int, int]] = []
    accepted, processed = [0], [0]
    stop, ready = threading.Event(), threading.Event()
    started = time.perf_counter()

    def listen() -> None:
        """``_servers.WORKER`` prints "ready" once its start-up pass is over; then the
        loop of ``orderops worker`` runs. Whatever it prints later is read and dropped."""
        assert child.stdout is not None
        for line in child.stdout:
            if line.strip() == "ready":
                ready.set()

    def feed() -> None:
        for batch in stream_items(spec, count, app.clock.now()):
            if stop.is_set():
                return
            accept_items(
                app.sessions, tenant_id=TENANT, items=batch, channel="bench", clock=app.clock
            )
            accepted[0] += len(batch)
            while accepted[0] - processed[0] > 2_000 and not stop.is_set():  # a steady lag
                time.sleep(0.2)

    sender = threading.Thread(target=feed)
    threading.Thread(target=listen, daemon=True).start()
    if '"ready"' not in WORKER:  # a worker script that does not say so: stream at once
        ready.set()
    streamed_from = 0
    try:
        while True:
            time.sleep(1.0)
            if child.poll() is not None:
                raise RuntimeError("the worker died")
            if ready.is_set() and not sender.is_alive() and not accepted[0]:
                print(
                    f"  start-up pass over in {time.perf_counter() - started:.0f} s, "
                    f"RSS {rss_kb(child.pid) / 1024:.0f} MB: the stream starts"
                )
                sender.start()
                streamed_from = len(samples)
            if not sender.is_alive() and not accepted[0]:
                samples.append((time.perf_counter() - started, rss_kb(child.pid), 0))
                continue
            processed[0] = accepted[0] - pending(app)
            samples.append((time.perf_counter() - started, rss_kb(child.pid), processed[0]))
            if len(samples) % 15 == 0:
                print(
                    f"  {samples[-1][0]:.0f} s: {processed[0]:,}/{count:,} processed, "
                    f"RSS {samples[-1][1] / 1024:.0f} MB, load {os.getloadavg()[0]:.1f}"
                )
            if not sender.is_alive() and processed[0] >= accepted[0]:
                break
            if len(samples) - streamed_from > 60 and samples[-60][2] == processed[0]:
                print("  no progress for 60 s: stopping")
                break
    finally:
        stop.set()
        if sender.is_alive():
            sender.join()
        child.terminate()
        child.wait(timeout=60)
    run = RssRun(samples, accepted[0], time.perf_counter() - started)
    warm = next((s for s in samples if s[2] >= count // 10), samples[0])
    run.warm_kb, run.end_kb = warm[1], samples[-1][1]
    run.max_kb = max(s[1] for s in samples)
    return run


# --- finding the slow statements -----------------------------------------------------------


@contextmanager
def timed_statements(engine: Any) -> Iterator[list[tuple[float, str, Any]]]:
    found: list[tuple[float, str, Any]] = []

    def before(
        conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: Any
    ) -> None:
        conn.info.setdefault("bench_started", []).append(time.perf_counter())

    def after(conn: Any, cursor: Any, statement: str, params: Any, context: Any, many: Any) -> None:
        took = 1000 * (time.perf_counter() - conn.info["bench_started"].pop())
        found.append((took, statement, params))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "after_cursor_execute", after)
    try:
        yield found
    finally:
        event.remove(engine, "before_cursor_execute", before)
        event.remove(engine, "after_cursor_execute", after)


def explain(url: str, person: Any, found: list[Target]) -> None:
    """Each page in process, its statements timed; EXPLAIN ANALYZE of the slowest."""
    from fastapi.testclient import TestClient

    from orderops.api.app import create_app

    app = bootstrap(Settings(database_url=url, demo_mode=True), migrate=False)
    client = TestClient(create_app(app), follow_redirects=False)
    sign_in_with(client, person)
    for target in found:
        if not target.console:
            continue
        client.get(target.path)
        with timed_statements(app.engine) as statements:
            started = time.perf_counter()
            client.get(target.path)
            total = 1000 * (time.perf_counter() - started)
        print(
            f"\n{target.name}: {total:.1f} ms in process, {len(statements)} statements, "
            f"{sum(s[0] for s in statements):.1f} ms in them"
        )
        for took, statement, params in sorted(statements, key=lambda s: -s[0])[:3]:
            print(f"  {took:.1f} ms: {' '.join(statement.split())[:240]}")
            if took < 2 or not statement.lstrip().upper().startswith("SELECT"):
                continue
            with app.engine.connect() as connection:
                raw = connection.connection.driver_connection
                assert raw is not None
                with raw.cursor() as cursor:
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, params)
                    for (line,) in cursor.fetchall():
                        print(f"      {line}")
    app.close()


# --- the run ---------------------------------------------------------------------------------


def another_viewer_key(app: App) -> str:
    """A viewer's key, as ``_db.viewer_key`` makes one, for a database that has one."""
    label = uuid.uuid4().hex[:6]
    viewer = add_user(
        app.sessions,
        tenant_id=TENANT,
        display_name=f"Bench Viewer {label}",
        role=Role.VIEWER,
        email=f"viewer-{label}@bench.example",
        clock=app.clock,
        actor="bench",
    )
    key = issue_key(
        app.sessions, tenant_id=TENANT, name=label, role=Role.VIEWER, clock=app.clock,
        user_id=viewer.id,
    )  # fmt: skip
    return key.secret


def kept_schema() -> str:
    """A scratch schema as ``_db.scratch_database`` makes one, left in place (``--keep``)."""
    schema = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    admin.dispose()
    print(f'kept schema {schema}: drop it with DROP SCHEMA "{schema}" CASCADE')
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    return url.render_as_string(hide_password=False)


def run(args: argparse.Namespace) -> None:
    orders = args.orders or (100_000 if args.quick else 1_000_000)
    stream = args.stream if args.stream is not None else (5_000 if args.quick else 20_000)
    now = datetime.now(UTC)
    spec = Spec(orders, now)

    @contextmanager
    def database() -> Iterator[str]:
        if args.url:
            yield args.url
        elif args.keep:
            yield kept_schema()
        else:
            with scratch_database("postgres") as url:
                yield url

    with database() as url:
        app = bootstrap(Settings(database_url=url, demo_mode=True), clock=SystemClock())
        if args.url:  # another run's viewer and agent exist: new ones, named apart
            secret = another_viewer_key(app)
            person = console_person(
                app,
                FixedClock(now),
                role=Role.AGENT,
                tenant=TENANT,
                name=f"Agent {uuid.uuid4().hex[:6]}",
            )
        else:
            secret, person = prepare(app)
            started = time.perf_counter()
            counts = load_history(app, spec)
            took = time.perf_counter() - started
            print(f"loaded in {took:.0f} s: " + ", ".join(f"{t} {c:,}" for t, c in counts.items()))
        with app.engine.connect() as connection:
            size = connection.execute(
                text("SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid))) FROM pg_class c "
                     "JOIN pg_namespace s ON s.oid = c.relnamespace "
                     "WHERE s.nspname = current_schema() AND c.relkind = 'r'")
            ).scalar_one()  # fmt: skip
        print(f"schema size: {size}")
        found, _case_id = targets(app)
        # One client asks back to back: no API limit may refuse it (the server reads these).
        os.environ["ORDEROPS_RATE_LIMIT_API_PER_TENANT"] = "1000000000/day"
        os.environ["ORDEROPS_RATE_LIMIT_API_PER_KEY"] = "1000000000/day"
        with serve("desk", url) as base:
            measure_pages(base, secret, person, found, args.samples)
        if args.explain:
            explain(url, person, found)
        rss = measure_worker(app, url, spec, stream) if stream > 0 else None
        app.close()
    report(found, rss, orders, args.samples)


def report(found: list[Target], rss: RssRun | None, orders: int, samples: int) -> None:
    base = {mode: percentile(t, 0.99) for mode, t in found[0].timings.items()}
    print(f"\n{orders:,} orders, {samples} samples per endpoint, one client (an idle desk)")
    print(f"{'endpoint':44} {'mode':12} {'p50 ms':>8} {'p99 ms':>8} {'/ baseline':>11}  aim")
    for target in found:
        for mode, timings in target.timings.items():
            p99 = percentile(timings, 0.99)
            verdict = "" if target is found[0] else ("met" if p99 < AIM_MS else "MISSED")
            print(
                f"{target.name:44} {mode:12} {statistics.median(timings):8.1f} {p99:8.1f} "
                f"{p99 / base[mode]:10.2f}x  {verdict}"
            )
    print(f"aim: p99 < {AIM_MS:.0f} ms for the queue and case pages")
    if rss is not None:
        growth = (rss.end_kb - rss.warm_kb) / rss.warm_kb
        verdict = "met" if growth < AIM_RSS_GROWTH else "MISSED"
        print(
            f"\nworker: {rss.accepted:,} events in {rss.seconds:.0f} s "
            f"({rss.accepted / rss.seconds:.0f}/s); RSS after warm-up {rss.warm_kb / 1024:.0f} MB, "
            f"end {rss.end_kb / 1024:.0f} MB, max {rss.max_kb / 1024:.0f} MB, growth "
            f"{100 * growth:+.1f}% (aim: flat, under {100 * AIM_RSS_GROWTH:.0f}%): {verdict}"
        )
    print(f"load average at the end: {os.getloadavg()} on {os.cpu_count()} CPUs")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="100k orders, a 5,000-event stream")
    parser.add_argument("--orders", type=int, default=None)
    parser.add_argument("--stream", type=int, default=None, help="events fed to the worker")
    parser.add_argument("--samples", type=int, default=200, help="requests per endpoint and mode")
    parser.add_argument(
        "--explain", action="store_true", help="time statements, EXPLAIN the slowest"
    )
    parser.add_argument("--keep", action="store_true", help="keep the loaded schema")
    parser.add_argument("--url", help="measure an already loaded database (no load)")
    # Stopped with SIGTERM, clean up as on Ctrl-C: the scratch schema dropped, servers ended.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    run(parser.parse_args())


if __name__ == "__main__":
    main()
