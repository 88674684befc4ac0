"""A Stripe stand-in: payment intents, refunds, capture and cancel, disputes, form-encoded
like Stripe.

It keeps the parts of Stripe's contract a refund worker depends on: ``Idempotency-Key``
replays (``Idempotent-Replayed: true``) and refuses reuse with other parameters, errors
are ``{"error": {"type", "code", "message"}}``, and over-refunding fails with
``charge_already_refunded`` or ``amount_too_large`` instead of moving money twice. Keys
are kept 24 hours, as Stripe keeps them; a key reused later is a new request.
Disputes take evidence as Stripe's Update a dispute does (``evidence[field]``, ``submit``
defaulting to true): a submission moves the dispute to review and cannot be repeated, so a
second submission of the same evidence has to come from an idempotent replay.
A payment intent read with ``expand[]=latest_charge`` carries its charge, whose
``amount_refunded`` says how much is refunded without listing the refunds.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from orderops.domain.clock import Clock, SystemClock
from orderops.sandbox.control import SandboxControl, replayable_response
from orderops.sandbox.http import (
    ApiError,
    basic_credentials,
    bearer_token,
    fingerprint,
    form_group,
    parse_form,
)
from orderops.sandbox.idempotency import IdempotencyMismatch, IdempotencyStore

CANCELLABLE = frozenset(
    {
        "requires_payment_method",
        "requires_capture",
        "requires_confirmation",
        "requires_action",
        "processing",
    }
)


def render_stripe_error(status: int, code: str, message: str) -> dict[str, Any]:
    if code == "idempotency_error":
        error_type = "idempotency_error"
    elif status >= 500:
        error_type = "api_error"
    else:
        error_type = "invalid_request_error"
    return {"error": {"type": error_type, "code": code, "message": message}}


KEY_RETENTION = timedelta(hours=24)
"""Stripe prunes idempotency keys once they are at least 24 hours old; a key reused after
that is a new request."""
EXPANDABLE = frozenset({"latest_charge"})
"""Paths the sandbox expands on a payment intent (Stripe refuses other unknown ones)."""
RESPONDABLE = {"needs_response": "under_review", "warning_needs_response": "warning_under_review"}
"""Statuses that still take evidence, and the status a submission moves each to."""
EVIDENCE_LIMIT = 150_000
"""Stripe's limit on the combined characters of all evidence fields."""


@dataclass
class Dispute:
    id: str
    payment_intent: str
    amount: int
    currency: str
    reason: str
    status: str
    created: int
    evidence: dict[str, str] = field(default_factory=dict)
    submission_count: int = 0
    metadata: dict[str, str] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "dispute",
            "amount": self.amount,
            "currency": self.currency,
            "charge": "ch_" + self.payment_intent.removeprefix("pi_"),
            "payment_intent": self.payment_intent,
            "reason": self.reason,
            "status": self.status,
            "created": self.created,
            "evidence": dict(self.evidence),
            "evidence_details": {
                "has_evidence": bool(self.evidence),
                "past_due": False,
                "submission_count": self.submission_count,
            },
            "metadata": dict(self.metadata),
            "livemode": False,
        }


@dataclass
class PaymentIntent:
    id: str
    amount: int
    currency: str
    status: str
    created: int
    amount_capturable: int = 0
    amount_received: int = 0
    canceled_at: int | None = None
    cancellation_reason: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @property
    def latest_charge(self) -> str:
        return "ch_" + self.id.removeprefix("pi_")

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "object": "payment_intent",
            "amount": self.amount,
            "amount_capturable": self.amount_capturable,
            "amount_received": self.amount_received,
            "currency": self.currency,
            "status": self.status,
            "created": self.created,
            "canceled_at": self.canceled_at,
            "cancellation_reason": self.cancellation_reason,
            "latest_charge": self.latest_charge,
            "metadata": dict(self.metadata),
            "livemode": False,
        }


