"""The console's "Offer the customer a choice" button: the same offer as
``POST /v1/cases/{case_id}/choice-offers`` (which drafts, and by the tenant's rule sends,
the message carrying the link); then the case's offers page: what each offer and its
message became, the open one's link (signed again from the offer on each view, never
stored), and a button to withdraw it."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.closed_cases import refuse_closed
from orderops.console.web import PREFIX, ConsoleRoute, Signed, app_of, form_of, redirect, render
from orderops.domain.choice_links import ChoiceLinkKeys
from orderops.domain.roles import Permission
from orderops.recommend.settings import RecommendSettings
from orderops.workflow.choices import OffersPage, offer_as, offers_page, withdraw_offer

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)


@router.post("/cases/{case_id}/choice-offer")
async def offer(request: Request, viewer: Signed, case_id: str) -> Response:
    viewer.need(Permission.CASES_WORK)
    await form_of(request, viewer)
    app = app_of(request)
    await run_in_threadpool(
        refuse_closed, app.sessions, viewer.principal, case_id, doing="offer the customer a choice"
    )
    made = await run_in_threadpool(offer_as, app_of(request), viewer.principal, case_id)
    said = f" The message with the link is {made.message.status}." if made.message else ""
    return redirect(
        f"{PREFIX}/cases/{case_id}/choice-offer",
        message=f"Offered {', '.join(str(c.option) for c in made.offer.options)}.{said}",
    )


@router.post("/cases/{case_id}/choice-offer/withdraw")
async def withdraw(request: Request, viewer: Signed, case_id: str) -> Response:
    """Withdraw the open offer: its link stops working, its message is called off if it
    has not gone yet."""
    viewer.need(Permission.CASES_WORK)
    await form_of(request, viewer)
    app = app_of(request)
    withdrawn = await run_in_threadpool(
        lambda: withdraw_offer(
            app.sessions,
            tenant_id=viewer.tenant_id,
            case_id=case_id,
            principal=viewer.principal,
            clock=app.clock,
        )
    )
    return redirect(
        f"{PREFIX}/cases/{case_id}/choice-offer",
        message="Offer withdrawn." if withdrawn else "No open offer to withdraw.",
    )


@router.get("/cases/{case_id}/choice-offer")
async def show(request: Request, viewer: Signed, case_id: str) -> Response:
    """The case's offers and the open one's link: for case workers only (the link acts for
    the customer)."""
    viewer.need(Permission.CASES_WORK)
    app = app_of(request)

    def read() -> OffersPage:
        return offers_page(
            app.sessions,
            tenant_id=viewer.tenant_id,
            case_id=case_id,
            keys=ChoiceLinkKeys(app.settings.secret_key),
            base_url=RecommendSettings().console_base_url,
            scope=viewer.scope,
        )

    page = await run_in_threadpool(read)
    return render(
        request, "choice_offered.html", case_id=case_id, offers=page.offers, made=page.open
    )
