"""The console's usage page: admins and finance see the tenant's counters, quotas and the
CSV an invoice is built from; other roles are refused, and no tenant sees another's."""

from __future__ import annotations

from datetime import timedelta

from builders.console import console_person, signed_in
from builders.events import order_placed
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.usage import Meter, Quota
from orderops.ingest.intake import accept_items
from orderops.metering.usage_report import set_quota


def _events(app: App, clock: FixedClock, tenant: str, *refs: str) -> None:
    accept_items(
        app.sessions,
        tenant_id=tenant,
        items=[order_placed(ref, at=clock.now() - timedelta(hours=1)) for ref in refs],
        channel="api",
        clock=clock,
    )


def test_an_admin_sees_the_counters_quotas_and_a_csv_link(app: App, clock: FixedClock) -> None:
    _events(app, clock, "acme", "o-1", "o-2", "o-3")
    _events(app, clock, "globex", *(f"g-{n}" for n in range(7)))
    set_quota(
        app.sessions,
        tenant_id="acme",
        quota=Quota(Meter.EVENTS, soft=2, hard=100),
        actor="test",
        clock=clock,
    )
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))

    page = client.get("/console/usage")

    assert page.status_code == 200
    html = page.text
    assert 'href="/console/usage" aria-current="page"' in html
    assert "<td>2026-11-20</td><td>live</td>" in html
    assert '<td class="mono">api</td><td class="num">3</td>' in html
    assert "<strong>warning</strong>" in html
    assert '/console/usage.csv?from=2026-11-01&amp;to=2026-11-20" download' in html
    assert '<td class="num">7</td>' not in html  # globex's count

    exported = client.get("/console/usage.csv?from=2026-11-01&to=2026-11-20")
    assert exported.headers["content-type"].startswith("text/csv")
    assert exported.text.splitlines() == [
        "tenant,environment,day,meter,dimension,quantity,unit",
        "acme,live,2026-11-20,events,api,3,event",
    ]


def test_the_page_is_for_admins_and_finance_only(app: App, clock: FixedClock) -> None:
    answers = {
        role: signed_in(app, console_person(app, clock, role=role)).get("/console/usage")
        for role in (Role.AGENT, Role.APPROVER, Role.FINANCE_APPROVER, Role.ADMIN)
    }

    assert {role: a.status_code for role, a in answers.items()} == {
        Role.AGENT: 403,
        Role.APPROVER: 403,
        Role.FINANCE_APPROVER: 200,
        Role.ADMIN: 200,
    }
    assert 'href="/console/usage"' not in answers[Role.AGENT].text  # no link to a refusal


def test_bad_dates_are_explained_on_the_page(app: App, clock: FixedClock) -> None:
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))

    page = client.get("/console/usage?from=yesterday")

    assert page.status_code == 422
    assert "dates must be YYYY-MM-DD, not &#39;yesterday&#39;" in page.text
