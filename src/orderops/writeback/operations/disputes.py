"""Chargebacks: submitting an approved evidence pack to a Stripe dispute.

Stripe takes evidence for a dispute once: the submission moves it to review and any later
update is refused. So the precheck re-reads the dispute just before the write; one already
in review carrying our key in its metadata is our own earlier submission (a worker that
crashed after writing), anything else that no longer takes evidence is a conflict for a
person, not a retry.

Stripe wants the document fields (``receipt``, ``refund_policy``, ...) as uploaded file
ids; the sandbox has no Files API yet, so the pack's document texts are sent inside
``uncategorized_text`` under their names and the ``orderops-document:`` references dropped.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from orderops.writeback.connectors.base import PermanentError
from orderops.writeback.connectors.stripe import DisputeState
from orderops.writeback.registry import (
    Call,
    Connectors,
    Difference,
    Operation,
    Precheck,
    Result,
    fresh_answer,
)

KEY_METADATA = "orderops_key"
"""Dispute metadata naming the idempotency key, so a read-back can tell our submission."""
DOCUMENT = "orderops-document:"
"""How the pack (recommend/disputes.py) names a document field whose text is in ``documents``."""
RESPONDABLE = frozenset({"needs_response", "warning_needs_response"})
IN_REVIEW = frozenset({"under_review", "warning_under_review"})


def evidence_form(evidence: Mapping[str, Any], documents: Mapping[str, Any]) -> dict[str, str]:
    """The evidence fields to send: text fields as they are, documents folded into text."""
    fields = {str(k): str(v) for k, v in evidence.items() if v and not str(v).startswith(DOCUMENT)}
    referenced = [
        str(v).removeprefix(DOCUMENT) for v in evidence.values() if str(v).startswith(DOCUMENT)
    ]
    sections = [f"== {name} ==\n{documents[name]}" for name in referenced if documents.get(name)]
    if sections:
        fields["uncategorized_text"] = "\n\n".join(
            [fields["uncategorized_text"], *sections]
            if fields.get("uncategorized_text")
            else sections
        )
    return fields


# -- Stripe dispute evidence -------------------------------------------------------------
# payload: dispute_id, evidence {field: text | "orderops-document:<name>"},
#          documents {name: text}, submit (true)


def submit_evidence_precheck(connectors: Connectors, call: Call) -> Precheck:
    dispute_id = str(call.payload["dispute_id"])
    try:
        dispute = connectors.stripe().get_dispute(dispute_id)
    except PermanentError as error:
        if error.status != 404:
            raise
        return Precheck(differences=(Difference("dispute", "exists", "missing"),))
    if _ours(dispute, call) and dispute.status in IN_REVIEW:
        return Precheck(earlier_result=_result(dispute))
    if dispute.status not in RESPONDABLE:
        return Precheck(
            differences=(Difference("dispute_status", sorted(RESPONDABLE), dispute.status),)
        )
    return Precheck()


def submit_evidence(connectors: Connectors, call: Call) -> Result:
    dispute = connectors.stripe().submit_dispute_evidence(
        dispute_id=str(call.payload["dispute_id"]),
        evidence=evidence_form(
            call.payload.get("evidence") or {}, call.payload.get("documents") or {}
        ),
        idempotency_key=call.idempotency_key,
        metadata={KEY_METADATA: call.idempotency_key},
        submit=bool(call.payload.get("submit", True)),
    )
    return _result(dispute) | {"replayed": dispute.replayed}


def submit_evidence_confirm(connectors: Connectors, call: Call, result: Result) -> bool:
    dispute = connectors.stripe().get_dispute(str(call.payload["dispute_id"]))
    submitted = dispute.status in IN_REVIEW or not call.payload.get("submit", True)
    return _ours(dispute, call) and submitted and bool(dispute.evidence)


def submit_evidence_answered(result: Result) -> bool:
    """Stripe answers with the dispute as our update left it: in review once submitted.
    Evidence saved without submitting, and replayed answers, are read back."""
    return fresh_answer(result) and result.get("status") in IN_REVIEW


def _ours(dispute: DisputeState, call: Call) -> bool:
    return dispute.metadata.get(KEY_METADATA) == call.idempotency_key


def _result(dispute: DisputeState) -> Result:
    return {
        "dispute_id": dispute.id,
        "status": dispute.status,
        "submission_count": dispute.submission_count,
    }


OPERATIONS = [
    Operation(
        system="stripe",
        name="submit_dispute_evidence",
        precheck=submit_evidence_precheck,
        execute=submit_evidence,
        confirm=submit_evidence_confirm,
        summary_fields=("dispute_id", "submit"),
        answer_confirms=submit_evidence_answered,
    ),
]
