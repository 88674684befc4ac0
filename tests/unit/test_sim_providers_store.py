"""The provider-format store: deterministic files holding every linking convention.

The conventions are counted here straight from deliveries.jsonl (not from the
simulator's own census), so each count says what a desk receiving these webhooks
would actually see.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from orderops.sim.providers.reference import read_files, window_end
from orderops.sim.providers.run import write_store

FILES = ("deliveries.jsonl", "labels.jsonl", "policy.yaml", "store.json")
PROVIDERS = {"shopify", "stripe", "easypost", "shippo", "aftership", "zendesk"}
SIGNATURE_HEADERS = {
    "x-shopify-hmac-sha256",
    "stripe-signature",
    "x-hmac-signature",
    "shippo-auth-signature",
    "aftership-hmac-sha256",
    "x-zendesk-webhook-signature",
}
BRIEF_TYPES = {
    "payment_failed",
    "payment_hold",
    "fraud_review",
    "refund_pending",
    "inventory_shortfall",
    "stuck_order",
    "shipment_late",
    "carrier_exception",
    "customer_chasing",
}


def _time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _read(folder: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    deliveries = [json.loads(x) for x in (folder / "deliveries.jsonl").read_text().splitlines()]
    labels = [json.loads(x) for x in (folder / "labels.jsonl").read_text().splitlines()]
    return deliveries, labels, json.loads((folder / "store.json").read_text())


@pytest.fixture(scope="module")
def default_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The documented default: 10 days of 60 orders a day, seed 7."""
    folder = tmp_path_factory.mktemp("store")
    write_store(folder, seed=7, days=10, orders_per_day=60)
    return folder


@pytest.fixture(scope="module")
def run(default_run: Path) -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, Any]]:
    return _read(default_run)


def _topic(d: dict[str, Any]) -> str:
    if d["provider"] == "shopify":
        return str(d["headers"]["X-Shopify-Topic"])
    if d["provider"] == "stripe":
        return str(d["body"]["type"])
    return str(d["provider"])


def _originals(deliveries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [d for d in deliveries if d["redelivery_of"] is None]


# --- determinism ---------------------------------------------------------------------


def test_the_same_seed_writes_the_same_bytes_and_another_seed_does_not(tmp_path: Path) -> None:
    for name, seed in (("a", 3), ("b", 3), ("c", 4)):
        write_store(tmp_path / name, seed=seed, days=1.5, orders_per_day=30, history_days=2)

    for file in FILES:
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes(), file
    a = (tmp_path / "a" / "deliveries.jsonl").read_bytes()
    assert a != (tmp_path / "c" / "deliveries.jsonl").read_bytes()


def test_impossible_sizes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="days"):
        write_store(tmp_path, days=0)
    with pytest.raises(ValueError, match="orders_per_day"):
        write_store(tmp_path, orders_per_day=-1)


# --- the delivery file ---------------------------------------------------------------


def test_deliveries_are_numbered_and_sorted_by_arrival(run: Any) -> None:
    deliveries, _, store = run

    assert [d["seq"] for d in deliveries] == list(range(1, len(deliveries) + 1))
    arrivals = [_time(d["deliver_at"]) for d in deliveries]
    assert arrivals == sorted(arrivals)
    assert arrivals[-1] <= _time(store["window"]["end"])
    assert {d["provider"] for d in deliveries} == PROVIDERS
    assert all(
        set(d) == {"seq", "deliver_at", "provider", "headers", "body", "redelivery_of"}
        for d in deliveries
    )


def test_no_delivery_carries_a_signature_and_shopify_sends_its_headers(run: Any) -> None:
    deliveries, _, _ = run
    wanted = {"X-Shopify-Topic", "X-Shopify-Webhook-Id", "X-Shopify-Shop-Domain"}
    wanted |= {"X-Shopify-API-Version", "X-Shopify-Triggered-At"}

    assert not any(SIGNATURE_HEADERS & {h.lower() for h in d["headers"]} for d in deliveries)
    assert all(wanted <= set(d["headers"]) for d in deliveries if d["provider"] == "shopify")


