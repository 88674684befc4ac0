"""One place that wires the application, for production, the demo and the tests alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from orderops.audit.keys import audit_key_from, bind_audit_key
from orderops.config import Settings
from orderops.domain.clock import Clock, SystemClock
from orderops.ingest.intake import IntakeLimits
from orderops.storage.engine import make_engine, make_session_factory
from orderops.storage.migrate import upgrade, upgrade_url


@dataclass
class App:
    """The wired application: what every shell (API, CLI, worker) works through."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    clock: Clock = field(default_factory=SystemClock)
    real_time: Clock | None = None
    """Set where business time runs apart from real time (the demo); see ``wall_clock``."""
    _closing: list[Callable[[], None]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )
    ran_at: dict[str, datetime] = field(default_factory=dict, init=False, repr=False, compare=False)
    """When this process last ran each of the worker's periodic jobs (``workflow/worker``),
    by job (and tenant): kept on the app, not in a module keyed by ``id(app)``, where a new
    app at a dead one's address inherited its schedule."""

    @property
    def wall_clock(self) -> Clock:
        """The clock of what a person lives through in real seconds: the sign-in form's
        lapse, console sessions and their idle limit, sign-in throttles, authenticator codes,
        single sign-on round trips. The same as ``clock`` unless business time runs apart
        from real time: the demo runs ``clock`` 1,800 times faster, where a 30-minute idle
        limit on it signed a reviewer out between two clicks."""
        return self.real_time or self.clock

    @property
    def limits(self) -> IntakeLimits:
        return IntakeLimits(
            max_body_bytes=self.settings.max_request_bytes,
            max_batch_events=self.settings.max_batch_events,
        )

    def on_close(self, stop: Callable[[], None]) -> None:
        """Run ``stop`` when the app closes, before its engine goes: a background thread
        that writes (the API call meter) gets a last write, then ends with the app."""
        self._closing.append(stop)

    def close(self) -> None:
        while self._closing:
            self._closing.pop()()
        self.engine.dispose()


def bootstrap(settings: Settings, *, clock: Clock | None = None, migrate: bool = True) -> App:
    engine = make_engine(settings.resolved_database_url, echo=settings.log_sql)
    if migrate and settings.migration_database_url:
        # The owner migrates; the app connects as a role row-level security applies to.
        upgrade_url(settings.migration_database_url, app_role=settings.database_app_role)
    elif migrate:
        upgrade(engine, app_role=settings.database_app_role)
    sessions = make_session_factory(engine)
    bind_audit_key(sessions, audit_key_from(settings))
    return App(settings=settings, engine=engine, sessions=sessions, clock=clock or SystemClock())
