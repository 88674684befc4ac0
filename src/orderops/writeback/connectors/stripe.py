"""Stripe: refunds, capture and cancel of payment intents, dispute evidence, plus read-back
for reconciliation.

Stripe honours ``Idempotency-Key``, so every write sends the key fixed at decision time and
a retry after a lost answer gets the first answer back (``replayed``) instead of a second
refund. Amounts are integers in the currency's minor unit, as Stripe expects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from orderops.writeback.connectors.transport import (
    ApiClient,
    ConnectorBase,
    ConnectorOptions,
    ProviderError,
)

SYSTEM = "stripe"


@dataclass(frozen=True)
class RefundResult:
    refund_id: str
    payment_intent: str
    amount_minor: int
    currency: str
    status: str
    metadata: dict[str, str]
    replayed: bool


@dataclass(frozen=True)
class PaymentIntentState:
    id: str
    status: str
    amount_minor: int
    amount_received_minor: int
    amount_capturable_minor: int
    currency: str
    replayed: bool = False
    amount_refunded_minor: int | None = None
    """Refunded from the intent's charge; known only when the charge was expanded."""


@dataclass(frozen=True)
class DisputeState:
    """A dispute as read back: its status and the evidence Stripe holds for it."""

    id: str
    status: str
    payment_intent: str | None
    amount_minor: int
    currency: str
    evidence: dict[str, str]
    submission_count: int
    metadata: dict[str, str]
    replayed: bool = False


def parse_stripe_error(response: httpx.Response) -> ProviderError:
    try:
        error = response.json().get("error", {})
        return ProviderError(error.get("code") or error.get("type"), str(error.get("message")))
    except (ValueError, AttributeError):
        return ProviderError(None, response.text[:200])


class StripeConnector(ConnectorBase):
    def __init__(self, *, base_url: str, api_key: str, options: ConnectorOptions) -> None:
        self._api = ApiClient(
            system=SYSTEM,
            base_url=base_url,
            options=options,
            parse_error=parse_stripe_error,
            headers={"Authorization": f"Bearer {api_key}"},
        )

    def refund(
        self,
        *,
        payment_intent: str,
        amount_minor: int,
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
        reason: str | None = None,
    ) -> RefundResult:
        form = {"payment_intent": payment_intent, "amount": str(amount_minor)}
        form.update({f"metadata[{k}]": v for k, v in (metadata or {}).items()})
        if reason is not None:
            form["reason"] = reason
        response = self._post("/v1/refunds", form, idempotency_key)
        return _refund(self._api.body(response), replayed=_replayed(response))

    def capture(
        self, *, payment_intent: str, idempotency_key: str, amount_minor: int | None = None
    ) -> PaymentIntentState:
        form = {} if amount_minor is None else {"amount_to_capture": str(amount_minor)}
        response = self._post(
            f"/v1/payment_intents/{payment_intent}/capture", form, idempotency_key
        )
        return _intent(self._api.body(response), replayed=_replayed(response))

    def cancel(
        self,
        *,
        payment_intent: str,
        idempotency_key: str,
        cancellation_reason: str | None = None,
    ) -> PaymentIntentState:
        form = {} if cancellation_reason is None else {"cancellation_reason": cancellation_reason}
        response = self._post(f"/v1/payment_intents/{payment_intent}/cancel", form, idempotency_key)
        return _intent(self._api.body(response), replayed=_replayed(response))

    def get_payment_intent(
        self, payment_intent: str, *, with_charge: bool = False
    ) -> PaymentIntentState:
        """The intent; ``with_charge`` expands its latest charge in the same call, so the
        amount already refunded is known without listing the refunds."""
        params = {"expand[]": "latest_charge"} if with_charge else None
        body = self._api.run(
            lambda: self._api.request_json(
                "GET", f"/v1/payment_intents/{payment_intent}", params=params
            )
        )
        return _intent(body, replayed=False)

    def list_refunds(self, payment_intent: str) -> list[RefundResult]:
        body = self._api.run(
            lambda: self._api.request_json(
                "GET", "/v1/refunds", params={"payment_intent": payment_intent, "limit": "100"}
            )
        )
        return [_refund(item, replayed=False) for item in body.get("data", [])]

    def submit_dispute_evidence(
        self,
        *,
        dispute_id: str,
        evidence: dict[str, str],
        idempotency_key: str,
        metadata: dict[str, str] | None = None,
        submit: bool = True,
    ) -> DisputeState:
        """Send the evidence; ``submit`` true hands it to the bank (Stripe allows that once)."""
        form = {f"evidence[{k}]": v for k, v in evidence.items()}
        form.update({f"metadata[{k}]": v for k, v in (metadata or {}).items()})
        form["submit"] = "true" if submit else "false"
        response = self._post(f"/v1/disputes/{dispute_id}", form, idempotency_key)
        return _dispute(self._api.body(response), replayed=_replayed(response))

    def get_dispute(self, dispute_id: str) -> DisputeState:
        body = self._api.run(lambda: self._api.request_json("GET", f"/v1/disputes/{dispute_id}"))
        return _dispute(body, replayed=False)

    def _post(self, path: str, form: dict[str, str], idempotency_key: str) -> httpx.Response:
        headers = {"Idempotency-Key": idempotency_key}
        return self._api.run(lambda: self._api.request("POST", path, data=form, headers=headers))


def _replayed(response: httpx.Response) -> bool:
    return str(response.headers.get("idempotent-replayed", "")).lower() == "true"


def _refund(body: dict[str, Any], *, replayed: bool) -> RefundResult:
    return RefundResult(
        refund_id=str(body["id"]),
        payment_intent=str(body["payment_intent"]),
        amount_minor=int(body["amount"]),
        currency=str(body["currency"]),
        status=str(body["status"]),
        metadata={str(k): str(v) for k, v in (body.get("metadata") or {}).items()},
        replayed=replayed,
    )


def _intent(body: dict[str, Any], *, replayed: bool) -> PaymentIntentState:
    return PaymentIntentState(
        id=str(body["id"]),
        status=str(body["status"]),
        amount_minor=int(body["amount"]),
        amount_received_minor=int(body.get("amount_received") or 0),
        amount_capturable_minor=int(body.get("amount_capturable") or 0),
        currency=str(body["currency"]),
        replayed=replayed,
        amount_refunded_minor=_refunded(body.get("latest_charge", "")),
    )


def _refunded(charge: Any) -> int | None:
    """What an intent's ``latest_charge`` says was refunded: the expanded charge's
    ``amount_refunded``, 0 when the intent has no charge, None when only its id is known."""
    if isinstance(charge, dict):
        return int(charge.get("amount_refunded") or 0)
    return 0 if charge is None else None


def _dispute(body: dict[str, Any], *, replayed: bool) -> DisputeState:
    details = body.get("evidence_details") or {}
    intent = body.get("payment_intent")
    return DisputeState(
        id=str(body["id"]),
        status=str(body["status"]),
        payment_intent=None if intent is None else str(intent),
        amount_minor=int(body["amount"]),
        currency=str(body["currency"]),
        evidence={str(k): str(v) for k, v in (body.get("evidence") or {}).items() if v},
        submission_count=int(details.get("submission_count") or 0),
        metadata={str(k): str(v) for k, v in (body.get("metadata") or {}).items()},
        replayed=replayed,
    )
