"""The console's live-update stream (server-sent events), over a real socket.

A queue page follows ``/console/live?queue=..``, a case page ``?case=..``: each stream says
``retry:``, sends the current change marker, then a new marker when what the page shows
changes, within a check interval; nothing for another tenant's or an out-of-scope change;
it needs a session, ends at its lifetime, and a session holds only so many at once.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest

from builders.access import late_case
from builders.console import ConsolePerson, console_person, sign_in_with
from builders.live_server import served
from builders.scopes import placed_case
from orderops.bootstrap import App
from orderops.cases import assignment
from orderops.console import live
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.domain.scopes import ScopeValues, parse
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.access_scopes import set_user_scope

CHECK = 0.2
"""Seconds between marker reads in these tests (production: 2)."""
WITHIN = 4.0
"""How long a change may take to arrive: many check intervals, slack for a loaded machine."""
QUIET = 1.5
"""How long the stream must stay silent after a change it must not report."""


@pytest.fixture
def live_app(app: App) -> App:
    app.settings = app.settings.model_copy(
        update={"console_live_check_seconds": CHECK, "console_live_seconds": 30.0}
    )
    return app


class Stream:
    """One open event stream, read line by line in a thread into a queue."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.ended = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        try:
            for line in self.response.iter_lines():
                self.lines.put(line)
        except httpx.HTTPError:
            pass  # closed by the test
        finally:
            self.ended.set()
            self.lines.put(None)

    def changes(self, seconds: float, *, stop_at_first: bool = True) -> list[str]:
        """The markers of ``change`` events arriving within ``seconds``."""
        found: list[str] = []
        deadline = time.monotonic() + seconds
        event = ""
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith("event:"):
                event = line.partition(":")[2].strip()
            elif line.startswith("data:") and event == "change":
                found.append(line.partition(":")[2].strip())
                if stop_at_first:
                    break
        return found

    def comments(self, seconds: float) -> list[str]:
        """The comment lines (heartbeats) arriving within ``seconds``, events ignored."""
        found: list[str] = []
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            if line.startswith(":"):
                found.append(line)
        return found

    def opening(self) -> tuple[str, str]:
        """The ``retry:`` line and the first marker, which every stream starts with."""
        retry = self.lines.get(timeout=WITHIN)
        assert retry is not None
        assert retry.startswith("retry:"), retry
        first = self.changes(WITHIN)
        assert len(first) == 1, "the stream sent no first marker"
        return retry, first[0]


@contextmanager
def sign_in(base: str, person: ConsolePerson) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=base, follow_redirects=False, timeout=10) as client:
        sign_in_with(client, person)
        yield client


@contextmanager
def following(client: httpx.Client, query: str) -> Iterator[Stream]:
    with client.stream("GET", f"/console/live?{query}") as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = Stream(response)
        stream.opening()
        try:
            yield stream
        finally:
            response.close()


def queue_of(app: App, tenant: str, case_id: str) -> str:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        assert case.queue is not None
        return case.queue


def claim(app: App, clock: FixedClock, tenant: str, case_id: str, member: str) -> None:
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        case = uow.session.get(Case, case_id)
        assert case is not None
        assignment.claim(uow, case, member=member, actor=f"user:{member}", now=clock.now())
        uow.commit()


def test_a_case_opened_or_changed_in_the_queue_is_announced_within_seconds(
    live_app: App, clock: FixedClock
) -> None:
    reviewer = console_person(live_app, clock, role=Role.AGENT)
    first = late_case(live_app, clock)
    name = queue_of(live_app, "acme", first)
    with (
        served(live_app) as base,
        sign_in(base, reviewer) as client,
        following(client, f"queue={name}") as stream,
    ):
        started = time.monotonic()
        opened = late_case(live_app, clock)  # the worker opens another case meanwhile
        assert queue_of(live_app, "acme", opened) == name
        assert len(stream.changes(WITHIN)) == 1
        assert time.monotonic() - started < WITHIN

        claim(live_app, clock, "acme", first, "someone else")
        assert len(stream.changes(WITHIN)) == 1


