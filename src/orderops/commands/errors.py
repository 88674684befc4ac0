"""Configuration errors as one line with the fix and exit code 2, in one place.

An unset secret key, a database URL that does not parse or does not answer, or a tenant
that does not exist is the operator's setup, not a bug: a traceback buries the one thing
to change. ``CleanErrors`` is the class of the top command group, so every command (and
``CliRunner`` in the tests) goes through it; nothing else catches these.

The exception classes of pydantic and SQLAlchemy are looked up only once an exception is
raised (by then their module is loaded), so ``orderops --help`` does not import them.
"""

from __future__ import annotations

import sys
from typing import Any

import typer
from typer.core import TyperGroup

CONFIG_EXIT = 2
"""Exit code of a configuration error, as for a usage error: the command never ran."""


PLACEHOLDER_SECRET = (
    "ORDEROPS_SECRET_KEY is the demo placeholder and this command signs with it; set a real "
    "secret, e.g. export ORDEROPS_SECRET_KEY=$(python -c 'import secrets; "
    "print(secrets.token_urlsafe(32))') (or ORDEROPS_DEMO_MODE=true for a throwaway desk)"
)
"""The one line for a command that needs the secret key while it is the placeholder."""


class SetupProblem(Exception):
    """Raised by a command for a setup the operator must change (an unknown tenant)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class CleanErrors(TyperGroup):
    """The top group: a configuration error becomes ``error: <what> <fix>`` on stderr."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except Exception as exc:
            line = explain(exc)
            if line is None:
                raise
            typer.echo(f"error: {line}", err=True)
            raise typer.Exit(CONFIG_EXIT) from exc


def explain(exc: BaseException) -> str | None:
    """One line naming what is wrong and how to fix it; None when ``exc`` is not a
    configuration error (a bug keeps its traceback)."""
    if isinstance(exc, SetupProblem):
        return exc.message
    return _settings_problem(exc) or _database_problem(exc)


def _settings_problem(exc: BaseException) -> str | None:
    pydantic = sys.modules.get("pydantic")
    if pydantic is None or not isinstance(exc, pydantic.ValidationError):
        return None
    if exc.title != "Settings":
        return None
    parts = []
    for error in exc.errors(include_url=False):
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["loc"]:
            name = "ORDEROPS_" + "_".join(str(part) for part in error["loc"]).upper()
            parts.append(f"{name}: {message}")
        else:
            parts.append(message)
    hint = "set it in the environment or in .env (docs/DEPLOYMENT.md)"
    if "SECRET_KEY" in " ".join(parts):
        hint = (
            "set ORDEROPS_SECRET_KEY, e.g. export ORDEROPS_SECRET_KEY=$(python -c "
            "'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return f"configuration: {'; '.join(parts)}; {hint}"


URL_EXAMPLE = "postgresql+psycopg://user:password@host/orderops or sqlite:///data/orderops.db"

_UNREACHABLE = (
    "connect",
    "connection",
    "unable to open database file",
    "could not translate host name",
    "name or service not known",
    "password authentication failed",
    "does not exist",
    "timeout expired",
)


def _database_problem(exc: BaseException) -> str | None:
    sqlalchemy_exc = sys.modules.get("sqlalchemy.exc")
    if sqlalchemy_exc is None:
        return None
    if isinstance(exc, sqlalchemy_exc.NoSuchModuleError | sqlalchemy_exc.ArgumentError):
        text = str(exc)
        if "Could not parse SQLAlchemy URL" in text or "Can't load plugin" in text:
            return (
                f"ORDEROPS_DATABASE_URL is not a database URL ({_first_line(text)}); "
                f"use {URL_EXAMPLE}"
            )
        return None
    if isinstance(exc, sqlalchemy_exc.OperationalError):
        cause = _first_line(str(exc.orig) if exc.orig is not None else str(exc))
        if any(marker in cause.lower() for marker in _UNREACHABLE):
            return (
                f"cannot reach the database ({cause}); check ORDEROPS_DATABASE_URL "
                "(and ORDEROPS_MIGRATION_DATABASE_URL) and that the server is running"
            )
    return None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0].strip() if text.strip() else text
