"""The Stripe sandbox keeps Stripe's contract: idempotent replays, error shapes, refund limits."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from orderops.domain.clock import FixedClock
from orderops.sandbox import AppSlot, run_sandbox
from orderops.sandbox.stripe import StripeSandbox

KEY = "sk_test_orderops"


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[AppSlot, str]]:
    slot = AppSlot()
    with run_sandbox(slot) as url:
        yield slot, url


@pytest.fixture
def stripe(served: tuple[AppSlot, str]) -> Iterator[tuple[StripeSandbox, httpx.Client]]:
    slot, url = served
    sandbox = StripeSandbox(api_key=KEY)
    slot.app = sandbox.app
    with httpx.Client(base_url=url, auth=(KEY, "")) as client:
        yield sandbox, client


def test_same_key_and_params_replays_the_first_refund(
    stripe: tuple[StripeSandbox, httpx.Client],
) -> None:
    sandbox, client = stripe
    intent = sandbox.add_payment_intent(amount=5000)
    form = {"payment_intent": intent, "amount": "1200", "metadata[case_id]": "case-1"}

    first = client.post("/v1/refunds", data=form, headers={"Idempotency-Key": "k-1"})
    second = client.post("/v1/refunds", data=form, headers={"Idempotency-Key": "k-1"})

    assert first.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.json() == first.json()
    assert first.json()["metadata"] == {"case_id": "case-1"}
    assert len(sandbox.control.ledger.entries("refund.created")) == 1


def test_same_key_with_other_params_is_an_idempotency_error(
    stripe: tuple[StripeSandbox, httpx.Client],
) -> None:
    sandbox, client = stripe
    intent = sandbox.add_payment_intent(amount=5000)
    client.post(
        "/v1/refunds",
        data={"payment_intent": intent, "amount": "100"},
        headers={"Idempotency-Key": "k-2"},
    )

    reused = client.post(
        "/v1/refunds",
        data={"payment_intent": intent, "amount": "200"},
        headers={"Idempotency-Key": "k-2"},
    )

    assert reused.status_code == 400
    assert reused.json()["error"]["type"] == "idempotency_error"
    assert len(sandbox.refunds_for(intent)) == 1


@pytest.mark.parametrize(
    ("already_refunded", "requested", "code"),
    [
        (0, 5001, "amount_too_large"),
        (4000, 1001, "amount_too_large"),
        (5000, 1, "charge_already_refunded"),
    ],
)
def test_refunding_more_than_remains_is_refused(
    stripe: tuple[StripeSandbox, httpx.Client], already_refunded: int, requested: int, code: str
) -> None:
    sandbox, client = stripe
    intent = sandbox.add_payment_intent(amount=5000)
    if already_refunded:
        client.post("/v1/refunds", data={"payment_intent": intent, "amount": str(already_refunded)})

    refused = client.post("/v1/refunds", data={"payment_intent": intent, "amount": str(requested)})

    assert refused.status_code == 400
    assert refused.json()["error"] == {
        "type": "invalid_request_error",
        "code": code,
        "message": refused.json()["error"]["message"],
    }
    assert sum(r["amount"] for r in sandbox.refunds_for(intent)) == already_refunded


def test_refund_without_amount_refunds_the_remainder(
    stripe: tuple[StripeSandbox, httpx.Client],
) -> None:
    sandbox, client = stripe
    intent = sandbox.add_payment_intent(amount=5000)
    client.post("/v1/refunds", data={"payment_intent": intent, "amount": "1500"})

    rest = client.post("/v1/refunds", data={"payment_intent": intent})

    assert rest.json()["amount"] == 3500
    listed = client.get("/v1/refunds", params={"payment_intent": intent}).json()
    assert [r["amount"] for r in listed["data"]] == [3500, 1500]


def test_capture_moves_an_authorised_intent_to_succeeded_once(
    stripe: tuple[StripeSandbox, httpx.Client],
) -> None:
    sandbox, client = stripe
    intent = sandbox.add_payment_intent(amount=2500, status="requires_capture")

    captured = client.post(f"/v1/payment_intents/{intent}/capture")
    again = client.post(f"/v1/payment_intents/{intent}/capture")

    assert captured.json()["status"] == "succeeded"
    assert captured.json()["amount_received"] == 2500
    assert again.status_code == 400
    assert again.json()["error"]["code"] == "payment_intent_unexpected_state"
    assert client.get(f"/v1/payment_intents/{intent}").json()["status"] == "succeeded"


@pytest.mark.parametrize(
    ("status", "expected_status_code"),
    [("requires_capture", 200), ("succeeded", 400), ("canceled", 400)],
)
def test_cancel_is_allowed_only_before_capture(
    stripe: tuple[StripeSandbox, httpx.Client], status: str, expected_status_code: int
) -> None:
    sandbox, client = stripe
    intent = sandbox.add_payment_intent(amount=2500, status=status)

    answer = client.post(
        f"/v1/payment_intents/{intent}/cancel", data={"cancellation_reason": "fraudulent"}
    )

    assert answer.status_code == expected_status_code
    canceled = sandbox.control.ledger.entries("payment_intent.canceled")
    assert len(canceled) == (1 if expected_status_code == 200 else 0)


@pytest.mark.parametrize(
    ("auth", "code"),
    [(None, "api_key_missing"), (("sk_test_wrong", ""), "api_key_invalid")],
)
def test_missing_or_wrong_key_is_401(
    stripe: tuple[StripeSandbox, httpx.Client], auth: tuple[str, str] | None, code: str
) -> None:
    _, client = stripe
    answer = client.get("/v1/refunds", auth=auth)

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == code


def test_faults_and_ledger_are_controllable_over_http(
    stripe: tuple[StripeSandbox, httpx.Client],
) -> None:
    sandbox, client = stripe
    intent = sandbox.add_payment_intent(amount=900)
    client.post("/_sandbox/faults", json={"kind": "rate_limit", "retry_after": 3, "count": 2})

    limited = [client.get(f"/v1/payment_intents/{intent}") for _ in range(3)]
    client.post("/v1/refunds", data={"payment_intent": intent, "amount": "100"})
    ledger = client.get("/_sandbox/ledger").json()["entries"]

    assert [r.status_code for r in limited] == [429, 429, 200]
    assert limited[0].headers["retry-after"] == "3"
    assert [(e["action"], e["target"], e["data"]["amount"]) for e in ledger] == [
        ("refund.created", intent, 100)
    ]


def test_an_intent_read_with_its_charge_expanded_says_how_much_is_refunded(
    stripe: tuple[StripeSandbox, httpx.Client],
) -> None:
    sandbox, client = stripe
    intent = sandbox.add_payment_intent(amount=5000)
    client.post("/v1/refunds", data={"payment_intent": intent, "amount": "1200"})
    client.post("/v1/refunds", data={"payment_intent": intent, "amount": "300"})

    plain = client.get(f"/v1/payment_intents/{intent}").json()
    expanded = client.get(
        f"/v1/payment_intents/{intent}", params={"expand[]": "latest_charge"}
    ).json()

    assert plain["latest_charge"] == expanded["latest_charge"]["id"]
    assert expanded["latest_charge"]["amount_refunded"] == 1500
    assert expanded["latest_charge"]["refunded"] is False
    assert (expanded["status"], expanded["amount_received"]) == ("succeeded", 5000)


def test_an_unknown_expansion_is_refused(stripe: tuple[StripeSandbox, httpx.Client]) -> None:
    sandbox, client = stripe
    intent = sandbox.add_payment_intent(amount=5000)

    refused = client.get(f"/v1/payment_intents/{intent}", params={"expand[]": "customer"})

    assert refused.status_code == 400
    assert refused.json()["error"]["type"] == "invalid_request_error"


def test_a_key_reused_after_24_hours_is_a_new_request(served: tuple[AppSlot, str]) -> None:
    slot, url = served
    clock = FixedClock(datetime(2026, 3, 1, 12, 0, tzinfo=UTC))
    sandbox = StripeSandbox(api_key=KEY, clock=clock)
    slot.app = sandbox.app
    intent = sandbox.add_payment_intent(amount=5000)
    form = {"payment_intent": intent, "amount": "1000"}
    with httpx.Client(base_url=url, auth=(KEY, "")) as client:
        client.post("/v1/refunds", data=form, headers={"Idempotency-Key": "k-old"})
        clock.advance(timedelta(hours=23, minutes=59))
        replayed = client.post("/v1/refunds", data=form, headers={"Idempotency-Key": "k-old"})
        clock.advance(timedelta(minutes=1))
        anew = client.post("/v1/refunds", data=form, headers={"Idempotency-Key": "k-old"})

    assert replayed.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in anew.headers
    assert [r["amount"] for r in sandbox.refunds_for(intent)] == [1000, 1000]


def test_the_control_lists_every_vendor_request_but_not_its_own(
    stripe: tuple[StripeSandbox, httpx.Client],
) -> None:
    sandbox, client = stripe
    intent = sandbox.add_payment_intent(amount=5000)

    client.get(f"/v1/payment_intents/{intent}")
    client.post("/v1/refunds", data={"payment_intent": intent, "amount": "100"})
    client.get("/_sandbox/ledger")

    assert sandbox.control.requests() == [
        ("GET", f"/v1/payment_intents/{intent}"),
        ("POST", "/v1/refunds"),
    ]
