"""One place that wires the application, for production, the demo and the tests alike."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

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
    _closing: list[Callable[[], None]] = field(
        default_factory=list, init=False, repr=False, compare=False
    )

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
