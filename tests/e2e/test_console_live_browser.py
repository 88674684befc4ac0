"""Live updates in a real headless Chromium: a queue page left open shows a case the worker
opens meanwhile, without a reload, by server-sent events (not by polling); while the
reviewer has boxes ticked the list waits, and catches up once they are unticked.

Skips locally without chromium or playwright, fails in CI (``.ci/install-browser``).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from builders.access import late_case
from builders.browser import launched_chromium
from builders.console import PASSWORD, ConsolePerson, console_person
from builders.live_server import served
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant

SHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
ARRIVES_MS = 6000
"""How long a new row may take to show: the check interval (0.3 s) plus a page fetch, with
slack for a loaded machine."""


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[tuple[App, FixedClock]]:
    clock = FixedClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    settings = Settings(
        database_url=f"sqlite:///{tmp_path / 'live.db'}",
        data_dir=tmp_path,
        demo_mode=True,
        console_live_check_seconds=0.3,
    )
    app = bootstrap(settings, clock=clock)
    ensure_tenant(app.sessions, tenant_id="acme", name="Acme", clock=clock)
    yield app, clock
    app.close()


def _sign_in(page: Any, base: str, person: ConsolePerson) -> None:
    page.goto(f"{base}/console/login")
    page.fill("#tenant", person.tenant)
    page.fill("#email", person.email)
    page.fill("#password", PASSWORD)
    page.press("#password", "Enter")
    page.wait_for_url(f"{base}/console/queues")


def _queue_of(app: App, case_id: str) -> tuple[str, str]:
    """The case's queue, and a selector for its row's link (rows name the order as the
    store does, so every late case of the builder reads #1001)."""
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        assert case.queue is not None
        return case.queue, f'a[href="/console/cases/{case_id}"]'


def test_a_case_opened_meanwhile_appears_in_the_open_queue_without_reload(
    desk: tuple[App, FixedClock],
) -> None:
    app, clock = desk
    reviewer = console_person(app, clock, role=Role.AGENT)
    name, first_link = _queue_of(app, late_case(app, clock))
    with served(app) as base, launched_chromium() as chromium:
        page = chromium.new_page()
        asked: list[str] = []
        page.on("request", lambda request: asked.append(request.url))
        _sign_in(page, base, reviewer)
        page.goto(f"{base}/console/queues/{name}")
        page.wait_for_selector(first_link)
        page.evaluate("window.sameDocument = true")  # gone if the page reloads

        queue, second_link = _queue_of(app, late_case(app, clock))  # the worker opens a case
        assert queue == name
        page.wait_for_selector(f"#live >> {second_link}", timeout=ARRIVES_MS)

        assert page.evaluate("window.sameDocument") is True
        SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SHOTS / "live-queue-new-row.png"), full_page=True)

        # ticked boxes hold the list still; unticking lets it catch up
        tick = f"tr:has({first_link}) input[name=case]"
        page.check(tick)
        _, third_link = _queue_of(app, late_case(app, clock))
        page.wait_for_timeout(2000)
        assert page.locator(f"#live >> {third_link}").count() == 0
        assert page.is_checked(tick)
        page.uncheck(tick)
        page.wait_for_selector(f"#live >> {third_link}", timeout=ARRIVES_MS)
        assert page.evaluate("window.sameDocument") is True
        page.close()

    assert any(f"/console/live?queue={name}" in url for url in asked)
    assert not any("/console/live/queues/" in url for url in asked), "it polled"


def test_a_page_refused_a_stream_falls_back_to_polling(desk: tuple[App, FixedClock]) -> None:
    app, clock = desk
    app.settings = app.settings.model_copy(update={"console_live_streams_per_session": 1})
    reviewer = console_person(app, clock, role=Role.AGENT)
    name, first_link = _queue_of(app, late_case(app, clock))
    with served(app) as base, launched_chromium() as chromium:
        context = chromium.new_context()
        streaming = context.new_page()
        _sign_in(streaming, base, reviewer)
        streaming.goto(f"{base}/console/queues/{name}")
        streaming.wait_for_selector(first_link)
        polling = context.new_page()  # the same session: its stream is over the cap (429)
        polled: list[str] = []
        polling.on("request", lambda request: polled.append(request.url))
        polling.goto(f"{base}/console/queues/{name}")
        polling.wait_for_selector(first_link)
        polling.wait_for_function(
            "() => performance.getEntriesByType('resource')"
            ".some(e => e.name.includes('/console/live/queues/'))",
            timeout=ARRIVES_MS,
        )

        _, second_link = _queue_of(app, late_case(app, clock))
        for page in (streaming, polling):
            page.wait_for_selector(f"#live >> {second_link}", timeout=ARRIVES_MS)
        context.close()

    assert any(f"/console/live?queue={name}" in url for url in polled)  # asked, refused
    assert any("/console/live/queues/" in url for url in polled)  # then polled
