"""Console sessions live on the server: signing out, a password reset or disabling someone
ends them at once, an idle session lapses, and the cookie carries only an opaque token.

Sign-in is throttled per account and per client address, on the database (so the count
holds across processes and restarts) and on the application clock: after five failures
for one account, even the right password is refused with 429 until the window passes.
"""

from __future__ import annotations

import hashlib
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from builders.console import PASSWORD, ConsolePerson, console_person, csrf_of, signed_in
from builders.database_roles import owner_sessions
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.console.accounts import set_password
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import AuditRecord
from orderops.storage.tables.console import ConsoleSession
from orderops.tenancy.users import disable_user

SESSION = "oo_session"


def stolen_cookie(client: TestClient) -> str:
    value = client.cookies.get(SESSION)
    assert value, "signing in set no session cookie"
    return value


def replay(app: App, cookie: str) -> int:
    """What a second browser holding a copy of the cookie gets for the queues page."""
    thief = TestClient(create_app(app), follow_redirects=False)
    thief.cookies.set(SESSION, cookie)
    return thief.get("/console/queues").status_code


def attempt(client: TestClient, person: ConsolePerson, password: str, *, email: str = "") -> int:
    page = client.get("/console/login")
    answer = client.post(
        "/console/login",
        data={
            "csrf": csrf_of(page.text),
            "tenant": person.tenant,
            "email": email or person.email,
            "password": password,
        },
    )
    return answer.status_code


def audit_actions(app: App) -> list[str]:
    with owner_sessions(app)() as session:
        return list(
            session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.tenant_id == "acme")
                .order_by(AuditRecord.seq)
            )
        )


def test_a_copied_session_cookie_is_refused_after_sign_out(app: App, clock: FixedClock) -> None:
    client = signed_in(app, console_person(app, clock, role=Role.AGENT))
    cookie = stolen_cookie(client)
    assert replay(app, cookie) == 200

    page = client.get("/console/queues")
    client.post("/console/logout", data={"csrf": csrf_of(page.text)})

    assert replay(app, cookie) == 303


def test_an_admin_password_reset_ends_the_persons_sessions(app: App, clock: FixedClock) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    cookie = stolen_cookie(signed_in(app, person))

    set_password(
        app.sessions,
        tenant_id="acme",
        user_ref=person.user_id,
        password="a brand new password",
        clock=clock,
        actor="user:admin",
    )

    assert replay(app, cookie) == 303


def test_disabling_a_person_revokes_their_sessions(app: App, clock: FixedClock) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    cookie = stolen_cookie(signed_in(app, person))

    disable_user(app.sessions, tenant_id="acme", user_id=person.user_id, clock=clock, actor="t")

    assert replay(app, cookie) == 303
    with owner_sessions(app)() as session:
        rows = session.scalars(
            select(ConsoleSession).where(ConsoleSession.user_id == person.user_id)
        ).all()
    assert rows
    assert all(row.revoked_at is not None for row in rows)


def test_an_idle_session_lapses_and_a_busy_one_does_not(app: App, clock: FixedClock) -> None:
    idle = app.settings.console_session_idle_minutes
    busy = signed_in(app, console_person(app, clock, role=Role.AGENT))
    quiet = signed_in(app, console_person(app, clock, role=Role.AGENT))

    for _ in range(3):
        clock.advance(timedelta(minutes=idle - 1))
        assert busy.get("/console/queues").status_code == 200

    assert quiet.get("/console/queues").status_code == 303


def test_the_cookie_is_an_opaque_token_and_only_its_hash_is_stored(
    app: App, clock: FixedClock
) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    cookie = stolen_cookie(signed_in(app, person))

    with owner_sessions(app)() as session:
        row = session.scalars(
            select(ConsoleSession).where(ConsoleSession.user_id == person.user_id)
        ).one()
    assert person.user_id not in cookie
    assert row.token_hash == hashlib.sha256(cookie.encode()).hexdigest()
    assert cookie not in (row.token_hash, row.id)