def test_another_tenants_change_is_not_announced(live_app: App, clock: FixedClock) -> None:
    reviewer = console_person(live_app, clock, role=Role.AGENT)
    mine = late_case(live_app, clock)
    name = queue_of(live_app, "acme", mine)
    with (
        served(live_app) as base,
        sign_in(base, reviewer) as client,
        following(client, f"queue={name}") as stream,
    ):
        theirs = late_case(live_app, clock, tenant="globex")
        assert queue_of(live_app, "globex", theirs) == name  # the same queue's name
        claim(live_app, clock, "globex", theirs, "a globex agent")
        assert stream.changes(QUIET) == []

        claim(live_app, clock, "acme", mine, "an acme agent")  # the stream is alive
        assert len(stream.changes(WITHIN)) == 1


def test_a_change_out_of_the_viewers_scope_is_not_announced(
    live_app: App, clock: FixedClock
) -> None:
    reviewer = console_person(live_app, clock, role=Role.AGENT)
    set_user_scope(
        live_app.sessions,
        tenant_id="acme",
        user_id=reviewer.user_id,
        scope=parse(["region=DE"]),
        actor="test",
        clock=clock,
    )
    in_scope = placed_case(live_app, clock, ScopeValues(region="DE", brand="acme"))
    name = queue_of(live_app, "acme", in_scope.case_id)
    with (
        served(live_app) as base,
        sign_in(base, reviewer) as client,
        following(client, f"queue={name}") as stream,
    ):
        elsewhere = placed_case(live_app, clock, ScopeValues(region="FR", brand="acme"))
        assert queue_of(live_app, "acme", elsewhere.case_id) == name
        claim(live_app, clock, "acme", elsewhere.case_id, "a French agent")
        assert stream.changes(QUIET) == []

        claim(live_app, clock, "acme", in_scope.case_id, "a German agent")
        assert len(stream.changes(WITHIN)) == 1
        assert client.get(f"/console/live?case={elsewhere.case_id}").status_code == 404


def test_a_case_page_hears_of_its_case_and_not_of_another_tenants(
    live_app: App, clock: FixedClock
) -> None:
    reviewer = console_person(live_app, clock, role=Role.AGENT)
    mine = late_case(live_app, clock)
    theirs = late_case(live_app, clock, tenant="globex")
    with served(live_app) as base, sign_in(base, reviewer) as client:
        assert client.get(f"/console/live?case={theirs}").status_code == 404
        with following(client, f"case={mine}") as stream:
            claim(live_app, clock, "acme", mine, "someone else")
            assert len(stream.changes(WITHIN)) == 1


def test_without_a_session_there_is_no_stream(live_app: App, clock: FixedClock) -> None:
    case_id = late_case(live_app, clock)
    name = queue_of(live_app, "acme", case_id)
    with served(live_app) as base:
        with httpx.Client(base_url=base, timeout=10) as anonymous:
            answer = anonymous.get(f"/console/live?queue={name}")
        with httpx.Client(
            base_url=base, timeout=10, cookies={"oo_session": "not-a-session"}
        ) as forger:
            forged = forger.get(f"/console/live?queue={name}")

    assert answer.status_code == 303
    assert answer.headers["location"].startswith("/console/login?next=/console/live")
    assert forged.status_code == 303
    assert "text/event-stream" not in answer.headers.get("content-type", "")


def test_the_stream_ends_at_its_lifetime_and_a_session_holds_only_so_many(
    live_app: App, clock: FixedClock
) -> None:
    live_app.settings = live_app.settings.model_copy(
        update={"console_live_seconds": 1.0, "console_live_streams_per_session": 1}
    )
    reviewer = console_person(live_app, clock, role=Role.AGENT)
    name = queue_of(live_app, "acme", late_case(live_app, clock))
    with served(live_app) as base, sign_in(base, reviewer) as client:
        started = time.monotonic()
        with following(client, f"queue={name}") as stream:
            second = client.get(f"/console/live?queue={name}")
            assert second.status_code == 429
            assert stream.ended.wait(WITHIN)
        lasted = time.monotonic() - started
        again = client.get(f"/console/live?queue={name}")  # the ended stream gave its place back

    assert lasted >= 1.0  # not cut short; the wait above already bounds how late it ends
    assert again.status_code == 200
    assert again.text.startswith("retry: ")
    assert "event: change" in again.text


def test_a_quiet_stream_sends_heartbeats(
    live_app: App, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "HEARTBEAT_SECONDS", 0.5)
    reviewer = console_person(live_app, clock, role=Role.AGENT)
    name = queue_of(live_app, "acme", late_case(live_app, clock))
    with (
        served(live_app) as base,
        sign_in(base, reviewer) as client,
        following(client, f"queue={name}") as stream,
    ):
        beats = stream.comments(2.0)

    assert 2 <= len(beats) <= 5