def test_about_three_percent_are_redelivered_byte_for_byte(run: Any) -> None:
    deliveries, _, _ = run
    by_seq = {d["seq"]: d for d in deliveries}
    again = [d for d in deliveries if d["redelivery_of"] is not None]

    assert 0.02 <= len(again) / len(deliveries) <= 0.04
    for d in again:
        first = by_seq[d["redelivery_of"]]
        assert first["seq"] < d["seq"]
        assert (first["provider"], first["headers"], first["body"]) == (
            d["provider"],
            d["headers"],
            d["body"],
        )
    providers = {d["provider"] for d in again}
    assert {"shopify", "stripe"} <= providers


def _object_of(d: dict[str, Any]) -> tuple[str, str, datetime] | None:
    """(kind, id, the provider's own time) for versioned objects."""
    body = d["body"]
    topic = _topic(d)
    if topic.startswith("orders/"):
        return "order", str(body["id"]), _time(body["updated_at"])
    if d["provider"] == "easypost":
        tracker = body["result"]
        return (
            "parcel",
            tracker["tracking_code"],
            _time(tracker["tracking_details"][-1]["datetime"]),
        )
    if d["provider"] == "zendesk":
        return "ticket", str(body["ticket"]["id"]), _time(body["ticket"]["updated_at"])
    return None


def test_about_five_percent_arrive_after_a_later_version_of_their_object(run: Any) -> None:
    deliveries, _, _ = run
    latest: dict[tuple[str, str], datetime] = {}
    overtaken: Counter[str] = Counter()
    for d in _originals(deliveries):
        found = _object_of(d)
        if found is None:
            continue
        kind, ref, at = found
        if (kind, ref) in latest and at < latest[(kind, ref)]:
            overtaken[kind] += 1
        latest[(kind, ref)] = max(at, latest.get((kind, ref), at))

    assert set(overtaken) == {"order", "parcel", "ticket"}
    assert 0.01 <= sum(overtaken.values()) / len(deliveries) <= 0.1


# --- the linking conventions ---------------------------------------------------------


def test_every_stripe_convention_is_present(run: Any) -> None:
    deliveries, _, _ = run
    counts: Counter[str] = Counter()
    outcomes: dict[str, list[str]] = defaultdict(list)
    for d in _originals(deliveries):
        if d["provider"] != "stripe":
            continue
        obj = d["body"]["data"]["object"]
        kind = d["body"]["type"]
        metadata = obj.get("metadata") or {}
        if kind.startswith("payment_intent."):
            outcomes[obj["id"]].append(kind)
            for key in ("checkout_token", "cart_token", "order_id"):
                counts[key] += key in metadata
            number = str(metadata.get("order_number", ""))
            counts["order_number #"] += number.startswith("#")
            counts["order_number digits"] += number.isdigit()
        elif obj.get("object") == "charge":
            counts["charge without metadata"] += not metadata
            counts["charge with metadata"] += bool(metadata)
        if kind in ("charge.dispute.created", "radar.early_fraud_warning.created", "review.opened"):
            counts[
                f"{kind} naming the intent" if obj.get("payment_intent") else f"{kind} charge only"
            ] += 1
    recovered = sum(
        1
        for kinds in outcomes.values()
        if "payment_intent.payment_failed" in kinds
        and kinds[-1] in ("payment_intent.succeeded", "payment_intent.amount_capturable_updated")
    )

    assert recovered > 0
    for name in ("checkout_token", "cart_token", "order_id", "order_number #"):
        assert counts[name] > 0, name
    for name in ("order_number digits", "charge without metadata", "charge with metadata"):
        assert counts[name] > 0, name
    signals = [k for k in counts if k.startswith(("charge.dispute", "radar", "review"))]
    assert len(signals) == 6, sorted(signals)


def test_every_shopify_topic_the_story_needs_is_delivered(run: Any) -> None:
    deliveries, _, _ = run
    topics = Counter(_topic(d) for d in deliveries if d["provider"] == "shopify")
    lowered = [
        d
        for d in deliveries
        if _topic(d) == "orders/updated"
        and d["body"]["current_total_price"] != d["body"]["total_price"]
    ]
    holds = [d["body"] for d in deliveries if _topic(d) == "fulfillment_orders/placed_on_hold"]
    zeroes = [
        d
        for d in deliveries
        if _topic(d) == "inventory_levels/update" and d["body"]["available"] == 0
    ]

    assert set(topics) >= {
        "orders/create", "orders/updated", "orders/paid", "orders/cancelled", "orders/fulfilled",
        "fulfillments/create", "fulfillments/update", "refunds/create", "products/create",
        "products/update", "inventory_items/create", "inventory_items/update",
        "inventory_levels/update", "customers/create", "customers/update",
        "fulfillment_orders/placed_on_hold", "fulfillment_orders/hold_released",
    }  # fmt: skip
    assert lowered, "a refund lowers current_total_price and leaves total_price"
    assert holds
    assert not any("order_id" in json.dumps(h) for h in holds), "holds name no order"
    assert zeroes, "a SKU goes out of stock"


