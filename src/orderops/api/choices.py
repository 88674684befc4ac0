"""Customer choice offers on a case: ``POST`` makes one (and its link), ``GET`` lists them.

Offering is case work (``cases:work``: people, never a service key): it sends the customer
a link that proposes money-moving actions in their name. The options and amounts come from
the tenant's policy and the order (``workflow/choices.py``), never from the request, which
has no body. The link is in this answer; listings show offers without it (the console's
offer page signs it again for case workers while the offer is open). The customer's page
itself is ``/choice/{token}`` (``console/choice_page.py``).
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


class OfferMadeRead(OfferRead):
    url: str
    """The link to send the customer."""


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
    return OfferMadeRead.model_validate({**_read(made.offer), "url": made.url})


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