def test_the_csrf_token_changes_when_signing_in_and_after_a_refused_attempt(
    app: App, clock: FixedClock
) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    client = TestClient(create_app(app), follow_redirects=False)
    first = csrf_of(client.get("/console/login").text)
    refused = client.post(
        "/console/login",
        data={"csrf": first, "tenant": "acme", "email": person.email, "password": "wrong one!"},
    )
    assert refused.status_code == 401
    second = csrf_of(refused.text)
    assert second != first

    signed = client.post(
        "/console/login",
        data={"csrf": second, "tenant": "acme", "email": person.email, "password": PASSWORD},
    )
    assert signed.status_code == 303
    session_token = csrf_of(client.get("/console/queues").text)
    assert session_token not in (first, second)


def test_a_sign_in_form_token_expires(app: App, clock: FixedClock) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    client = TestClient(create_app(app), follow_redirects=False)
    token = csrf_of(client.get("/console/login").text)

    clock.advance(timedelta(hours=2))
    answer = client.post(
        "/console/login",
        data={"csrf": token, "tenant": "acme", "email": person.email, "password": PASSWORD},
    )

    assert answer.status_code == 403
    assert SESSION not in answer.cookies


def test_the_sixth_wrong_password_is_throttled_and_then_even_the_right_one_waits(
    app: App, clock: FixedClock
) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    client = TestClient(create_app(app), follow_redirects=False)

    assert [attempt(client, person, "wrong password!") for _ in range(5)] == [401] * 5
    page = client.get("/console/login")
    throttled = client.post(
        "/console/login",
        data={
            "csrf": csrf_of(page.text),
            "tenant": "acme",
            "email": person.email,
            "password": "wrong password!",
        },
    )
    assert throttled.status_code == 429
    assert 0 < int(throttled.headers["retry-after"]) <= 15 * 60
    assert "Too many failed sign-ins" in throttled.text
    assert attempt(client, person, PASSWORD) == 429

    clock.advance(timedelta(minutes=15, seconds=1))
    assert attempt(client, person, PASSWORD) == 303
    actions = audit_actions(app)
    assert actions.count("user.sign_in_failed") == 5
    assert actions.count("user.sign_in_locked") == 1


def test_a_successful_sign_in_clears_the_accounts_failures(app: App, clock: FixedClock) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    client = TestClient(create_app(app), follow_redirects=False)

    assert [attempt(client, person, "wrong password!") for _ in range(4)] == [401] * 4
    assert attempt(client, person, PASSWORD) == 303
    other = TestClient(create_app(app), follow_redirects=False)
    assert [attempt(other, person, "wrong password!") for _ in range(4)] == [401] * 4
    assert attempt(other, person, PASSWORD) == 303


def test_one_address_guessing_across_accounts_is_throttled_too(app: App, clock: FixedClock) -> None:
    people = [console_person(app, clock, role=Role.AGENT) for _ in range(5)]
    client = TestClient(create_app(app), follow_redirects=False)

    answers = [attempt(client, p, "wrong password!") for p in people for _ in range(4)]
    assert answers == [401] * 20
    fresh = console_person(app, clock, role=Role.AGENT)

    assert attempt(client, fresh, PASSWORD) == 429


def test_a_throttled_account_is_throttled_from_every_address(app: App, clock: FixedClock) -> None:
    person = console_person(app, clock, role=Role.AGENT)
    near = TestClient(create_app(app), follow_redirects=False)
    far = TestClient(create_app(app), follow_redirects=False, client=("203.0.113.9", 50000))

    assert [attempt(near, person, "wrong password!") for _ in range(5)] == [401] * 5

    assert attempt(far, person, PASSWORD) == 429


def test_business_time_racing_ahead_lapses_no_form_and_no_session(
    app: App, clock: FixedClock
) -> None:
    """The demo runs business time 1,800 times faster than real time: a reviewer's form and
    session lapse on the real clock (App.wall_clock), so hours of business time between two
    clicks sign no one out, while hours of real time still do."""
    real = FixedClock(clock.now())
    app.real_time = real
    person = console_person(app, clock, role=Role.AGENT)
    client = TestClient(create_app(app), follow_redirects=False)
    token = csrf_of(client.get("/console/login").text)

    clock.advance(timedelta(hours=2))
    signed = client.post(
        "/console/login",
        data={"csrf": token, "tenant": "acme", "email": person.email, "password": PASSWORD},
    )
    assert signed.status_code == 303
    clock.advance(timedelta(hours=5))
    assert client.get("/console/queues").status_code == 200

    real.advance(timedelta(minutes=app.settings.console_session_idle_minutes + 1))
    assert client.get("/console/queues").status_code == 303