class StripeSandbox:
    """One Stripe account: its secret key, payment intents, refunds and idempotency keys."""

    def __init__(self, *, api_key: str = "sk_test_orderops", clock: Clock | None = None) -> None:
        self.api_key = api_key
        self._clock = clock or SystemClock()
        self.control = SandboxControl(render_error=render_stripe_error)
        self._idempotency = IdempotencyStore(clock=self._clock, retention=KEY_RETENTION)
        self._intents: dict[str, PaymentIntent] = {}
        self._refunds: list[dict[str, Any]] = []
        self._disputes: dict[str, Dispute] = {}
        self._counter = 0
        self.app = self._build_app()

    # -- seeding and in-process reads -------------------------------------------------

    def add_payment_intent(
        self,
        *,
        amount: int,
        currency: str = "usd",
        status: str = "succeeded",
        metadata: dict[str, str] | None = None,
    ) -> str:
        with self._idempotency.lock:
            intent = PaymentIntent(
                id=self._next_id("pi"),
                amount=amount,
                currency=currency,
                status=status,
                created=self._now(),
                amount_capturable=amount if status == "requires_capture" else 0,
                amount_received=amount if status == "succeeded" else 0,
                metadata=dict(metadata or {}),
            )
            self._intents[intent.id] = intent
            return intent.id

    def seed_payment_intent(
        self,
        *,
        intent_id: str,
        amount: int,
        status: str,
        currency: str = "usd",
        refunded: int = 0,
    ) -> None:
        """Create or move an intent under the id another system already knows it by.

        For a store simulated elsewhere (the demo): the account as its own traffic left it.
        A refund made there is a refund on the charge, not a ledger entry, because the
        ledger counts only effects asked of this API.
        """
        with self._idempotency.lock:
            intent = self._intents.get(intent_id)
            if intent is None:
                intent = PaymentIntent(
                    id=intent_id,
                    amount=amount,
                    currency=currency,
                    status=status,
                    created=self._now(),
                )
                self._intents[intent_id] = intent
            intent.amount, intent.currency, intent.status = amount, currency, status
            intent.amount_capturable = amount if status == "requires_capture" else 0
            intent.amount_received = amount if status == "succeeded" else 0
            missing = refunded - self._refunded(intent_id)
            if missing > 0:
                self._refunds.append(
                    {
                        "id": self._next_id("re"),
                        "object": "refund",
                        "amount": missing,
                        "currency": currency,
                        "charge": intent.latest_charge,
                        "payment_intent": intent_id,
                        "metadata": {},
                        "reason": None,
                        "status": "succeeded",
                        "created": self._now(),
                    }
                )

    def add_dispute(
        self,
        *,
        payment_intent: str,
        amount: int,
        reason: str = "product_not_received",
        currency: str = "usd",
        status: str = "needs_response",
    ) -> str:
        with self._idempotency.lock:
            dispute = Dispute(
                id=self._next_id("du"),
                payment_intent=payment_intent,
                amount=amount,
                currency=currency,
                reason=reason,
                status=status,
                created=self._now(),
            )
            self._disputes[dispute.id] = dispute
            return dispute.id

    def dispute(self, dispute_id: str) -> dict[str, Any]:
        with self._idempotency.lock:
            return self._dispute(dispute_id).as_json()

    def payment_intent(self, intent_id: str) -> dict[str, Any]:
        with self._idempotency.lock:
            return self._intent(intent_id, status=404).as_json()

    def refunds_for(self, intent_id: str) -> list[dict[str, Any]]:
        with self._idempotency.lock:
            return [dict(r) for r in self._refunds if r["payment_intent"] == intent_id]

    def amend_refund(
        self, refund_id: str, *, amount: int | None = None, status: str | None = None
    ) -> None:
        """Change a refund as someone in the dashboard or Stripe itself might (a test's
        hook for reconciliation); the ledger records only effects asked of the API."""
        with self._idempotency.lock:
            refund = next((r for r in self._refunds if r["id"] == refund_id), None)
            if refund is None:
                raise KeyError(refund_id)
            if amount is not None:
                refund["amount"] = amount
            if status is not None:
                refund["status"] = status

    # -- effects ----------------------------------------------------------------------

    def _refund(self, fields: dict[str, str], key: str | None) -> tuple[int, dict[str, Any]]:
        intent_id = fields.get("payment_intent")
        if not intent_id:
            raise ApiError(400, "parameter_missing", "Missing required param: payment_intent.")
        intent = self._intent(intent_id, status=400)
        if intent.status != "succeeded":
            raise ApiError(
                400,
                "payment_intent_unexpected_state",
                f"This PaymentIntent has a status of {intent.status} and cannot be refunded.",
            )
        remaining = intent.amount_received - self._refunded(intent.id)
        if remaining <= 0:
            raise ApiError(
                400,
                "charge_already_refunded",
                f"Charge {intent.latest_charge} has already been refunded.",
            )
        amount = _positive_int(fields, "amount", default=remaining)
        if amount > remaining:
            raise ApiError(
                400,
                "amount_too_large",
                f"Refund amount ({amount}) is greater than unrefunded amount on charge "
                f"({remaining}).",
            )
        refund = {
            "id": self._next_id("re"),
            "object": "refund",
            "amount": amount,
            "currency": intent.currency,
            "charge": intent.latest_charge,
            "payment_intent": intent.id,
            "metadata": form_group(fields, "metadata"),
            "reason": fields.get("reason"),
            "status": "succeeded",
            "created": self._now(),
        }
        self._refunds.append(refund)
        self.control.ledger.record(
            "refund.created",
            intent.id,
            idempotency_key=key,
            data={"refund_id": refund["id"], "amount": amount, "metadata": refund["metadata"]},
        )
        return 200, dict(refund)

    def _capture(
        self, intent_id: str, fields: dict[str, str], key: str | None
    ) -> tuple[int, dict[str, Any]]:
        intent = self._intent(intent_id, status=404)
        if intent.status != "requires_capture":
            raise ApiError(
                400,
                "payment_intent_unexpected_state",
                "This PaymentIntent could not be captured because it has a status of "
                f"{intent.status}.",
            )
        amount = _positive_int(fields, "amount_to_capture", default=intent.amount_capturable)
        if amount > intent.amount_capturable:
            raise ApiError(
                400,
                "amount_too_large",
                "The amount to capture is greater than the amount capturable.",
            )
        intent.amount_received = amount
        intent.amount_capturable = 0
        intent.status = "succeeded"
        self.control.ledger.record(
            "payment_intent.captured", intent.id, idempotency_key=key, data={"amount": amount}
        )
        return 200, intent.as_json()

    def _cancel(
        self, intent_id: str, fields: dict[str, str], key: str | None
    ) -> tuple[int, dict[str, Any]]:
        intent = self._intent(intent_id, status=404)
        if intent.status not in CANCELLABLE:
            raise ApiError(
                400,
                "payment_intent_unexpected_state",
                f"You cannot cancel this PaymentIntent because it has a status of {intent.status}.",
            )
        intent.status = "canceled"
        intent.amount_capturable = 0
        intent.canceled_at = self._now()
        intent.cancellation_reason = fields.get("cancellation_reason")
        self.control.ledger.record(
            "payment_intent.canceled",
            intent.id,
            idempotency_key=key,
            data={"cancellation_reason": intent.cancellation_reason},
        )
        return 200, intent.as_json()

    def _update_dispute(
        self, dispute_id: str, fields: dict[str, str], key: str | None
    ) -> tuple[int, dict[str, Any]]:
        dispute = self._dispute(dispute_id)
        if dispute.status not in RESPONDABLE:
            raise ApiError(
                400,
                "dispute_not_updatable",
                f"This dispute has a status of {dispute.status} and no longer takes evidence.",
            )
        evidence = {**dispute.evidence, **form_group(fields, "evidence")}
        if sum(len(v) for v in evidence.values()) > EVIDENCE_LIMIT:
            raise ApiError(
                400,
                "parameter_invalid_string_too_long",
                f"The combined evidence may be at most {EVIDENCE_LIMIT} characters.",
            )
        submit = fields.get("submit", "true").lower()
        if submit not in ("true", "false"):
            raise ApiError(400, "parameter_invalid_boolean", "Invalid boolean: submit")
        dispute.evidence = evidence
        dispute.metadata.update(form_group(fields, "metadata"))
        if submit == "true":
            dispute.submission_count += 1
            dispute.status = RESPONDABLE[dispute.status]
            self.control.ledger.record(
                "dispute.evidence_submitted",
                dispute.id,
                idempotency_key=key,
                data={"fields": sorted(evidence), "submission_count": dispute.submission_count},
            )
        return 200, dispute.as_json()

    # -- HTTP -------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="Stripe sandbox", openapi_url=None)
        self.control.install(app)
        auth = [Depends(self._authenticate)]

        @app.post("/v1/refunds", dependencies=auth)
        async def create_refund(request: Request) -> Response:
            return await self._write(request, lambda f, k: self._refund(f, k))

        @app.post("/v1/payment_intents/{intent_id}/capture", dependencies=auth)
        async def capture(intent_id: str, request: Request) -> Response:
            return await self._write(request, lambda f, k: self._capture(intent_id, f, k))

        @app.post("/v1/payment_intents/{intent_id}/cancel", dependencies=auth)
        async def cancel(intent_id: str, request: Request) -> Response:
            return await self._write(request, lambda f, k: self._cancel(intent_id, f, k))

        @app.post("/v1/disputes/{dispute_id}", dependencies=auth)
        async def update_dispute(dispute_id: str, request: Request) -> Response:
            return await self._write(request, lambda f, k: self._update_dispute(dispute_id, f, k))

        @app.get("/v1/disputes/{dispute_id}", dependencies=auth)
        async def get_dispute(dispute_id: str) -> dict[str, Any]:
            return self.dispute(dispute_id)

        @app.get("/v1/payment_intents/{intent_id}", dependencies=auth)
        async def get_intent(intent_id: str, request: Request) -> dict[str, Any]:
            expand = request.query_params.getlist("expand[]")
            unknown = sorted(set(expand) - EXPANDABLE)
            if unknown:
                raise ApiError(
                    400, "parameter_invalid", f"This property cannot be expanded ({unknown[0]})."
                )
            with self._idempotency.lock:
                intent = self._intent(intent_id, status=404)
                body = intent.as_json()
                if "latest_charge" in expand:
                    body["latest_charge"] = self._charge(intent)
                return body

        @app.get("/v1/refunds", dependencies=auth)
        async def list_refunds(payment_intent: str | None = None) -> dict[str, Any]:
            with self._idempotency.lock:
                data = [
                    dict(r)
                    for r in reversed(self._refunds)
                    if payment_intent is None or r["payment_intent"] == payment_intent
                ]
            return {"object": "list", "url": "/v1/refunds", "has_more": False, "data": data}

        return app

    async def _write(self, request: Request, effect: _Effect) -> Response:
        fields = parse_form(await request.body())
        key = request.headers.get("idempotency-key")

        def action() -> tuple[int, dict[str, Any]]:
            try:
                return effect(fields, key)
            except ApiError as error:
                # Stripe stores the answer of a request that reached the endpoint, errors too.
                return error.status, render_stripe_error(error.status, error.code, error.message)

        try:
            answer = self._idempotency.execute(
                scope=self.api_key,
                key=key,
                request_fingerprint=fingerprint("POST", request.url.path, fields),
                action=action,
            )
        except IdempotencyMismatch as mismatch:
            raise ApiError(
                400,
                "idempotency_error",
                "Keys for idempotent requests can only be used with the same parameters they "
                f"were first used with. Try using a key other than '{mismatch}' if you meant "
                "to execute a different request.",
            ) from mismatch
        headers = {"Idempotency-Key": key} if key else {}
        return replayable_response(answer, headers)

    def _authenticate(self, request: Request) -> None:
        basic = basic_credentials(request)
        key = bearer_token(request) or (basic[0] if basic else None)
        if key is None:
            raise ApiError(
                401,
                "api_key_missing",
                "You did not provide an API key. Provide it in the Authorization header.",
            )
        if key != self.api_key:
            raise ApiError(401, "api_key_invalid", f"Invalid API Key provided: {key[:8]}****")

    # -- helpers ----------------------------------------------------------------------

    def _intent(self, intent_id: str, *, status: int) -> PaymentIntent:
        intent = self._intents.get(intent_id)
        if intent is None:
            raise ApiError(status, "resource_missing", f"No such payment_intent: '{intent_id}'")
        return intent

    def _dispute(self, dispute_id: str) -> Dispute:
        dispute = self._disputes.get(dispute_id)
        if dispute is None:
            raise ApiError(404, "resource_missing", f"No such dispute: '{dispute_id}'")
        return dispute

    def _charge(self, intent: PaymentIntent) -> dict[str, Any]:
        """The intent's charge as ``expand[]=latest_charge`` shows it: what was captured and
        how much of it is refunded (``amount_refunded`` counts every refund of the charge)."""
        refunded = self._refunded(intent.id)
        return {
            "id": intent.latest_charge,
            "object": "charge",
            "amount": intent.amount,
            "amount_captured": intent.amount_received,
            "amount_refunded": refunded,
            "refunded": intent.amount_received > 0 and refunded >= intent.amount_received,
            "captured": intent.amount_received > 0,
            "currency": intent.currency,
            "payment_intent": intent.id,
            "status": "succeeded" if intent.amount_received > 0 else "pending",
        }

    def _refunded(self, intent_id: str) -> int:
        return sum(int(r["amount"]) for r in self._refunds if r["payment_intent"] == intent_id)

    def _next_id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_sandbox{self._counter:06d}"

    def _now(self) -> int:
        return int(self._clock.now().timestamp())


_Effect = Callable[[dict[str, str], "str | None"], tuple[int, dict[str, Any]]]


def _positive_int(fields: dict[str, str], name: str, *, default: int) -> int:
    raw = fields.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or int(raw) <= 0:
        raise ApiError(400, "parameter_invalid_integer", f"Invalid positive integer: {name}")
    return int(raw)
