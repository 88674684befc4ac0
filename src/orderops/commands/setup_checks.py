"""The app a CLI command runs against when the secret key may still be the placeholder.

Settings refuse the demo placeholder secret outside demo mode, and ``serve``, ``worker``
and the commands that seal secrets build strict settings. Commands that only read (list
cases, show the outbox) are useful before a secret is configured, so they get settings
that carry the placeholder but say plainly that this is not the demo (``demo_mode`` stays
false): ``shared.require_secret_key`` then refuses every command that signs, up front, and
the app's audit key refuses to sign or verify, so a command that forgot to ask still
writes no audit record keyed by a secret everyone knows (the transaction rolls back and
the operator gets the one-line fix, exit 2).

Imported only when a command runs: it loads pydantic, SQLAlchemy and the audit layer.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError

from orderops.audit.keys import AuditKey, bind_audit_key
from orderops.bootstrap import App, bootstrap
from orderops.commands.errors import PLACEHOLDER_SECRET, SetupProblem
from orderops.config import DEMO_SECRET, Settings


@dataclass(frozen=True)
class PlaceholderAuditKey(AuditKey):
    """Bound instead of a key derived from the placeholder secret: any use refuses."""

    def _derive(self, purpose: str) -> bytes:
        raise SetupProblem(PLACEHOLDER_SECRET)


def cli_settings() -> Settings:
    """The configured settings; with the placeholder secret outside demo mode, the same
    settings with ``demo_mode`` false rather than a refusal (any other problem raises)."""
    try:
        return Settings()
    except ValidationError:
        lenient = Settings(demo_mode=True)  # raises again unless the placeholder was all
    return lenient.model_copy(update={"demo_mode": False})


def cli_app() -> App:
    """The desk for one command (``shared.default_app``)."""
    settings = cli_settings()
    app = bootstrap(settings)
    if placeholder_outside_demo(settings):
        bind_audit_key(app.sessions, PlaceholderAuditKey(b""))
    return app


def placeholder_outside_demo(settings: Settings) -> bool:
    return settings.secret_key == DEMO_SECRET and not settings.demo_mode
