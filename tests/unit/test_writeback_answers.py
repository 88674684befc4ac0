"""When a delivery may skip a vendor call: the look for our own earlier effect (only after
a claim that may have sent something) and the read-back (only when the write's answer does
not already show the effect)."""

from __future__ import annotations

import pytest

from orderops.writeback.delivery import Claimed, sent_before
from orderops.writeback.registry import Result, default_registry
from orderops.writeback.states import OutboxStatus


def claimed(*, attempts: int, tries: int, previous: OutboxStatus) -> Claimed:
    return Claimed(
        id="m-1",
        tenant_id="acme",
        system="stripe",
        operation="refund",
        idempotency_key="k-1",
        payload={},
        attempts=attempts,
        tries=tries,
        previous_status=previous,
        previous_result=None,
        case_id=None,
        order_ref=None,
        attempt_id="a-1",
    )


@pytest.mark.parametrize(
    ("attempts", "tries", "previous", "maybe_sent"),
    [
        (1, 1, OutboxStatus.PENDING, False),  # the first claim ever: nothing went out
        (2, 2, OutboxStatus.PENDING, True),  # a retry after a failed or lost answer
        (2, 2, OutboxStatus.IN_FLIGHT, True),  # a lease taken over from a dead worker
        (2, 2, OutboxStatus.UNCONFIRMED, True),  # written, read-back pending
        (5, 1, OutboxStatus.PENDING, True),  # an operator's retry: tries restart, not history
    ],
)
def test_only_a_messages_first_claim_is_known_to_have_sent_nothing(
    attempts: int, tries: int, previous: OutboxStatus, maybe_sent: bool
) -> None:
    assert sent_before(claimed(attempts=attempts, tries=tries, previous=previous)) is maybe_sent


ANSWERS: list[tuple[str, Result, bool]] = [
    ("stripe.refund", {"refund_id": "re_1", "status": "succeeded", "replayed": False}, True),
    ("stripe.refund", {"refund_id": "re_1", "status": "pending", "replayed": False}, False),
    ("stripe.refund", {"refund_id": "re_1", "status": "succeeded", "replayed": True}, False),
    ("stripe.capture", {"status": "succeeded", "replayed": False}, True),
    ("stripe.capture", {"status": "requires_capture", "replayed": False}, False),
    ("stripe.cancel_intent", {"status": "canceled", "replayed": False}, True),
    ("stripe.cancel_intent", {"status": "canceled", "replayed": True}, False),
    ("stripe.submit_dispute_evidence", {"status": "under_review", "replayed": False}, True),
    ("stripe.submit_dispute_evidence", {"status": "needs_response", "replayed": False}, False),
    ("shopify.refund", {"refund_id": 7, "replayed": True}, True),  # found by marker: a read
    ("shopify.cancel_order", {"order_id": 7, "cancelled_at": None}, False),
    ("shopify.add_note", {"order_id": 7, "noted": False}, False),
    ("zendesk.add_comment", {"ticket_id": 7, "tagged": True}, True),
    ("zendesk.create_ticket", {"ticket_id": 7, "ours": False}, False),
    ("wms.reserve", {"reservation_id": "r", "status": "active", "replayed": True}, False),
    ("wms.release", {"reservation_id": "r", "status": "released", "replayed": False}, True),
    ("crm.store_credit", {"credit_id": "c", "replayed": True}, False),
    ("easypost.buy_label", {"shipment_id": "s", "tracking_code": None}, False),
    ("easypost.refund_label", {"shipment_id": "s", "refund_status": "submitted"}, True),
]


@pytest.mark.parametrize(("name", "result", "confirms"), ANSWERS, ids=lambda v: str(v)[:40])
def test_a_fresh_answer_showing_the_effect_is_its_confirmation(
    name: str, result: Result, confirms: bool
) -> None:
    system, _, operation_name = name.partition(".")
    operation = default_registry().get(system, operation_name)

    assert operation.answer_confirms is not None
    assert operation.answer_confirms(result) is confirms


@pytest.mark.parametrize(
    "name",
    ["wms.substitute", "wms.release_lines", "shopify.hold_fulfillment", "shopify.release_hold"],
)
def test_effects_whose_answer_does_not_show_the_result_are_read_back(name: str) -> None:
    system, _, operation_name = name.partition(".")

    assert default_registry().get(system, operation_name).answer_confirms is None
