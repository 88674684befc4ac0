"""Decision snapshots: the order's world frozen at the moment someone decided.

A snapshot is canonical JSON (sorted keys, fixed separators) of the order, its
payments, shipments with their scans, and the stock of its lines, stored as evidence.
The same facts always give the same bytes, hence the same address: snapshotting an
unchanged case twice stores nothing new.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from orderops.cases.cases import record
from orderops.domain.errors import NotFound
from orderops.evidence.service import EvidenceInfo, EvidenceKind, store_evidence
from orderops.evidence.store import BlobStore
from orderops.storage.tables import Case, Order
from orderops.storage.uow import UnitOfWork

SNAPSHOT_FORMAT = "orderops.snapshot/1"


def snapshot_facts(
    uow: UnitOfWork, case: Case, *, store: BlobStore, now: datetime, actor: str = "system"
) -> str:
    """Freeze the case's facts as evidence, noted on its timeline; the blob id (SHA-256)."""
    info = _freeze(uow, case, store=store, now=now, actor=actor)
    record(
        uow,
        case,
        at=now,
        actor=actor,
        kind="snapshot_taken",
        summary=f"Facts snapshot {info.sha256[:12]}",
        data={"sha256": info.sha256, "size_bytes": info.size_bytes},
    )
    return info.sha256


def freeze_facts(
    uow: UnitOfWork, case: Case, *, store: BlobStore, now: datetime, actor: str
) -> str:
    """Store the case's facts as evidence and return the blob id, with no timeline entry.

    Decisions use this: the decision's own timeline entry and audit record carry the id,
    so the reason for the snapshot and the snapshot are one record, not two.
    """
    return _freeze(uow, case, store=store, now=now, actor=actor).sha256


def _freeze(
    uow: UnitOfWork, case: Case, *, store: BlobStore, now: datetime, actor: str
) -> EvidenceInfo:
    order = uow.commerce.order(case.order_id)
    if order is None:
        raise NotFound(f"case {case.id} points at a missing order {case.order_id}")
    body = canonical_json(collect_facts(uow, case, order))
    return store_evidence(
        uow,
        store,
        data=body,
        media_type="application/json",
        kind=EvidenceKind.SNAPSHOT,
        actor=actor,
        now=now,
    )


def collect_facts(uow: UnitOfWork, case: Case, order: Order) -> dict[str, Any]:
    """Everything a reviewer would want to see again, as plain JSON values.

    No capture time inside: the timeline entry says when, and leaving it out is what
    lets identical facts share one blob.
    """
    commerce = uow.commerce
    shipments = []
    for shipment in commerce.shipments_for(order.order_ref):
        shipments.append(
            {
                "carrier": shipment.carrier,
                "tracking_number": shipment.tracking_number,
                "status": shipment.status,
                "status_at": _iso(shipment.status_at),
                "estimated_delivery": _iso(shipment.estimated_delivery),
                "delivered_at": _iso(shipment.delivered_at),
                "scans": [
                    {
                        "status": scan.status,
                        "occurred_at": _iso(scan.occurred_at),
                        "location": scan.location,
                        "message": scan.message,
                    }
                    for scan in commerce.tracking_events(shipment.id)
                ],
            }
        )
    stock = []
    for line in order.lines:
        location = line.location or order.location
        position = commerce.inventory(line.sku, location) if location else None
        stock.append(
            {
                "sku": line.sku,
                "location": location,
                "available": position.available if position else None,
                "on_hand": position.on_hand if position else None,
                "as_of": _iso(position.as_of) if position else None,
            }
        )
    return {
        "format": SNAPSHOT_FORMAT,
        "case": {
            "id": case.id,
            "exception_type": case.exception_type,
            "status": case.status,
            "queue": case.queue,
            "priority": case.priority,
            "facts": case.facts,
        },
        "order": {
            "order_ref": order.order_ref,
            "number": order.number,
            "status": order.status,
            "financial_status": order.financial_status,
            "fulfillment_status": order.fulfillment_status,
            "currency": order.currency,
            "total_minor": order.total_minor,
            "placed_at": _iso(order.placed_at),
            "promised_by": _iso(order.promised_by),
            "delivered_at": _iso(order.delivered_at),
            "cancelled_at": _iso(order.cancelled_at),
            "ship_to": order.ship_to,
            "lines": [
                {
                    "sku": line.sku,
                    "title": line.title,
                    "quantity": line.quantity,
                    "unit_price_minor": line.unit_price_minor,
                }
                for line in order.lines
            ],
        },
        "payments": [
            {
                "provider": p.provider,
                "payment_ref": p.payment_ref,
                "status": p.status,
                "amount_minor": p.amount_minor,
                "amount_refunded_minor": p.amount_refunded_minor,
                "currency": p.currency,
                "failure_code": p.failure_code,
                "failure_message": p.failure_message,
                "status_at": _iso(p.status_at),
            }
            for p in commerce.payments_for(order.order_ref)
        ],
        "shipments": shipments,
        "stock": stock,
    }


def canonical_json(value: Any) -> bytes:
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode("utf-8")


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None
