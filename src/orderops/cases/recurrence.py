"""How often a case's customer, SKUs, carrier lane and warehouse went wrong lately.

Each case's recurrence keys are written once (``record_keys``, on open) into the
``recurrence_keys`` table, so a count per dimension and rolling window is one indexed
query however many cases the tenant holds. ``recurrence_for`` shows the counts on the
case facts, where the reviewer and the console read them.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, func, or_, select

from orderops.domain.errors import NotFound
from orderops.domain.root_causes import (
    RECURRENCE_WINDOWS,
    CaseContext,
    Dimension,
    recurrence_keys,
)
from orderops.storage.tables import Case, Order, Payment
from orderops.storage.tables.incidents import RecurrenceKey
from orderops.storage.uow import UnitOfWork


def case_order(uow: UnitOfWork, case: Case) -> Order:
    order = uow.commerce.order(case.order_id)
    if order is None:
        raise NotFound(f"case {case.id} points at a missing order {case.order_id}")
    return order


def context_for(uow: UnitOfWork, case: Case) -> CaseContext:
    """Read what the case shares with others from the order's projected state: the
    newest shipment gives the lane, the newest failed payment the failure code."""
    order = case_order(uow, case)
    shipments = sorted(uow.commerce.shipments_for(order.order_ref), key=lambda s: s.status_at)
    shipment = shipments[-1] if shipments else None
    failed = [p for p in uow.commerce.payments_for(order.order_ref) if p.failure_code]
    payment: Payment | None = max(failed, key=lambda p: p.status_at) if failed else None
    line_locations = {line.location for line in order.lines if line.location}
    warehouse = (
        (shipment.origin_location if shipment else None)
        or order.location
        or (min(line_locations) if line_locations else None)
    )
    return CaseContext(
        exception_type=case.exception_type,
        customer_id=order.customer_id,
        skus=tuple(line.sku for line in order.lines),
        carrier=shipment.carrier.lower() if shipment else None,
        origin=(shipment.origin_location or order.location) if shipment else None,
        destination_region=destination_region(order.ship_to),
        warehouse=warehouse,
        payment_provider=payment.provider if payment else None,
        failure_code=payment.failure_code if payment else None,
    )


def destination_region(ship_to: dict[str, Any] | None) -> str | None:
    """Country, with the region when known: ``US-CA``, ``DE``."""
    country = (ship_to or {}).get("country")
    if not isinstance(country, str) or not country:
        return None
    region = (ship_to or {}).get("region")
    if isinstance(region, str) and region.strip():
        return f"{country.upper()}-{region.strip().upper()}"
    return country.upper()


def record_keys(uow: UnitOfWork, case: Case, *, context: CaseContext | None = None) -> int:
    """Write the case's recurrence keys, replacing earlier ones (a reopened case may now
    be on another lane); return how many."""
    context = context or context_for(uow, case)
    uow.session.execute(
        delete(RecurrenceKey).where(
            RecurrenceKey.tenant_id == uow.tenant_id, RecurrenceKey.case_id == case.id
        )
    )
    keys = recurrence_keys(context)
    for dimension, value in keys:
        uow.session.add(
            RecurrenceKey(
                tenant_id=uow.tenant_id,
                case_id=case.id,
                dimension=dimension,
                value=value[:300],
                exception_type=case.exception_type,
                opened_at=case.opened_at,
            )
        )
    uow.session.flush()
    return len(keys)


def count_recurrence(
    uow: UnitOfWork, keys: Sequence[tuple[Dimension, str]], *, end: datetime
) -> dict[tuple[str, str], dict[str, int]]:
    """Distinct cases per key and rolling window ending at ``end``, in one grouped query
    (a case opening used to ask once per key and window: a dozen round trips)."""
    if not keys:
        return {}
    windows = {label: end - span for label, span in RECURRENCE_WINDOWS.items()}
    wanted = {(str(dimension), value[:300]) for dimension, value in keys}
    rows = uow.session.execute(
        select(
            RecurrenceKey.dimension,
            RecurrenceKey.value,
            *(
                func.count(func.distinct(RecurrenceKey.case_id)).filter(
                    RecurrenceKey.opened_at >= since
                )
                for since in windows.values()
            ),
        )
        .where(
            RecurrenceKey.tenant_id == uow.tenant_id,
            or_(
                *(
                    and_(RecurrenceKey.dimension == dimension, RecurrenceKey.value == value)
                    for dimension, value in sorted(wanted)
                )
            ),
            RecurrenceKey.opened_at >= min(windows.values()),
            RecurrenceKey.opened_at <= end,
        )
        .group_by(RecurrenceKey.dimension, RecurrenceKey.value)
    )
    counts = {key: dict.fromkeys(windows, 0) for key in wanted}
    for dimension, value, *per_window in rows:
        counts[(dimension, value)] = dict(zip(windows, per_window, strict=True))
    return counts


def recurrence_for(
    uow: UnitOfWork,
    case: Case,
    *,
    now: datetime | None = None,
    show: bool = True,
    context: CaseContext | None = None,
) -> dict[str, Any]:
    """Cases (this one included) per dimension and rolling window, ending at ``now``
    (default: when the case opened). With ``show`` the result also goes on the case
    facts under ``recurrence``.

    Shape: ``{"lane": {"value": "ups:WH-1:DE", "7d": 3, "30d": 9, "90d": 12}, "sku": [..]}``;
    SKUs are a list, one entry per SKU of the order.
    """
    end = now or case.opened_at
    context = context or context_for(uow, case)
    record_keys(uow, case, context=context)
    result: dict[str, Any] = {}
    keys = recurrence_keys(context)
    counted = count_recurrence(uow, keys, end=end)
    for dimension, value in keys:
        counts: dict[str, Any] = {"value": value, **counted[(str(dimension), value[:300])]}
        if dimension is Dimension.SKU:
            result.setdefault(str(dimension), []).append(counts)
        else:
            result[str(dimension)] = counts
    if show:
        case.facts = {**case.facts, "recurrence": result}
    return result