def _tracking(d: dict[str, Any]) -> tuple[str, str] | None:
    """(tracking code, carrier spelling) of a carrier delivery."""
    body = d["body"]
    if d["provider"] == "easypost":
        return body["result"]["tracking_code"], body["result"]["carrier"]
    if d["provider"] == "shippo":
        return body["data"]["tracking_number"], body["data"]["carrier"]
    if d["provider"] == "aftership":
        return body["msg"]["tracking_number"], body["msg"]["slug"]
    return None


def test_carriers_name_the_tracking_code_of_the_fulfillment_in_their_own_spelling(run: Any) -> None:
    deliveries, _, _ = run
    names = {
        str(d["body"]["id"]): d["body"]["name"] for d in deliveries if _topic(d) == "orders/create"
    }
    fulfilled = {
        d["body"]["tracking_number"]: (d["body"]["tracking_company"], str(d["body"]["order_id"]))
        for d in deliveries
        if _topic(d) == "fulfillments/create"
    }
    spellings: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for d in deliveries:
        found = _tracking(d)
        if found is None:
            continue
        code, carrier = found
        company, order_id = fulfilled[code]
        text = json.dumps(d["body"])
        assert order_id not in text, "a carrier names the order id"
        assert names.get(order_id, "#none") not in text, "a carrier names the order"
        spellings[d["provider"]].add((company, carrier))

    assert set(spellings) == {"easypost", "shippo", "aftership"}
    assert any(company != carrier for pairs in spellings.values() for company, carrier in pairs)


def test_tickets_name_their_order_in_every_way_customers_do(run: Any) -> None:
    deliveries, _, _ = run
    numbers = {str(d["body"]["order_number"]) for d in deliveries if _topic(d) == "orders/create"}
    ids = {str(d["body"]["id"]) for d in deliveries if _topic(d) == "orders/create"}
    ways: Counter[str] = Counter()
    opened: dict[str, list[datetime]] = defaultdict(list)
    for d in _originals(deliveries):
        if d["provider"] != "zendesk" or d["body"]["ticket"]["status"] != "new":
            continue
        t = d["body"]["ticket"]
        text = f"{t['subject']} {t['description']}"
        field = next(
            (
                f["value"]
                for f in t["custom_fields"]
                if f["value"] and any(c.isdigit() for c in f["value"])
            ),
            None,
        )
        ways["hash"] += bool(re.search(r"#\d{4}", text))
        ways["order 1538"] += bool(re.search(r"\border \d{4}", text))
        ways["order no."] += bool(re.search(r"order no\. \d{4}", text))
        ways["field #"] += bool(field and field.startswith("#") and field[1:] in numbers)
        ways["field digits"] += bool(field and field in numbers)
        ways["external id"] += t["external_id"] in ids
        ways["email only"] += not re.search(r"\d{3}", text) and not field and not t["external_id"]
        opened[t["requester"]["email"]].append(_time(t["created_at"]))
    chasers = [
        email
        for email, times in opened.items()
        if any(
            b - a <= timedelta(hours=72)
            for a, b in zip(sorted(times), sorted(times)[2:], strict=False)
        )
    ]

    assert all(
        ways[w] > 0
        for w in (
            "hash",
            "order 1538",
            "order no.",
            "field #",
            "field digits",
            "external id",
            "email only",
        )
    ), ways
    assert chasers


