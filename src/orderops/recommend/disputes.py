"""Dispute evidence: on a chargeback, the pack a reviewer approves before it is submitted.

Shaped like Stripe's dispute ``evidence[...]`` fields. Stripe takes documents
(``shipping_documentation``, ``customer_communication``, ``refund_policy``, ``receipt``)
as uploaded file ids; the pack keeps their text under ``documents`` and names them in
``evidence`` as ``orderops-document:<name>``, for the submitting connector to upload.
Submission is an outbox effect queued at approval, never a call from here.

A pack is maker-checked like an action: whoever assembled it last cannot approve it, and
neither can a service, a bare key, or an identity the assembler made within the approval
policy's provenance window (``decide/approver_eligibility.py``). The pack names its
dispute by Stripe id alone (``recommend/dispute_refs.py``), never by the signal's detail.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.decide import communications
from orderops.decide.approver_eligibility import check_approver, provenance_window
from orderops.decide.policy_versions import pin_for
from orderops.domain.errors import Conflict, IllegalTransition, NotFound
from orderops.recommend.dispute_refs import stripe_dispute_id
from orderops.recommend.facts import CaseFacts
from orderops.recommend.formatting import money
from orderops.storage.tables.recommend import DisputeEvidencePack
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.writeback.outbox import enqueue

DOCUMENT = "orderops-document:"
STRIPE_FIELDS = (
    "customer_name",
    "customer_email_address",
    "billing_address",
    "product_description",
    "shipping_address",
    "shipping_carrier",
    "shipping_date",
    "shipping_tracking_number",
    "shipping_documentation",
    "customer_communication",
    "receipt",
    "refund_policy",
    "refund_refusal_explanation",
    "uncategorized_text",
)


class NoDispute(Conflict):
    code = "no-dispute"


def build_evidence(
    facts: CaseFacts,
    *,
    messages: Sequence[str],
    refund_policy: str,
    approvals: Sequence[str],
    shipping_address: str | None = None,
) -> tuple[dict[str, str], dict[str, str]]:
    """(evidence, documents) from the case's facts; only fields with something to say."""
    shipment = facts.latest_shipment
    scans = "\n".join(
        f"{scan.at.isoformat()} {scan.status} {scan.location or ''}".strip()
        for s in facts.shipments
        for scan in s.scans
    )
    products = "; ".join(
        f"{line.quantity} x {line.title or line.sku} ({line.sku})" for line in facts.lines
    )
    evidence: dict[str, str] = {
        "customer_name": facts.customer_name or "",
        "customer_email_address": facts.customer_email or "",
        "product_description": products,
        "shipping_address": shipping_address or "",
        "shipping_carrier": shipment.carrier if shipment else "",
        "shipping_date": shipment.shipped_at.date().isoformat()
        if shipment and shipment.shipped_at
        else "",
        "shipping_tracking_number": shipment.tracking_number if shipment else "",
        "uncategorized_text": (
            f"Order {facts.label} placed {facts.placed_at.date().isoformat()} for "
            f"{money(facts.total_minor, facts.currency, 'en')}"
            + (f"; delivered {facts.delivered_at.date().isoformat()}" if facts.delivered_at else "")
            + (f". Approvals: {'; '.join(approvals)}" if approvals else "")
        ),
    }
    documents: dict[str, str] = {}
    if scans:
        documents["shipping_documentation"] = (
            f"Tracking {evidence['shipping_tracking_number']}\n{scans}"
        )
    if messages:
        documents["customer_communication"] = "\n\n---\n\n".join(messages)
    documents["refund_policy"] = refund_policy
    documents["receipt"] = (
        f"Order {facts.label}\n{products}\nTotal {money(facts.total_minor, facts.currency, 'en')}"
    )
    for name in documents:
        evidence[name] = f"{DOCUMENT}{name}"
    return {k: v for k, v in evidence.items() if v}, documents


