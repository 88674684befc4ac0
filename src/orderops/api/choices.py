"""Customer choice offers on a case: ``POST`` makes one (its link, and the customer message
that carries it), ``GET`` lists them, ``POST .../withdraw`` withdraws the open one.

Offering is case work (``cases:work``: people, never a service key): it sends the customer
a link that proposes money-moving actions in their name. The options and amounts come from
the tenant's policy and the order (``workflow/choices.py``), never from the request, which
has no body. The link is in this answer; listings show offers without it (the console's
offer page signs it again for case workers while the offer is open). The customer's page
itself is ``/choice/{token}`` (``console/choice_page.py``). The message is a customer
message like any other (``/v1/cases/{case_id}/communications``): sent at once when the
tenant's rule auto-approves its topic and one voice allows, else waiting for a person;
each offer names it and its status.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.params import Id
from orderops.api.problems import problem_responses
from orderops.api.work_common import Reader, Worker
from orderops.workflow import choices
from orderops.workflow.choices import OfferView

router = APIRouter(prefix="/v1", tags=["choices"], route_class=SafeJsonRoute)


class ChoiceRead(BaseModel):
    option: str
    kind: str
    params: dict[str, Any]
    amount_minor: int


class OfferRead(BaseModel):
    id: str
    case_id: str
    order_ref: str
    exception_type: str
    status: str
    options: list[ChoiceRead]
    language: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    opened_at: datetime | None
    decided_at: datetime | None
    chosen_option: str | None
    action_id: str | None
    communication_id: str | None = None
    """The customer message carrying the link."""
    message_status: str | None = None


class OfferMadeRead(OfferRead):
    url: str
    """The link (also in the message to the customer)."""
    message_note: str | None = None
    """What became of the message: sent by the rule, left to a person and why, or not
    drafted (the fact checker's findings)."""


class WithdrawnRead(BaseModel):
    withdrawn: list[str]
    """The offers withdrawn (empty when none was open)."""


def _read(offer: OfferView) -> dict[str, Any]:
    return {
        **{k: v for k, v in offer.__dict__.items() if k != "options"},
        "options": [o.as_json() for o in offer.options],
    }


@router.post(
    "/cases/{case_id}/choice-offers",
    status_code=201,
    response_model=OfferMadeRead,
    summary="Offer the customer choices through a signed, single-use link",
    responses=problem_responses(404, 409, 422),
)
async def offer(request: Request, principal: Worker, case_id: Id) -> OfferMadeRead:
    app = app_of(request)
    made = await run_in_threadpool(choices.offer_as, app, principal, case_id)
    note = made.message.reason if made.message else None
    return OfferMadeRead.model_validate(
        {**_read(made.offer), "url": made.url, "message_note": note}
    )


@router.post(
    "/cases/{case_id}/choice-offers/withdraw",
    response_model=WithdrawnRead,
    summary="Withdraw the open offer: its link stops working, its unsent message is called off",
    responses=problem_responses(404),
)
async def withdraw(request: Request, principal: Worker, case_id: Id) -> WithdrawnRead:
    app = app_of(request)
    withdrawn = await run_in_threadpool(
        lambda: choices.withdraw_offer(
            app.sessions,
            tenant_id=principal.tenant_id,
            case_id=case_id,
            principal=principal,
            clock=app.clock,
        )
    )
    return WithdrawnRead(withdrawn=withdrawn)


@router.get(
    "/cases/{case_id}/choice-offers",
    response_model=list[OfferRead],
    summary="The choices offered on a case, oldest first (without their links)",
    responses=problem_responses(404),
)
async def list_offers(request: Request, principal: Reader, case_id: Id) -> list[OfferRead]:
    app = app_of(request)
    rows = await run_in_threadpool(
        lambda: choices.list_offers(
            app.sessions, tenant_id=principal.tenant_id, case_id=case_id, scope=principal.scope
        )
    )
    return [OfferRead.model_validate(_read(r)) for r in rows]
