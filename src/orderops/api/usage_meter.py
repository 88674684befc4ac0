"""API calls counted per tenant and route group in the process, added every few seconds;
and the ``OrderOps-Quota-Warning`` header on the answers of a tenant past a soft limit.

Why not count each call in its request: that makes every read a write. Measured (1,000
``GET /v1/cases`` with a service key each way, interleaved, TestClient, on the shared
2-core machine; docs/ARCHITECTURE.md, "Usage metering"): a committed upsert of the
tenant's counter per call took the median call from 6.2 to 6.7 ms on SQLite and from 10.7
to 15.7 ms on PostgreSQL (a commit, so a WAL flush, per read), and on SQLite it would make
every read queue for the database's one write lock. Counting in memory costs a dictionary
increment; the counts are added to ``usage_counters`` by a background thread every
``ORDEROPS_USAGE_API_FLUSH_SECONDS`` (5 s), and at shutdown. The price: a process
that dies without shutting down loses at most the last interval's API call counts (an
undercount of seconds, never a double count). Everything else a tenant pays for is
counted in the transaction that stores it (``metering/usage.py``).

The same pass reads each active tenant's quotas and records a soft-limit warning (once
per month), and keeps the warning the header carries; so a tenant's answers carry it from
at most one interval after its use crossed the limit.

The flushing thread ends with its app (``App.on_close``: a last flush, then the thread
stops) and when its meter is collected. While the database cannot be written it keeps the
counts and tries again each interval, but says so once per outage (and once when it works
again), not every interval; counts still unwritten when the app closes are logged as lost,
once, and dropped.

The auth dependency notes the caller's tenant on the request's scope state
(``note_caller``); this middleware reads it as the answer starts, so refusals (403, 429)
count as calls too. Requests without a key (webhooks, the console, /metrics) are not
API calls of a tenant and are not counted here (webhooks count as events accepted).
"""

from __future__ import annotations

import logging
import threading
import weakref
from typing import Any

from fastapi.concurrency import run_in_threadpool
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from orderops.bootstrap import App
from orderops.domain.clock import Clock
from orderops.domain.usage import day_of, warning_header
from orderops.metering.usage import add_api_calls, quota_statuses, warn_if_due
from orderops.storage.uow import UnitOfWork

log = logging.getLogger(__name__)

HEADER = "OrderOps-Quota-Warning"
CALLER_STATE_KEY = "orderops_usage_tenant"
"""Where a request's scope state holds the tenant whose key made it (set by ``note_caller``);
the metrics middleware reads it for its log line."""
GROUP_LENGTH = 40

Calls = dict[tuple[str, str], int]
"""(day, route group) -> calls."""


def note_caller(request: Request, tenant_id: str) -> None:
    """Called by the auth dependency once it knows whose key made the request."""
    setattr(request.state, CALLER_STATE_KEY, tenant_id)


def route_group(path: str) -> str:
    """``/v1/cases/c-1/actions`` -> ``cases``: the API area, a closed set of names."""
    parts = [p for p in path.split("/") if p]
    group = parts[1] if len(parts) > 1 and parts[0] == "v1" else (parts[0] if parts else "")
    return (group or "root")[:GROUP_LENGTH]


