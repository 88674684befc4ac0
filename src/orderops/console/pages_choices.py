"""The console's "Offer the customer a choice" button: the same offer as
``POST /v1/cases/{case_id}/choice-offers``; then the case's offers page: what each became,
and the open one's link to send (signed again from the offer on each view, never stored)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.web import PREFIX, ConsoleRoute, Signed, app_of, form_of, redirect, render
from orderops.domain.choice_links import ChoiceLinkKeys
from orderops.domain.roles import Permission
from orderops.recommend.settings import RecommendSettings
from orderops.workflow.choices import (
    OfferMade,
    OfferView,
    list_offers,
    offer_as,
    open_offer_link,
)

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@router.post("/cases/{case_id}/choice-offer")
async def offer(request: Request, viewer: Signed, case_id: str) -> Response:
    viewer.need(Permission.CASES_WORK)
    await form_of(request, viewer)
    made = await run_in_threadpool(offer_as, app_of(request), viewer.principal, case_id)
    return redirect(
        f"{PREFIX}/cases/{case_id}/choice-offer",
        message=f"Offered {', '.join(str(c.option) for c in made.offer.options)}.",
    )


@router.get("/cases/{case_id}/choice-offer")
async def show(request: Request, viewer: Signed, case_id: str) -> Response:
    """The case's offers and the open one's link: for case workers only (the link acts for
    the customer)."""
    viewer.need(Permission.CASES_WORK)
    app = app_of(request)

    def read() -> tuple[list[OfferView], OfferMade | None]:
        offers = list_offers(
            app.sessions, tenant_id=viewer.tenant_id, case_id=case_id, scope=viewer.scope
        )
        made = open_offer_link(
            app.sessions,
            tenant_id=viewer.tenant_id,
            case_id=case_id,
            keys=ChoiceLinkKeys(app.settings.secret_key),
            base_url=RecommendSettings().console_base_url,
            scope=viewer.scope,
        )
        return offers, made

    offers, made = await run_in_threadpool(read)
    return render(request, "choice_offered.html", case_id=case_id, offers=offers, made=made)
