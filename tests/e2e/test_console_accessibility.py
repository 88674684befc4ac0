"""Every console page, as an administrator and as a reviewer, in a real headless Chromium at a
phone's width (390 px): axe-core finds no serious or critical violation, and the document
never scrolls sideways (a wide table scrolls inside its own container instead). The
administrator's pages are judged by axe-core at a desk's width (1360 px) too.

One seeded desk serves the whole tour: a case with a customer, an order, a proposed and an
approved refund (so the outbox has a row), a drafted message and a recommendation; a link
suggestion; a dead letter; a customer's choice link. Each page is kept as a screenshot in
artifacts/screenshots/a11y-*.png. Uses the browser and the server of ``test_console_browser``.
"""

from __future__ import annotations

from typing import Any

from builders.access import late_case, person
from builders.browser import (
    browser,
    chart_label_problems,
    horizontal_overflow,
    serious_violations,
    served,
    shot,
    sign_in_with_keyboard,
)
from builders.choices import choice_case, make_offer, token_of
from builders.cockpit import known_customer_case
from builders.console import console_person
from builders.links import suggested_ticket
from orderops.bootstrap import App
from orderops.decide.actions import propose
from orderops.decide.approvals import approve
from orderops.decide.communications import draft
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.evidence.service import default_store
from orderops.recommend.service import recommend_case
from orderops.storage.repositories.intake import DeadLetterStatus
from orderops.storage.tables import DeadLetter
from orderops.storage.uow import UnitOfWork

__all__ = ["browser", "served"]

PHONE = {"width": 390, "height": 844}
DESK = {"width": 1360, "height": 900}


def _seed_desk(app: App, clock: FixedClock) -> dict[str, str]:
    """The state every page has something to show for; returns what the tour visits."""
    case_id, order_ref = known_customer_case(app, clock)
    maker = person(app, clock, tenant="acme", role=Role.APPROVER, name="mo-maker")
    checker = person(app, clock, tenant="acme", role=Role.APPROVER, name="cy-checker")
    evidence = default_store(app.settings)
    propose(  # left waiting, so the case shows an action still to decide
        app.sessions,
        tenant_id="acme",
        case_id=case_id,
        kind="refund",
        params={"amount_minor": 5000, "reason": "goodwill for the wait"},
        principal=maker.principal,
        clock=clock,
        evidence=evidence,
    )
    refund = propose(  # on another case: approved, so the outbox holds its writeback
        app.sessions,
        tenant_id="acme",
        case_id=late_case(app, clock),
        kind="refund",
        params={"amount_minor": 1800, "reason": "one mug arrived broken"},
        principal=maker.principal,
        clock=clock,
        evidence=evidence,
    )
    if refund.status == "awaiting_approval":  # a small refund may be approved by rule
        approve(
            app.sessions,
            tenant_id="acme",
            action_id=refund.id,
            principal=checker.principal,
            clock=clock,
            evidence=evidence,
            reason="the photo shows it",
        )
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        draft(
            uow,
            case,
            channel="email",
            body="Sorry, your mugs are late. We have refunded the broken one.",
            actor="user:test",
            now=clock.now(),
            recipient="ada@example.com",
            subject="Your order #1046",
        )
        recommend_case(uow, case_id, now=clock.now(), actor="user:test")
        uow.dead_letters.add(
            DeadLetter(
                source="test://shop",
                channel="webhook",
                received_at=clock.now(),
                reason_code="schema",
                reason="order.placed: a field the schema does not know",
                content_type="application/json",
                body='{"order": {"colour": "teal"}}',
                body_bytes=29,
                status=DeadLetterStatus.OPEN,
            )
        )
        uow.commit()
    world = suggested_ticket(app, clock)
    offered = make_offer(app, clock, maker, choice_case(app, clock))
    return {
        "case": case_id,
        "order": order_ref,
        "linked_order": world.order_a,
        "choice": token_of(offered.url),
    }


Page = tuple[str, str, list[str]]
"""A page of the tour: its name, its path, and text its HTML must hold (what was seeded)."""


