"""Live updates for the console by server-sent events: ``GET /console/live?queue=..`` or
``?case=..`` (or both).

The stream carries no page content, only a change marker (a short hash) whenever what the
queue or the case page shows changes; the page then fetches itself again, through the
same route, session and scope as any other read (console/static/console.js). So a stream
can never show more than a reload would.

Why it is shaped like this:

- **A marker, not a query.** Each tick reads one small aggregate over the viewer's scoped,
  indexed rows (``console/live_marks.py``), in the threadpool (one call per tick, not a
  thread per stream): the event loop holds many streams while waiting costs nothing.
  Polling the database every second or two was chosen over PostgreSQL LISTEN/NOTIFY:
  ``workflow/inbox_wakeups.py`` only says "the inbox has rows", not "a case changed", and
  changes made by other processes, the API or the sweeps would all need a NOTIFY of their
  own; SQLite has none.
- **Streams end.** After ``console_live_seconds`` the server closes the stream and the
  browser reconnects (after the ``retry:`` it was told), passing the session and scope
  checks again; it ends sooner when the client goes away. A session holds at most
  ``console_live_streams_per_session`` streams in a process; beyond it the answer is 429,
  and the page falls back to polling.
- **Heartbeats** (an SSE comment) keep proxies from closing a quiet stream.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response, StreamingResponse

from orderops.bootstrap import App
from orderops.console.live_marks import marker_of
from orderops.console.web import PREFIX, ConsoleRoute, Signed, Viewer, app_of, redirect
from orderops.domain.errors import OrderOpsError
from orderops.domain.roles import Permission
from orderops.storage.uow import UnitOfWork

router = APIRouter(prefix=PREFIX, route_class=ConsoleRoute, include_in_schema=False)

HEARTBEAT_SECONDS = 15.0
LAPSE_GRACE_SECONDS = 30.0
"""How long past its lifetime a stream's place is held if the stream never gave it back."""
RETRY_MS = 3000
"""How long the browser waits before reconnecting after the stream ends (its lifetime)."""
GONE = "gone"
"""The marker sent when the case left the viewer's sight (deleted, moved out of scope)."""


@dataclass(frozen=True, kw_only=True)
class Timings:
    lifetime: float
    check: float
    heartbeat: float


class OpenStreams:
    """Streams open per console session in this process, taken and given back.

    A place also lapses by itself a little after the stream's lifetime: a stream whose
    generator never ran (the client left before the first byte) never gives its place
    back, and must not hold it for the life of the process."""

    def __init__(self) -> None:
        self._open: dict[str, dict[int, float]] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)

    def take(self, session_id: str, *, cap: int, lifetime: float) -> int | None:
        """A ticket for a new stream, or None when the session holds ``cap`` already."""
        now = time.monotonic()
        with self._lock:
            held = {
                ticket: until
                for ticket, until in self._open.get(session_id, {}).items()
                if until > now
            }
            if len(held) >= cap:
                self._open[session_id] = held
                return None
            ticket = next(self._ids)
            held[ticket] = now + lifetime + LAPSE_GRACE_SECONDS
            self._open[session_id] = held
            return ticket

    def give_back(self, session_id: str, ticket: int) -> None:
        with self._lock:
            held = self._open.get(session_id, {})
            held.pop(ticket, None)
            if not held:
                self._open.pop(session_id, None)

    def held(self, session_id: str) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for until in self._open.get(session_id, {}).values() if until > now)


def open_streams(request: Request) -> OpenStreams:
    """This FastAPI app's counter (made on first use)."""
    state = request.app.state
    found: OpenStreams | None = getattr(state, "console_live_streams", None)
    if found is None:
        found = OpenStreams()
        state.console_live_streams = found
    return found


@router.get("/live")
async def live(request: Request, viewer: Signed, queue: str = "", case: str = "") -> Response:
    viewer.need(Permission.CASES_READ)
    if not queue and not case:  # nothing to follow: the queues are where a reviewer starts
        return redirect(f"{PREFIX}/queues")
    app = app_of(request)
    read = _reader(app, viewer, queue=queue, case=case)
    first = await run_in_threadpool(read)  # a case out of sight answers 404 here, not mid-stream
    streams = open_streams(request)
    cap = app.settings.console_live_streams_per_session
    ticket = streams.take(viewer.session.id, cap=cap, lifetime=app.settings.console_live_seconds)
    if ticket is None:
        return Response(  # the page polls instead; the browser does not retry a 429 stream
            f"this session already follows {cap} live pages",
            status_code=429,
            media_type="text/plain",
            headers={"Retry-After": str(int(app.settings.console_live_seconds))},
        )
    timings = Timings(
        lifetime=app.settings.console_live_seconds,
        check=app.settings.console_live_check_seconds,
        heartbeat=HEARTBEAT_SECONDS,
    )
    return StreamingResponse(
        _events(
            request, read, first, timings, lambda: streams.give_back(viewer.session.id, ticket)
        ),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


def _reader(app: App, viewer: Viewer, *, queue: str, case: str) -> Callable[[], str]:
    def read() -> str:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            return marker_of(uow, queue=queue or None, case_id=case or None)

    return read


async def _events(
    request: Request,
    read: Callable[[], str],
    first: str,
    timings: Timings,
    release: Callable[[], None],
) -> AsyncIterator[str]:
    """``retry:`` and the current marker, then a marker whenever it changes, a heartbeat
    when quiet, until the client leaves or the lifetime is spent."""
    try:
        yield f"retry: {RETRY_MS}\n\n"
        yield _event(first)
        last, started = first, time.monotonic()
        quiet_since = started
        while True:
            left = timings.lifetime - (time.monotonic() - started)
            if left <= 0 or await request.is_disconnected():
                return
            await asyncio.sleep(min(timings.check, left))
            try:
                marker = await run_in_threadpool(read)
            except OrderOpsError:  # the case left the viewer's sight: say so, and stop
                yield _event(GONE)
                return
            if marker != last:
                last, quiet_since = marker, time.monotonic()
                yield _event(marker)
            elif time.monotonic() - quiet_since >= timings.heartbeat:
                quiet_since = time.monotonic()
                yield ": still here\n\n"
    finally:
        release()


def _event(marker: str) -> str:
    return f"event: change\ndata: {marker}\n\n"
