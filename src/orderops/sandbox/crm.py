"""A generic CRM: customer notes and store credit, with Idempotency-Key support.

Store credit is money in all but name, so the sandbox holds it to the same standard as a
refund: one credit per idempotency key, and the balance tests read comes from the ledger
of applied credits rather than from what any client was told.
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import Response

from orderops.domain.clock import Clock, SystemClock
from orderops.sandbox.control import SandboxControl
from orderops.sandbox.http import ApiError, bearer_token
from orderops.sandbox.idempotency import IdempotencyStore, JsonEffect, idempotent_json_write


def render_crm_error(status: int, code: str, message: str) -> dict[str, Any]:
    return {"error": {"code": code, "message": message}}


class CrmSandbox:
    def __init__(self, *, api_token: str = "crm_orderops", clock: Clock | None = None) -> None:
        self.api_token = api_token
        self._clock = clock or SystemClock()
        self.control = SandboxControl(render_error=render_crm_error)
        self._store = IdempotencyStore()
        self._customers: dict[str, dict[str, Any]] = {}
        self._notes: list[dict[str, Any]] = []
        self._credits: list[dict[str, Any]] = []
        self._counter = 0
        self.app = self._build_app()

    def add_customer(self, *, email: str, name: str = "") -> str:
        with self._store.lock:
            customer_id = self._id("cus")
            self._customers[customer_id] = {"id": customer_id, "email": email, "name": name}
            return customer_id

    def customer(self, customer_id: str) -> dict[str, Any]:
        with self._store.lock:
            customer = self._customer(customer_id)
            balances: dict[str, int] = {}
            for credit in self._credits:
                if credit["customer_id"] == customer_id:
                    currency = credit["currency"]
                    balances[currency] = balances.get(currency, 0) + credit["amount_minor"]
            return {**customer, "store_credit_balance": balances}

    def notes(self, customer_id: str) -> list[dict[str, Any]]:
        with self._store.lock:
            self._customer(customer_id)
            return [dict(n) for n in self._notes if n["customer_id"] == customer_id]

    def credits(self, customer_id: str) -> list[dict[str, Any]]:
        with self._store.lock:
            self._customer(customer_id)
            return [dict(c) for c in self._credits if c["customer_id"] == customer_id]

    # -- effects ----------------------------------------------------------------------

    def _add_note(
        self, customer_id: str, body: dict[str, Any], key: str | None
    ) -> tuple[int, dict[str, Any]]:
        self._customer(customer_id)
        text = body.get("body")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(422, "invalid_field", "body is required.")
        note = {
            "id": self._id("note"),
            "customer_id": customer_id,
            "body": text,
            "author": str(body.get("author") or "api"),
            "created_at": self._clock.now().isoformat(),
        }
        self._notes.append(note)
        self.control.ledger.record(
            "note.created", customer_id, idempotency_key=key, data={"note_id": note["id"]}
        )
        return 201, dict(note)

    def _add_credit(
        self, customer_id: str, body: dict[str, Any], key: str | None
    ) -> tuple[int, dict[str, Any]]:
        self._customer(customer_id)
        amount = body.get("amount_minor")
        currency = body.get("currency")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount <= 0:
            raise ApiError(422, "invalid_field", "amount_minor must be a positive integer.")
        if not isinstance(currency, str) or len(currency) != 3:
            raise ApiError(422, "invalid_field", "currency must be an ISO 4217 code.")
        credit = {
            "id": self._id("cred"),
            "customer_id": customer_id,
            "amount_minor": amount,
            "currency": currency.upper(),
            "reason": str(body.get("reason") or ""),
            "created_at": self._clock.now().isoformat(),
        }
        self._credits.append(credit)
        self.control.ledger.record(
            "store_credit.issued",
            customer_id,
            idempotency_key=key,
            data={
                "credit_id": credit["id"],
                "amount_minor": amount,
                "currency": credit["currency"],
            },
        )
        return 201, dict(credit)

    # -- HTTP -------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(title="CRM sandbox", openapi_url=None)
        self.control.install(app)
        auth = [Depends(self._authenticate)]

        @app.get("/v1/customers", dependencies=auth)
        async def find_customers(email: str | None = None) -> dict[str, Any]:
            with self._store.lock:
                ids = [c["id"] for c in self._customers.values() if email in (None, c["email"])]
            return {"data": [self.customer(i) for i in ids]}

        @app.get("/v1/customers/{customer_id}", dependencies=auth)
        async def get_customer(customer_id: str) -> dict[str, Any]:
            return self.customer(customer_id)

        @app.get("/v1/customers/{customer_id}/notes", dependencies=auth)
        async def list_notes(customer_id: str) -> dict[str, Any]:
            return {"data": self.notes(customer_id)}

        @app.post("/v1/customers/{customer_id}/notes", dependencies=auth)
        async def add_note(customer_id: str, request: Request) -> Response:
            return await self._write(request, lambda b, k: self._add_note(customer_id, b, k))

        @app.get("/v1/customers/{customer_id}/store_credits", dependencies=auth)
        async def list_credits(customer_id: str) -> dict[str, Any]:
            return {"data": self.credits(customer_id)}

        @app.post("/v1/customers/{customer_id}/store_credits", dependencies=auth)
        async def add_credit(customer_id: str, request: Request) -> Response:
            return await self._write(request, lambda b, k: self._add_credit(customer_id, b, k))

        return app

    async def _write(self, request: Request, effect: JsonEffect) -> Response:
        return await idempotent_json_write(
            request, self._store, scope=self.api_token, effect=effect, render_error=render_crm_error
        )

    def _authenticate(self, request: Request) -> None:
        if bearer_token(request) != self.api_token:
            raise ApiError(401, "unauthorized", "Missing or invalid bearer token.")

    def _customer(self, customer_id: str) -> dict[str, Any]:
        customer = self._customers.get(customer_id)
        if customer is None:
            raise ApiError(404, "not_found", f"No such customer: {customer_id}")
        return customer

    def _id(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}_{self._counter:06d}"