def assemble(
    uow: UnitOfWork,
    facts: CaseFacts,
    *,
    refund_policy: str,
    approvals: Sequence[str],
    now: datetime,
    actor: str,
) -> DisputeEvidencePack:
    """Build (or rebuild, while still a draft) the case's evidence pack; ``actor`` (a
    stable id) becomes its maker, who may not approve it."""
    if facts.dispute_ref is None or facts.case_id is None:
        raise NoDispute(f"order {facts.order_ref} has no dispute signal")
    dispute_id = stripe_dispute_id(facts.dispute_ref)
    if dispute_id is None:
        raise NoDispute(
            f"the dispute signal of order {facts.order_ref} names no Stripe dispute id; "
            "evidence can only be submitted to a dispute Stripe knows"
        )
    history = communications.history(uow, facts.case_id)
    messages = [f"{m.subject or ''}\n{m.body}".strip() for m in history if m.status == "sent"]
    messages += [f"{t.subject or ''}\n{t.body or ''}".strip() for t in facts.tickets]
    evidence, documents = build_evidence(
        facts, messages=messages, refund_policy=refund_policy, approvals=approvals
    )
    pack = uow.session.scalar(
        select(DisputeEvidencePack).where(
            DisputeEvidencePack.tenant_id == uow.tenant_id,
            DisputeEvidencePack.dispute_ref == dispute_id,
        )
    )
    if pack is None:
        pack = DisputeEvidencePack(
            tenant_id=uow.tenant_id,
            case_id=facts.case_id,
            order_ref=facts.order_ref,
            dispute_ref=dispute_id,
            status="draft",
            evidence=evidence,
            documents=documents,
            created_at=now,
            assembled_by=actor,
        )
        uow.session.add(pack)
    elif pack.status == "draft":
        pack.evidence, pack.documents, pack.assembled_by = evidence, documents, actor
    else:
        return pack
    uow.session.flush()
    uow.audit.append(
        at=now,
        actor=actor,
        action="dispute_evidence.assembled",
        entity_type="dispute_evidence",
        entity_id=pack.id,
        data={"dispute_ref": dispute_id, "case_id": pack.case_id},
    )
    return pack


def approve(
    uow: UnitOfWork, pack_id: str, *, principal: Principal, now: datetime
) -> DisputeEvidencePack:
    """A reviewer other than its maker approves: the submission is queued (outbox), once
    per dispute, naming the dispute by its Stripe id."""
    pack = uow.session.scalar(
        select(DisputeEvidencePack).where(
            DisputeEvidencePack.tenant_id == uow.tenant_id, DisputeEvidencePack.id == pack_id
        )
    )
    if pack is None:
        raise NotFound(f"no evidence pack {pack_id}")
    if pack.status != "draft":
        raise IllegalTransition(f"evidence pack {pack_id} is already {pack.status}")
    if pack.assembled_by is None:
        raise IllegalTransition(
            f"evidence pack {pack_id} was assembled before makers were recorded; "
            "assemble it again, then have another person approve it"
        )
    dispute_id = stripe_dispute_id(pack.dispute_ref)
    if dispute_id is None:
        raise NoDispute(f"evidence pack {pack_id} names no Stripe dispute id")
    case = uow.cases.get(pack.case_id)
    pin = pin_for(uow, case) if case is not None else None
    check_approver(
        uow,
        maker=pack.assembled_by,
        principal=principal,
        at=now,
        window=provenance_window(uow, pin.policy_version if pin else None),
        subject=f"evidence pack {pack.id}",
    )
    actor = principal.identity
    payload: dict[str, Any] = {
        "dispute_id": dispute_id,
        "evidence": pack.evidence,
        "documents": pack.documents,
        "submit": True,
    }
    pack.outbox_id = enqueue(
        uow,
        system="stripe",
        operation="submit_dispute_evidence",
        idempotency_key=f"dispute-evidence:{dispute_id}",
        payload=payload,
        now=now,
        case_id=pack.case_id,
        order_ref=pack.order_ref,
    )
    pack.status, pack.approved_by, pack.approved_at = "approved", actor, now
    uow.audit.append(
        at=now,
        actor=actor,
        action="dispute_evidence.approved",
        entity_type="dispute_evidence",
        entity_id=pack.id,
        data={
            "dispute_ref": dispute_id,
            "outbox_id": pack.outbox_id,
            "assembled_by": pack.assembled_by,
        },
    )
    return pack


def packs_for(uow: UnitOfWork, case_id: str) -> list[DisputeEvidencePack]:
    return list(
        uow.session.scalars(
            select(DisputeEvidencePack)
            .where(
                DisputeEvidencePack.tenant_id == uow.tenant_id,
                DisputeEvidencePack.case_id == case_id,
            )
            .order_by(DisputeEvidencePack.created_at)
        )
    )
