"""How often each linking convention and delivery quirk occurs in a generated store.

Counted from the store's own story and the scheduled deliveries (never from the
reference reader), so a test can insist every convention the issue names is present,
and ``store.json`` tells the eval what the run exercised.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from orderops.sim.providers.aftermath import captured_at
from orderops.sim.providers.deliveries import Delivery
from orderops.sim.providers.store import Store
from orderops.sim.providers.story import Outcome


def census(store: Store, deliveries: list[Delivery]) -> dict[str, int]:
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    order_created: dict[int, int] = {}
    for delivery in deliveries:
        draft = delivery.draft
        if delivery.redelivery_of is not None:
            counts["redelivered"] += 1
            continue
        for tag in draft.tags:
            counts[tag] += 1
        topic = draft.headers.get("X-Shopify-Topic")
        if topic:
            counts[f"shopify {topic}"] += 1
            if topic == "orders/create" and draft.order_id is not None:
                order_created[draft.order_id] = delivery.seq
        body = draft.body
        if draft.provider == "stripe":
            obj = body["data"]["object"]
            metadata = obj.get("metadata") or {}
            if str(body["type"]).startswith("payment_intent."):
                for key in ("checkout_token", "cart_token", "order_id"):
                    counts[f"stripe metadata {key}"] += key in metadata
                number = str(metadata.get("order_number", ""))
                counts["stripe metadata order_number #"] += number.startswith("#")
                counts["stripe metadata order_number digits"] += number.isdigit()
            elif obj.get("object") == "charge" and not metadata:
                counts["charge without metadata"] += 1
        if draft.subject in first_seen and first_seen[draft.subject] > delivery.seq:
            counts["overtaken"] += 1
        first_seen.setdefault(draft.subject, delivery.seq)
    counts["held up"] = sum(1 for d in deliveries if d.held_up)
    counts["overtaken"] = _overtaken(deliveries)
    counts["arrived before their order"] = sum(
        1
        for d in deliveries
        if d.draft.order_id in order_created
        and d.seq < order_created[d.draft.order_id]
        and d.draft.headers.get("X-Shopify-Topic") not in ("orders/create", "customers/create")
    )
    _story(store, counts)
    return dict(sorted((k, v) for k, v in counts.items() if v))


def _overtaken(deliveries: list[Delivery]) -> int:
    """Deliveries that arrived after a later version of the same object."""
    by_subject: dict[str, list[Delivery]] = defaultdict(list)
    for delivery in deliveries:
        if delivery.redelivery_of is None:
            by_subject[delivery.draft.subject].append(delivery)
    overtaken = 0
    for group in by_subject.values():
        latest_seen = None
        for delivery in sorted(group, key=lambda d: d.seq):
            occurred = delivery.draft.occurred_at
            if latest_seen is not None and occurred < latest_seen:
                overtaken += 1
            latest_seen = occurred if latest_seen is None else max(latest_seen, occurred)
    return overtaken


def _story(store: Store, counts: Counter[str]) -> None:
    end = store.config.end
    open_orders: dict[str, list[tuple[object, object]]] = defaultdict(list)
    for order in store.orders:
        if order.placed_at > end:
            continue
        counts[f"scenario {order.scenario}"] += 1
        counts["returning customer"] += not order.new_customer
        for payment in order.payments:
            outcomes = [a.outcome for a in payment.attempts]
            if Outcome.DECLINED in outcomes and outcomes[-1] is not Outcome.DECLINED:
                counts["decline recovered on the same PaymentIntent"] += 1
            if payment.capture_method == "manual":
                counts["manual capture"] += 1
                auth = next(
                    (a.at for a in payment.attempts if a.outcome is Outcome.AUTHORIZED), None
                )
                done = captured_at(payment)
                if auth is not None and (done is None or (done - auth).total_seconds() > 48 * 3600):
                    counts["authorisation not captured within 48 h"] += 1
        open_orders[order.customer.ref].append((order.placed_at, order))
        if order.parcel is not None:
            counts[f"tracked by {order.parcel.tracker}"] += 1
    for orders in open_orders.values():
        if len(orders) > 1:
            counts["customer with two orders"] += 1
    counts["stock-out at every location"] = sum(1 for out in store.stock_outs if out.start <= end)
