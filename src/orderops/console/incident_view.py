"""An incident's page: the storm's open cases as a queue's rows, and the proposal form
that goes to each of them (``bulk_work.propose_cases``).

The form is the case page's (``action_forms``), offered only for kinds whose fields do
not name one order's own things (its lines, a SKU on it): those fit every case of the
storm alike. Amounts are typed once in the incident's currency and read again against
each order (its own currency and remedy room) when proposed; a payment left blank is
each order's only fitting one.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from sqlalchemy import select

from orderops.cases.incidents import list_incidents
from orderops.console.action_forms import (
    ActionForm,
    Choice,
    OrderFacts,
    Widget,
    form_for,
    proposable_kinds,
)
from orderops.console.queue_view import MAX_ROWS, CaseRow, QueueFilter, rows_of
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.errors import NotFound
from orderops.storage.tables import Case, Order
from orderops.storage.tables.incidents import Incident
from orderops.storage.uow import UnitOfWork

ONE_ORDERS_OWN = frozenset({"sku", "from_sku", "to_sku", "lines", "tracking_number"})
"""Parameters that name something of one order: a kind needing one is not proposed in bulk."""
MONEY_HINT = "Read against each order's own room and approval limits, case by case."


@dataclass(frozen=True, kw_only=True)
class IncidentPage:
    incident: Incident
    open_cases: int
    case_count: int
    rows: list[CaseRow]
    """Its open cases in the viewer's scope (at most ``MAX_ROWS``), most urgent first."""
    currency: str
    form: ActionForm | None = None


def incidents(uow: UnitOfWork, *, open_only: bool) -> list[tuple[Incident, int, int]]:
    rows, _ = list_incidents(uow, open_only=open_only, limit=200, offset=0)
    return list(rows)


def incident_page(uow: UnitOfWork, incident_id: str, *, me: str, now: datetime) -> IncidentPage:
    found, _ = list_incidents(uow, open_only=False, limit=1, offset=0, incident_id=incident_id)
    if not found:
        raise NotFound(f"no incident {incident_id}")
    incident, open_count, every = found[0]
    cases = uow.session.scalars(
        select(Case)
        .where(
            Case.tenant_id == uow.tenant_id,
            Case.incident_id == incident.id,
            Case.status.not_in([str(s) for s in CLOSED_STATUSES]),
        )
        .order_by(Case.opened_at, Case.id)
        .limit(MAX_ROWS)
    ).all()
    currency = ""
    if cases:
        currency = (
            uow.session.scalar(
                select(Order.currency).where(
                    Order.tenant_id == uow.tenant_id, Order.id == cases[0].order_id
                )
            )
            or ""
        )
    return IncidentPage(
        incident=incident,
        open_cases=open_count,
        case_count=every,
        rows=rows_of(uow, cases, QueueFilter(), me=me, now=now),
        currency=currency,
    )


def bulk_kinds() -> list[Choice]:
    """The kinds whose form fits every case alike."""
    return [k for k in proposable_kinds() if _fits_all(k.value)]


def bulk_form(kind: str, currency: str) -> ActionForm | None:
    """``kind``'s form for the whole incident: nothing prefilled from one order."""
    if not _fits_all(kind):
        return None
    form = form_for(kind, OrderFacts(currency=currency))
    if form is None:
        return None
    fields = tuple(
        replace(f, value="", maximum=None, hint=MONEY_HINT) if f.widget is Widget.MONEY else f
        for f in form.fields
    )
    return replace(form, fields=fields)


def _fits_all(kind: str) -> bool:
    form = form_for(kind, OrderFacts(currency=""))
    if form is None:
        return False
    return not any(f.param in ONE_ORDERS_OWN and f.required for f in form.fields) and all(
        f.widget is not Widget.LINES for f in form.fields
    )
