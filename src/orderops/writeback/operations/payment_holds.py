"""Payment holds in Stripe: capture an authorisation, or cancel it (release or void).

Both are decided on a hold: the intent awaits capture and its capturable amount is the
one the decision saw. The precheck re-reads the intent; when it has already left that
state, the write is asked again under our own key: Stripe replays an answer it gave for
that key (our earlier effect, a crash after the write) and refuses one it never gave
(someone else captured or cancelled it, which is a conflict for a person to look at).
"""

from __future__ import annotations

from collections.abc import Callable

from orderops.writeback.connectors.base import PermanentError
from orderops.writeback.connectors.stripe import PaymentIntentState
from orderops.writeback.registry import (
    Call,
    Connectors,
    Difference,
    Operation,
    Precheck,
    Result,
    fresh_answer,
)

ON_HOLD = "requires_capture"

# stripe.capture payload: payment_intent, amount_minor,
#                         expect: {status: "requires_capture", amount_capturable_minor}
# stripe.cancel_intent payload: payment_intent, cancellation_reason,
#                               expect: {status: "requires_capture"}


def _hold_precheck(
    connectors: Connectors, call: Call, replay: Callable[[], PaymentIntentState]
) -> Precheck:
    intent = connectors.stripe().get_payment_intent(str(call.payload["payment_intent"]))
    expected_status = call.expect("status", ON_HOLD)
    if intent.status != expected_status:
        try:
            earlier = replay()
        except PermanentError:
            return Precheck(
                differences=(Difference("payment_status", expected_status, intent.status),)
            )
        if earlier.replayed:
            return Precheck(earlier_result=_intent_result(earlier))
        return Precheck(differences=(Difference("payment_status", expected_status, intent.status),))
    expected_capturable = call.expect("amount_capturable_minor", None)
    if expected_capturable is not None and intent.amount_capturable_minor != expected_capturable:
        return Precheck(
            differences=(
                Difference(
                    "amount_capturable_minor", expected_capturable, intent.amount_capturable_minor
                ),
            )
        )
    return Precheck()


def capture_precheck(connectors: Connectors, call: Call) -> Precheck:
    return _hold_precheck(connectors, call, lambda: _capture(connectors, call))


def capture(connectors: Connectors, call: Call) -> Result:
    return _intent_result(_capture(connectors, call))


def _capture(connectors: Connectors, call: Call) -> PaymentIntentState:
    amount = call.payload.get("amount_minor")
    return connectors.stripe().capture(
        payment_intent=str(call.payload["payment_intent"]),
        idempotency_key=call.idempotency_key,
        amount_minor=int(amount) if amount is not None else None,
    )


def capture_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    intent = connectors.stripe().get_payment_intent(str(call.payload["payment_intent"]))
    return intent.status == "succeeded" and intent.amount_received_minor == int(
        result["amount_received_minor"]
    )


def cancel_precheck(connectors: Connectors, call: Call) -> Precheck:
    return _hold_precheck(connectors, call, lambda: _cancel(connectors, call))


def cancel(connectors: Connectors, call: Call) -> Result:
    return _intent_result(_cancel(connectors, call))


def _cancel(connectors: Connectors, call: Call) -> PaymentIntentState:
    reason = call.payload.get("cancellation_reason")
    return connectors.stripe().cancel(
        payment_intent=str(call.payload["payment_intent"]),
        idempotency_key=call.idempotency_key,
        cancellation_reason=str(reason) if reason else None,
    )


def cancel_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    intent = connectors.stripe().get_payment_intent(str(call.payload["payment_intent"]))
    return intent.status == "canceled"


def capture_answered(result: Result) -> bool:
    """Stripe answers a capture with the intent: ``succeeded`` with the amount received."""
    return fresh_answer(result) and result.get("status") == "succeeded"


def cancel_answered(result: Result) -> bool:
    """Stripe answers a cancel with the intent, ``canceled``."""
    return fresh_answer(result) and result.get("status") == "canceled"


def _intent_result(intent: PaymentIntentState) -> Result:
    return {
        "payment_intent": intent.id,
        "status": intent.status,
        "amount_received_minor": intent.amount_received_minor,
        "replayed": intent.replayed,
    }


OPERATIONS = [
    Operation(
        system="stripe",
        name="capture",
        precheck=capture_precheck,
        execute=capture,
        confirm=capture_confirm,
        summary_fields=("payment_intent", "amount_minor"),
        answer_confirms=capture_answered,
    ),
    Operation(
        system="stripe",
        name="cancel_intent",
        precheck=cancel_precheck,
        execute=cancel,
        confirm=cancel_confirm,
        summary_fields=("payment_intent", "cancellation_reason"),
        answer_confirms=cancel_answered,
    ),
]
