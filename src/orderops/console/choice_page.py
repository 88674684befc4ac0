"""The customer's choice page: ``GET|POST /choice/{token}``, public, no sign-in.

The signed token is the only credential (``domain/choice_links.py``); it is checked before
anything else, so a forged one costs an HMAC and no statement. A verified link is then
held to its tenant's API rate limit, counted per offer as if it were a key (so one link
cannot spend more than a key may, and all a tenant's links share its limit), before the
offer is read. GET shows the order and the options and changes nothing but the offer's
first-opened time (mail scanners open links; they never choose); POST with one option
chooses. Each refusal is a page in the customer's language with a status that says why.

The page loads nothing but its own stylesheet: its CSP allows only that, and forms to
itself; it is never cached, never indexed, and sends no Referer (the token is in the URL).
Cross-site posts are refused as on every console form (``refuse_cross_site``); a CSRF
token would add nothing here, as posting needs the link itself.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse

from orderops.api.rate_limits import hold_async
from orderops.console.choice_texts import texts_for
from orderops.console.web import PREFIX, app_of, refuse_cross_site, templates
from orderops.domain.choice_links import ChoiceLink, ChoiceLinkKeys, ChoiceLinkRefused
from orderops.domain.choices import Choice, ChoiceOption
from orderops.domain.errors import Forbidden
from orderops.domain.rate_limits import RateScope
from orderops.evidence.service import default_store
from orderops.recommend.formatting import day, money
from orderops.workflow.choice_answers import choose, open_offer, verified
from orderops.workflow.choices import PUBLIC_PREFIX

router = APIRouter(include_in_schema=False)

MAX_FORM_BYTES = 2048
PAGE_POLICY = "; ".join(
    (
        "default-src 'none'",
        "style-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
PAGE_HEADERS = {
    "Content-Security-Policy": PAGE_POLICY,
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "X-Robots-Tag": "noindex, nofollow",
}
STATUS_OF_REFUSAL = {
    "forged": 404,
    "not_found": 404,
    "wrong_case": 404,
    "expired": 410,
    "withdrawn": 410,
    "used": 409,
    "not_possible": 409,
    "unknown_option": 400,
    "cross_site": 403,
}
TEXT_OF_REFUSAL = {"not_found": "forged", "wrong_case": "forged"}
"""An unknown offer or another case's is told as a forged link: the page says nothing
about which part of a link was wrong."""


@router.get(f"{PUBLIC_PREFIX}/{{token}}")
async def show(request: Request, token: str) -> HTMLResponse:
    app = app_of(request)
    try:
        link = await _admitted(request, token)
        page = await run_in_threadpool(open_offer, app.sessions, link=link, clock=app.clock)
    except ChoiceLinkRefused as exc:
        return refused(request, exc.reason, language=exc.language)
    t = texts_for(page.language)
    display = page.display
    promised = display.get("promised_by")
    return _html(
        request,
        200,
        mode="offer",
        language=page.language,
        t=t,
        heading=t["title"].format(order=display.get("order", "")),
        situation=t.get(str(display.get("exception_type")), ""),
        promised=t["promised"].format(date=day(date.fromisoformat(promised), page.language))
        if promised
        else None,
        display=display,
        options=[
            {"value": str(c.option), "label": _label(c, t, display, page.language)}
            for c in page.options
        ],
        action=f"{PUBLIC_PREFIX}/{token}",
        valid_until=t["valid_until"].format(
            date=day(page.expires_at.date(), page.language) + f" {page.expires_at:%H:%M} UTC"
        ),
    )


@router.post(f"{PUBLIC_PREFIX}/{{token}}")
async def pick(request: Request, token: str) -> HTMLResponse:
    app = app_of(request)
    try:
        refuse_cross_site(request)
    except Forbidden:
        return refused(request, "cross_site", language=None)
    try:
        link = await _admitted(request, token)
        raw = await request.body()
        fields = dict(parse_qsl(raw[:MAX_FORM_BYTES].decode("utf-8", "replace")))
        made = await run_in_threadpool(
            choose,
            app.sessions,
            link=link,
            option=fields.get("option", ""),
            clock=app.clock,
            evidence=default_store(app.settings),
        )
    except ChoiceLinkRefused as exc:
        return refused(request, exc.reason, language=exc.language)
    t = texts_for(made.language)
    approved = made.action_status == "approved"
    return _html(
        request,
        200,
        mode="done",
        language=made.language,
        heading=t["done_title"],
        message=t["done_approved" if approved else "done_waiting"],
    )


async def _admitted(request: Request, token: str) -> ChoiceLink:
    """The verified link, once its tenant's rate limit admits the request (429 if not)."""
    link = verified(ChoiceLinkKeys(app_of(request).settings.secret_key), token)
    await hold_async(
        request, tenant_id=link.tenant_id, scope=RateScope.API, key_id=f"choice:{link.offer_id}"
    )
    return link


def refused(request: Request, reason: str, *, language: str | None) -> HTMLResponse:
    t = texts_for(language)
    return _html(
        request,
        STATUS_OF_REFUSAL.get(reason, 400),
        mode="refused",
        language=language or "en",
        heading=t["refused_title"],
        message=t[TEXT_OF_REFUSAL.get(reason, reason)],
    )


def _label(choice: Choice, t: dict[str, str], display: dict[str, Any], language: str) -> str:
    amount = money(choice.amount_minor, str(display.get("currency", "")), language)
    if choice.option is ChoiceOption.SUBSTITUTE:
        return t["substitute"].format(
            to_sku=choice.params["to_sku"], from_sku=choice.params["from_sku"]
        )
    return t[str(choice.option)].format(amount=amount)


def _html(request: Request, status: int, **context: Any) -> HTMLResponse:
    html = templates().get_template("choice.html").render(prefix=PREFIX, **context)
    return HTMLResponse(html, status_code=status, headers=PAGE_HEADERS)
