"""Authenticator codes (TOTP) as the second step of console password sign-in.

Codes are computed the way the person's app computes them, from the secret in the
``otpauth://`` URI the command printed, at the test clock's time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
import typer
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select
from typer.testing import CliRunner

from builders.console import PASSWORD, ConsolePerson, console_person, csrf_of
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.commands.access import register as register_access
from orderops.commands.sso import register as register_sso
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import AuditRecord
from orderops.storage.tables.access import User
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.totp import CODE_REFUSED, CODE_REQUIRED, accepted_step


class _Kept(App):
    """The test's app, handed to commands that close it when done (here: a no-op)."""

    def close(self) -> None:
        return None


@dataclass(frozen=True)
class Record:
    action: str
    data: dict[str, Any]


@pytest.fixture
def cli(app: App) -> typer.Typer:
    kept = _Kept(settings=app.settings, engine=app.engine, sessions=app.sessions, clock=app.clock)
    group = typer.Typer()
    register_access(group, app_factory=lambda: kept)
    register_sso(group, app_factory=lambda: kept)
    return group


@pytest.fixture
def person(app: App, clock: FixedClock) -> ConsolePerson:
    return console_person(app, clock, role=Role.AGENT, name="tom")


def enable(cli: typer.Typer, person: ConsolePerson) -> str:
    """Turn codes on for the person; the secret their authenticator app would hold."""
    answer = CliRunner().invoke(
        cli, ["users", "totp", "enable", "-t", person.tenant, "--user", person.email]
    )
    assert answer.exit_code == 0, answer.output
    (uri,) = [line for line in answer.output.splitlines() if line.startswith("otpauth://")]
    return parse_qs(urlsplit(uri).query)["secret"][0]


def code_at(secret: str, clock: FixedClock, offset: timedelta = timedelta(0)) -> str:
    return pyotp.TOTP(secret).at(int((clock.now() + offset).timestamp()))


def sign_in(app: App, person: ConsolePerson, code: str | None) -> tuple[Response, TestClient]:
    browser = TestClient(create_app(app), follow_redirects=False)
    form = {
        "csrf": csrf_of(browser.get("/console/login").text),
        "tenant": person.tenant,
        "email": person.email,
        "password": PASSWORD,
    }
    if code is not None:
        form["code"] = code
    return browser.post("/console/login", data=form), browser


def audit(app: App) -> list[Record]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(select(AuditRecord).order_by(AuditRecord.seq))
        return [Record(r.action, r.data) for r in rows]


def test_enabling_prints_the_uri_once_and_keeps_the_secret_sealed(
    app: App, cli: typer.Typer, person: ConsolePerson
) -> None:
    secret = enable(cli, person)

    again = CliRunner().invoke(
        cli, ["users", "totp", "enable", "-t", "acme", "--user", person.email]
    )

    assert again.exit_code == 1
    assert "already uses an authenticator" in again.output
    assert secret not in again.output
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        user = uow.session.scalar(select(User).where(User.id == person.user_id))
        assert user is not None
        assert user.totp_secret_ciphertext is not None
        assert secret not in user.totp_secret_ciphertext
    (enabled,) = [r for r in audit(app) if r.action == "user.totp_enabled"]
    assert secret not in str(enabled.data)


def test_once_enabled_a_password_alone_does_not_sign_in(
    app: App, clock: FixedClock, cli: typer.Typer, person: ConsolePerson
) -> None:
    secret = enable(cli, person)

    without, _ = sign_in(app, person, code=None)
    with_code, browser = sign_in(app, person, code=code_at(secret, clock))

    assert without.status_code == 401
    assert CODE_REQUIRED in without.text
    assert "oo_session" not in without.cookies
    assert with_code.status_code == 303, with_code.text
    assert browser.get("/console/queues").status_code == 200


def test_wrong_codes_are_refused_and_spend_the_sign_in_throttle(
    app: App, clock: FixedClock, cli: typer.Typer, person: ConsolePerson
) -> None:
    secret = enable(cli, person)
    right = code_at(secret, clock)
    wrong = f"{(int(right) + 1) % 1_000_000:06d}"

    refused = [sign_in(app, person, code=wrong)[0] for _ in range(5)]
    locked, _ = sign_in(app, person, code=right)

    assert [r.status_code for r in refused] == [401] * 5
    assert all(CODE_REFUSED.replace("'", "&#39;") in r.text for r in refused)
    assert locked.status_code == 429
    assert "Too many failed sign-ins" in locked.text
    failures = [r.data["reason"] for r in audit(app) if r.action == "user.sign_in_failed"]
    assert failures == ["code"] * 5
    assert [r.action for r in audit(app)].count("user.sign_in_locked") == 1


def test_a_code_signs_in_once(
    app: App, clock: FixedClock, cli: typer.Typer, person: ConsolePerson
) -> None:
    secret = enable(cli, person)
    code = code_at(secret, clock)

    first, _ = sign_in(app, person, code=code)
    replayed, _ = sign_in(app, person, code=code)
    clock.advance(timedelta(seconds=30))
    next_code, _ = sign_in(app, person, code=code_at(secret, clock))

    assert first.status_code == 303
    assert replayed.status_code == 401
    assert next_code.status_code == 303


def test_a_code_one_step_early_or_late_is_accepted_two_steps_away_is_not(
    app: App, clock: FixedClock, cli: typer.Typer, person: ConsolePerson
) -> None:
    secret = enable(cli, person)
    now, step = clock.now(), pyotp.TOTP(secret).timecode(int(clock.now().timestamp()))

    def accepted(offset_seconds: int) -> int | None:
        code = code_at(secret, clock, timedelta(seconds=offset_seconds))
        return accepted_step(secret, code, now=now, last_step=None)

    assert [accepted(s) for s in (-60, -30, 0, 30, 60)] == [None, step - 1, step, step + 1, None]
    assert accepted_step(secret, code_at(secret, clock), now=now, last_step=step) is None
    assert accepted_step(secret, "12345", now=now, last_step=None) is None

    late, _ = sign_in(app, person, code=code_at(secret, clock, timedelta(seconds=-30)))
    assert late.status_code == 303


def test_disabling_turns_codes_off(
    app: App, clock: FixedClock, cli: typer.Typer, person: ConsolePerson
) -> None:
    enable(cli, person)

    disabled = CliRunner().invoke(
        cli, ["users", "totp", "disable", "-t", "acme", "--user", person.email]
    )
    again = CliRunner().invoke(
        cli, ["users", "totp", "disable", "-t", "acme", "--user", person.email]
    )
    answer, _ = sign_in(app, person, code=None)

    assert disabled.exit_code == 0, disabled.output
    assert "no longer required" in disabled.output
    assert "were not required" in again.output
    assert answer.status_code == 303
    assert [r.action for r in audit(app)].count("user.totp_disabled") == 1