def _reviewer_pages(seeded: dict[str, str]) -> list[Page]:
    case_link = f"/console/cases/{seeded['case']}"
    return [
        ("queues", "/console/queues", ["/console/queues/ops"]),
        ("queue", "/console/queues/ops", [case_link]),
        ("mine", "/console/mine", []),
        (
            "case",
            case_link,
            [
                "Ada Lovelace",
                "goodwill for the wait",
                "your mugs are late",
                'class="recommendation"',
            ],
        ),
        ("search", "/console/search?q=ada%40example.com", [case_link]),
        ("links", "/console/links", ['class="card suggestion"']),
        ("order-links", f"/console/orders/{seeded['linked_order']}/links", []),
        ("outbox", "/console/ops/outbox", ["refund"]),
        ("dashboards", "/console/dashboards?from=2026-11-01&to=2026-11-20", ["svg"]),
        ("account", "/console/account", []),
    ]


ADMIN_PAGES: list[Page] = [
    ("audit", "/console/audit", ["newest first: #"]),
    ("policy", "/console/admin/policy", []),
    ("users", "/console/admin/users", ["Rey Reviewer"]),
    ("connections", "/console/admin/connections", ["ada-shop.myshopify.com"]),
    ("usage", "/console/usage", []),
    ("backtests", "/console/backtests", []),
    ("shadow", "/console/shadow", []),
    ("dead-letters", "/console/ops/dead-letters", ["a field the schema does not know"]),
    ("sources", "/console/ops/sources", []),
]


def _judge(page: Any, name: str, problems: dict[str, list[str]]) -> None:
    """axe-core and the overflow check on the page as loaded at a phone's width; its
    screenshot kept."""
    found = serious_violations(page)
    overflow, culprits = horizontal_overflow(page)
    if overflow > 0:
        found.append(f"overflows {PHONE['width']} px by {overflow} px: {culprits}")
    found += chart_label_problems(page)  # readable without zooming, none on another
    if found:
        problems[name] = found
    shot(page, f"a11y-{name}")


def test_every_console_page_is_accessible_and_fits_a_phone(
    browser: Any, served: tuple[App, FixedClock, str]
) -> None:
    app, clock, base = served
    seeded = _seed_desk(app, clock)
    admin = console_person(app, clock, role=Role.ADMIN, name="Ada Admin")
    agent = console_person(app, clock, role=Role.AGENT, name="Rey Reviewer")
    problems: dict[str, list[str]] = {}
    missing: list[str] = []

    public = browser.new_context(viewport=PHONE).new_page()
    public.goto(f"{base}/console/login")
    _judge(public, "sign-in", problems)
    public.goto(f"{base}/choice/{seeded['choice']}")
    assert public.locator("main form").count() >= 1, "the choice page offers its options"
    _judge(public, "choice", problems)
    public.context.close()

    for who, tour in (
        (admin, _reviewer_pages(seeded) + ADMIN_PAGES),
        (agent, _reviewer_pages(seeded)),
    ):
        page = browser.new_context(viewport=PHONE).new_page()
        sign_in_with_keyboard(page, base, who)
        for name, path, shown in tour:
            response = page.goto(f"{base}{path}")
            assert response is not None, path
            assert response.status == 200, (who.role, path)
            html = page.content()
            missing += [f"{who.role} {path}: {text}" for text in shown if text not in html]
            _judge(page, f"{who.role}-{name}", problems)
            if who is admin:  # and on a desk's screen, where the layout differs
                page.set_viewport_size(DESK)
                page.evaluate("() => new Promise(done => requestAnimationFrame(() => done()))")
                wide = serious_violations(page)
                if wide:
                    problems[f"{who.role}-{name} at {DESK['width']} px"] = wide
                page.set_viewport_size(PHONE)
        page.context.close()

    assert missing == [], f"the tour missed what was seeded (so it judged empty pages): {missing}"
    assert problems == {}, "\n".join(
        f"{name}:\n  " + "\n  ".join(found) for name, found in problems.items()
    )