class ApiCallMeter:
    """This process's uncounted API calls, and the quota warning of each active tenant."""

    def __init__(self, sessions: sessionmaker[Session], clock: Clock, *, interval: float) -> None:
        self._sessions = sessions
        self._clock = clock
        self.interval = interval
        self._lock = threading.Lock()
        self._calls: dict[str, Calls] = {}
        self._warnings: dict[str, str] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._failing = False
        """The last write failed and said so: the next failures are quiet until one works."""

    def close_with(self, app: App) -> None:
        """Stop when ``app`` closes (without keeping this meter alive until then)."""
        meter_ref = weakref.ref(self)

        def stop() -> None:
            meter = meter_ref()
            if meter is not None:
                meter.close()

        app.on_close(stop)

    def record(self, tenant_id: str, group: str) -> None:
        key = (day_of(self._clock.now()), group)
        with self._lock:
            calls = self._calls.setdefault(tenant_id, {})
            calls[key] = calls.get(key, 0) + 1
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(
                    target=_flush_every,
                    args=(weakref.ref(self), self.interval, self._stop),
                    name="orderops-usage-flush",
                    daemon=True,
                )
                self._thread.start()

    @property
    def flushing(self) -> bool:
        """A flushing thread is running."""
        with self._lock:
            return self._thread is not None and self._thread.is_alive()

    def close(self, *, wait: float = 5.0) -> None:
        """End the flushing thread (waiting up to ``wait`` seconds for a flush under way)
        and add what is left once; what cannot be added then is logged as lost."""
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(wait)
        self.flush()
        with self._lock:
            lost, self._calls = self._calls, {}
            self._thread = None
        if lost:
            log.error(
                "usage: %d API call(s) of %s could not be counted before shutdown; lost",
                sum(sum(calls.values()) for calls in lost.values()),
                ", ".join(sorted(lost)),
            )

    def warning_for(self, tenant_id: str) -> str | None:
        with self._lock:
            return self._warnings.get(tenant_id)

    def pending(self) -> dict[str, Calls]:
        with self._lock:
            return {tenant: dict(calls) for tenant, calls in self._calls.items()}

    def flush(self) -> int:
        """Add the counted calls (a failed tenant's stay for the next flush) and refresh
        those tenants' quota warnings; the number of tenants written."""
        with self._lock:
            taken, self._calls = self._calls, {}
        written = 0
        for tenant_id, calls in taken.items():
            try:
                add_api_calls(self._sessions, tenant_id, calls)
                written += 1
            except SQLAlchemyError:
                self.note_failure(
                    f"API calls of {tenant_id} not counted yet; kept for the next flush"
                )
                self._put_back(tenant_id, calls)
                continue
            self._refresh_warning(tenant_id)
        if written and self._failing:
            self._failing = False
            log.warning("usage: API call counts are being written again")
        return written

    def note_failure(self, what: str) -> None:
        """Log a failed write with its cause the first time in a row, quietly after (called
        while handling the failure's exception)."""
        if self._failing:
            log.debug("usage: %s", what)
            return
        self._failing = True
        log.exception("usage: %s (said once, until a write works again)", what)

    def stop_if_idle(self) -> bool:
        """End the flushing thread when nothing waits; ``record`` starts another."""
        with self._lock:
            if self._calls:
                return False
            self._thread = None
            return True

    def _put_back(self, tenant_id: str, calls: Calls) -> None:
        with self._lock:
            mine = self._calls.setdefault(tenant_id, {})
            for key, n in calls.items():
                mine[key] = mine.get(key, 0) + n

    def _refresh_warning(self, tenant_id: str) -> None:
        now = self._clock.now()
        try:
            with UnitOfWork(self._sessions, tenant_id=tenant_id) as uow:
                statuses = quota_statuses(uow, now=now)
                warn_if_due(uow, statuses, now=now)
                uow.commit()
        except SQLAlchemyError:
            self.note_failure(f"the quotas of {tenant_id} could not be read")
            return
        header = warning_header(statuses)
        with self._lock:
            if header is None:
                self._warnings.pop(tenant_id, None)
            else:
                self._warnings[tenant_id] = header


def _flush_every(
    meter_ref: weakref.ref[ApiCallMeter], interval: float, stop: threading.Event
) -> None:
    """The flushing thread: holds the meter only while flushing, so an app that is gone
    (a test's) takes its thread with it; ``stop`` (set by ``close``) ends it at once."""
    while not stop.wait(interval):
        meter = meter_ref()
        if meter is None:
            return
        try:
            meter.flush()
        except Exception:  # noqa: BLE001 - the thread outlives a failure; note_failure logs it
            meter.note_failure("flushing API call counts failed")
        if meter.stop_if_idle():
            return
        del meter


class UsageMeter:
    """Counts each answered API call of a tenant and adds the quota warning header; at
    the server's shutdown, adds what it counted."""

    def __init__(self, app: ASGIApp, meter: ApiCallMeter) -> None:
        self.app = app
        self.meter = meter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, self._flushing_at_shutdown(receive), send)
            return
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state: dict[str, Any] = scope.setdefault("state", {})

        async def counted(message: Message) -> None:
            if message["type"] == "http.response.start":
                tenant = state.get(CALLER_STATE_KEY)
                if tenant:
                    self.meter.record(tenant, route_group(scope["path"]))
                    warning = self.meter.warning_for(tenant)
                    if warning:
                        MutableHeaders(scope=message)[HEADER] = warning
            await send(message)

        await self.app(scope, receive, counted)

    def _flushing_at_shutdown(self, receive: Receive) -> Receive:
        async def receiving() -> Message:
            message = await receive()
            if message["type"] == "lifespan.shutdown":
                await run_in_threadpool(self.meter.flush)
            return message

        return receiving