def test_records_arrive_before_the_order_they_name_and_customers_hold_two_open_orders(
    run: Any,
) -> None:
    deliveries, _, _ = run
    created_at_seq: dict[str, int] = {}
    tokens: dict[str, str] = {}
    for d in deliveries:
        if _topic(d) == "orders/create" and d["redelivery_of"] is None:
            body = d["body"]
            created_at_seq[str(body["id"])] = d["seq"]
            tokens[body["checkout_token"]] = tokens[body["cart_token"]] = str(body["id"])
    early_payments = early_fulfillments = 0
    for d in deliveries:
        if _topic(d).startswith("payment_intent."):
            meta = d["body"]["data"]["object"]["metadata"]
            order = tokens.get(meta.get("checkout_token") or meta.get("cart_token") or "")
            early_payments += order is not None and d["seq"] < created_at_seq.get(order, 0)
        if _topic(d) == "fulfillments/create":
            early_fulfillments += d["seq"] < created_at_seq.get(str(d["body"]["order_id"]), 0)
    placed: dict[str, list[tuple[datetime, datetime | None]]] = defaultdict(list)
    shipped = {
        str(d["body"]["order_id"]): _time(d["body"]["created_at"])
        for d in deliveries
        if _topic(d) == "fulfillments/create"
    }
    for d in deliveries:
        if _topic(d) == "orders/create" and d["redelivery_of"] is None:
            b = d["body"]
            placed[b["email"]].append((_time(b["created_at"]), shipped.get(str(b["id"]))))
    overlapping = [
        email
        for email, orders in placed.items()
        if any(a[0] < b[0] and (a[1] is None or a[1] > b[0]) for a in orders for b in orders)
    ]

    assert early_payments > 0
    assert early_fulfillments > 0
    assert overlapping, "some customer has two open orders at once"


# --- labels and summary --------------------------------------------------------------


def test_every_exception_type_the_store_produces_is_labelled(run: Any) -> None:
    deliveries, labels, store = run
    orders = {
        str(d["body"]["id"]): d["body"]["name"] for d in deliveries if _topic(d) == "orders/create"
    }

    assert {lb["type"] for lb in labels} >= BRIEF_TYPES
    assert all(orders.get(lb["order_ref"]) == lb["order_name"] for lb in labels)
    assert all(_time(lb["at"]) <= _time(store["window"]["end"]) for lb in labels)
    assert len({(lb["type"], lb["order_ref"]) for lb in labels}) == len(labels)
    assert [(lb["at"], lb["type"], lb["order_ref"]) for lb in labels] == sorted(
        (lb["at"], lb["type"], lb["order_ref"]) for lb in labels
    )


def test_a_decline_recovered_on_the_same_intent_within_minutes_is_never_labelled(run: Any) -> None:
    deliveries, labels, _ = run
    tokens = {}
    for d in deliveries:
        if _topic(d) == "orders/create":
            tokens[d["body"]["checkout_token"]] = tokens[d["body"]["cart_token"]] = str(
                d["body"]["id"]
            )
    failed_at: dict[str, int] = {}
    recovered_orders = set()
    for d in _originals(deliveries):
        kind = _topic(d)
        if not kind.startswith("payment_intent."):
            continue
        obj = d["body"]["data"]["object"]
        if kind == "payment_intent.payment_failed":
            failed_at.setdefault(obj["id"], d["body"]["created"])
        elif obj["id"] in failed_at and d["body"]["created"] - failed_at[obj["id"]] <= 30 * 60:
            order = tokens.get(
                obj["metadata"].get("checkout_token") or obj["metadata"].get("cart_token") or ""
            )
            if order is not None:
                recovered_orders.add(order)
    failed = {lb["order_ref"] for lb in labels if lb["type"] == "payment_failed"}

    assert recovered_orders
    assert not recovered_orders & failed


def test_the_labels_come_from_the_deliveries_and_policy_alone(default_run: Path, run: Any) -> None:
    _, labels, _ = run
    again = read_files(
        default_run / "deliveries.jsonl",
        default_run / "policy.yaml",
        now=window_end(default_run / "store.json"),
    )

    assert [lb.line() for lb in again] == labels


def test_the_summary_counts_what_was_written(run: Any) -> None:
    deliveries, labels, store = run

    assert store["deliveries"] == len(deliveries)
    assert store["counts"] == dict(sorted(Counter(d["provider"] for d in deliveries).items()))
    assert store["labels"] == dict(sorted(Counter(lb["type"] for lb in labels).items()))
    assert store["shop_domain"].endswith(".myshopify.com")
    conventions = store["conventions"]
    for name in (
        "decline recovered on the same PaymentIntent",
        "authorisation not captured within 48 h",
        "signal_names_charge_only",
        "signal_names_intent",
        "stock-out at every location",
        "customer with two orders",
        "arrived before their order",
        "overtaken",
        "redelivered",
    ):
        assert conventions.get(name, 0) > 0, name
