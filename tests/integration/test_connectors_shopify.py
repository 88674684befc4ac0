"""ShopifyConnector against the Shopify sandbox: no idempotency header, so markers do the work."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import httpx
import pytest

from orderops.sandbox import AppSlot, Fault, FaultKind, run_sandbox
from orderops.sandbox.shopify import ShopifySandbox
from orderops.writeback.connectors.base import PermanentError, RetryableError, RetryPolicy
from orderops.writeback.connectors.markers import text_marker
from orderops.writeback.connectors.shopify import ShopifyConnector
from orderops.writeback.connectors.transport import ConnectorOptions

TOKEN = "shpat_orderops"
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002, jitter=0.0)


class RecordingSleep:
    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[AppSlot, str]]:
    slot = AppSlot()
    with run_sandbox(slot) as url:
        yield slot, url


@pytest.fixture
def sandbox(served: tuple[AppSlot, str]) -> ShopifySandbox:
    fresh = ShopifySandbox(access_token=TOKEN)
    served[0].app = fresh.app
    return fresh


@pytest.fixture
def sleep() -> RecordingSleep:
    return RecordingSleep()


@pytest.fixture
def connector(
    served: tuple[AppSlot, str], sandbox: ShopifySandbox, sleep: RecordingSleep
) -> Iterator[ShopifyConnector]:
    options = ConnectorOptions(tenant_id="t-1", retry=FAST, sleep=sleep)
    with ShopifyConnector(base_url=served[1], access_token=TOKEN, options=options) as made:
        yield made


def actions(sandbox: ShopifySandbox, action: str) -> int:
    return len(sandbox.control.ledger.entries(action))


@pytest.mark.parametrize("kind", [FaultKind.CRASH_AFTER_EFFECT, FaultKind.DROP_AFTER_EFFECT])
def test_refund_after_crash_is_found_by_its_marker_not_repeated(
    sandbox: ShopifySandbox, connector: ShopifyConnector, sleep: RecordingSleep, kind: FaultKind
) -> None:
    order_id, _ = sandbox.add_order(total_price="80.00")
    sandbox.control.inject(Fault(kind=kind, path_contains="/refunds.json"))

    refund = connector.refund(
        order_id=order_id, amount=Decimal("25.50"), idempotency_key="ik-r1", note="late parcel"
    )

    assert len(sleep.waits) == 1
    assert refund.replayed is True
    assert refund.amount == Decimal("25.50")
    assert actions(sandbox, "refund.created") == 1
    assert text_marker("ik-r1") in str(sandbox.refunds_for(order_id)[0]["note"])
    assert sandbox.order(order_id)["financial_status"] == "partially_refunded"


def test_naive_retry_without_the_marker_would_have_refunded_twice(
    served: tuple[AppSlot, str], sandbox: ShopifySandbox
) -> None:
    """The hazard the markers exist for: replaying the raw POST repeats the effect."""
    order_id, _ = sandbox.add_order(total_price="80.00")
    sandbox.control.inject(Fault(kind=FaultKind.CRASH_AFTER_EFFECT))
    payload = {"refund": {"transactions": [{"parent_id": 1, "amount": "10.00"}]}}
    url = f"{served[1]}/admin/api/2024-10/orders/{order_id}/refunds.json"
    headers = {"X-Shopify-Access-Token": TOKEN}

    statuses = [httpx.post(url, json=payload, headers=headers).status_code for _ in range(2)]

    assert statuses == [500, 201]
    assert actions(sandbox, "refund.created") == 2


def test_second_refund_with_the_same_key_is_a_replay(
    sandbox: ShopifySandbox, connector: ShopifyConnector
) -> None:
    order_id, _ = sandbox.add_order(total_price="80.00")

    first = connector.refund(order_id=order_id, amount=Decimal("5"), idempotency_key="ik-r2")
    again = connector.refund(order_id=order_id, amount=Decimal("5"), idempotency_key="ik-r2")
    other = connector.refund(order_id=order_id, amount=Decimal("5"), idempotency_key="ik-r3")

    assert (first.replayed, again.replayed, other.replayed) == (False, True, False)
    assert again.id == first.id
    assert [r.amount for r in connector.list_refunds(order_id)] == [Decimal("5"), Decimal("5")]


def test_over_refund_is_a_permanent_422(
    sandbox: ShopifySandbox, connector: ShopifyConnector, sleep: RecordingSleep
) -> None:
    order_id, _ = sandbox.add_order(total_price="20.00")

    with pytest.raises(PermanentError) as raised:
        connector.refund(order_id=order_id, amount=Decimal("20.01"), idempotency_key="ik-r4")

    assert raised.value.status == 422
    assert "refundable" in raised.value.message
    assert sleep.waits == []


def test_cancel_after_crash_sees_the_cancelled_order_and_stops(
    sandbox: ShopifySandbox, connector: ShopifyConnector
) -> None:
    order_id, _ = sandbox.add_order()
    sandbox.control.inject(Fault(kind=FaultKind.CRASH_AFTER_EFFECT, path_contains="cancel"))

    order = connector.cancel_order(order_id=order_id, idempotency_key="ik-c1", reason="fraud")

    assert order.cancelled_at is not None
    assert order.replayed is True
    assert actions(sandbox, "order.cancelled") == 1


def test_note_and_tags_are_added_once_per_key(
    sandbox: ShopifySandbox, connector: ShopifyConnector
) -> None:
    order_id, _ = sandbox.add_order(note="gift", tags="vip")
    sandbox.control.inject(Fault(kind=FaultKind.CRASH_AFTER_EFFECT, method="PUT", count=2))

    noted = connector.add_note(order_id=order_id, text="refund issued", idempotency_key="ik-n1")
    tagged = connector.add_tags(order_id=order_id, tags=["refunded"], idempotency_key="ik-t1")

    assert noted.note.startswith("gift\nrefund issued")
    assert noted.note.count(text_marker("ik-n1")) == 1
    assert tagged.tags[:2] == ("vip", "refunded")
    assert len(tagged.tags) == 3
    assert actions(sandbox, "order.updated") == 2


def test_hold_and_release_fulfillment_once_each(
    sandbox: ShopifySandbox, connector: ShopifyConnector
) -> None:
    _, fulfillment_order_id = sandbox.add_order()
    sandbox.control.inject(Fault(kind=FaultKind.DROP_AFTER_EFFECT, path_contains="hold"))

    held = connector.hold_fulfillment(
        fulfillment_order_id=fulfillment_order_id, idempotency_key="ik-h1", notes="fraud check"
    )
    held_again = connector.hold_fulfillment(
        fulfillment_order_id=fulfillment_order_id, idempotency_key="ik-h1", notes="fraud check"
    )
    released = connector.release_hold(
        fulfillment_order_id=fulfillment_order_id, idempotency_key="ik-h2"
    )
    released_again = connector.release_hold(
        fulfillment_order_id=fulfillment_order_id, idempotency_key="ik-h2"
    )

    assert (held.status, held_again.replayed) == ("on_hold", True)
    assert (released.status, released_again.replayed) == ("open", True)
    assert actions(sandbox, "fulfillment_order.held") == 1
    assert actions(sandbox, "fulfillment_order.released") == 1


def test_rate_limit_honours_shopifys_decimal_retry_after(
    sandbox: ShopifySandbox, connector: ShopifyConnector, sleep: RecordingSleep
) -> None:
    order_id, _ = sandbox.add_order()
    sandbox.control.inject(Fault(kind=FaultKind.RATE_LIMIT, retry_after=2.0))

    order = connector.get_order(order_id)

    assert sleep.waits == [2.0]
    assert order.id == order_id


def test_persistent_outage_raises_retryable(
    sandbox: ShopifySandbox, connector: ShopifyConnector
) -> None:
    order_id, _ = sandbox.add_order()
    sandbox.control.inject(Fault(kind=FaultKind.SERVER_ERROR, count=FAST.max_attempts))

    with pytest.raises(RetryableError):
        connector.cancel_order(order_id=order_id, idempotency_key="ik-c2")

    assert actions(sandbox, "order.cancelled") == 0


def test_wrong_token_is_permanent(served: tuple[AppSlot, str], sandbox: ShopifySandbox) -> None:
    order_id, _ = sandbox.add_order()
    options = ConnectorOptions(tenant_id="t-1", retry=FAST, sleep=RecordingSleep())

    with (
        ShopifyConnector(base_url=served[1], access_token="shpat_wrong", options=options) as bad,
        pytest.raises(PermanentError) as raised,
    ):
        bad.get_order(order_id)

    assert raised.value.status == 401
