"""Store credit in the CRM, for the customer who placed the order.

The CRM keeps its own customer ids, so the payload names the buyer by email, and the
operation looks the customer up just before writing: no customer, or several, with that
email stops the write (a conflict a person resolves) instead of crediting a guess. The
CRM replays by Idempotency-Key, so a retry returns the first credit.
"""

from __future__ import annotations

from orderops.writeback.connectors.crm import CustomerAccount
from orderops.writeback.registry import (
    Call,
    Connectors,
    Difference,
    Operation,
    Precheck,
    Result,
    fresh_answer,
)

# crm.store_credit payload: customer_email, amount_minor, currency, reason


def _customers(connectors: Connectors, call: Call) -> list[CustomerAccount]:
    return connectors.crm().find_customers(str(call.payload["customer_email"]))


def store_credit_precheck(connectors: Connectors, call: Call) -> Precheck:
    found = _customers(connectors, call)
    if len(found) != 1:
        return Precheck(differences=(Difference("crm_customers_with_email", 1, len(found)),))
    return Precheck()


def store_credit(connectors: Connectors, call: Call) -> Result:
    found = _customers(connectors, call)
    if len(found) != 1:
        raise KeyError(f"{len(found)} CRM customers have the order's email")
    credit = connectors.crm().issue_store_credit(
        customer_id=found[0].id,
        amount_minor=int(call.payload["amount_minor"]),
        currency=str(call.payload["currency"]),
        idempotency_key=call.idempotency_key,
        reason=str(call.payload.get("reason") or ""),
    )
    return {
        "credit_id": credit.id,
        "customer_id": credit.customer_id,
        "amount_minor": credit.amount_minor,
        "currency": credit.currency,
        "replayed": credit.replayed,
    }


def store_credit_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    credits = connectors.crm().list_store_credits(str(result["customer_id"]))
    return any(c.id == result["credit_id"] for c in credits)


def store_credit_answered(result: Result) -> bool:
    """The CRM answers with the credit it issued; a replayed answer is read back."""
    return fresh_answer(result) and result.get("credit_id") is not None


OPERATIONS = [
    Operation(
        system="crm",
        name="store_credit",
        precheck=store_credit_precheck,
        execute=store_credit,
        confirm=store_credit_confirm,
        summary_fields=("amount_minor", "currency"),
        answer_confirms=store_credit_answered,
    ),
]
