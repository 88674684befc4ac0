"""A signed-in person turns their own authenticator on and off in the console.

On: the page offers a secret (URI and text), and only a code computed from it makes it
theirs. Off: their password or a current code, never the open session alone. Codes are
computed as the person's app would, at the test clock's time.
"""

from __future__ import annotations

import re
from datetime import timedelta
from urllib.parse import unquote

import pyotp
from fastapi.testclient import TestClient
from httpx import Response
from sqlalchemy import select

from builders.console import PASSWORD, ConsolePerson, console_person, csrf_of, signed_in
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import AuditRecord
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.totp import uses_totp

ACCOUNT = "/console/account"


def code_at(secret: str, clock: FixedClock, offset: timedelta = timedelta(0)) -> str:
    return pyotp.TOTP(secret).at(int((clock.now() + offset).timestamp()))


def offered(browser: TestClient) -> tuple[str, str, str]:
    """Ask for a secret: (the secret as text, the URI, the sealed offer the form posts)."""
    page = browser.post(f"{ACCOUNT}/totp/setup", data={"csrf": csrf_of(browser.get(ACCOUNT).text)})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    secret = _field(page.text, r'id="totp-secret">([A-Z2-7]+)<')
    uri = _field(page.text, r'id="totp-uri">([^<]+)<').replace("&amp;", "&")
    sealed = _field(page.text, r'name="pending" value="([^"]+)"')
    return secret, uri, sealed


def _field(html: str, pattern: str) -> str:
    found = re.search(pattern, html)
    assert found is not None, pattern
    return found.group(1)


def post(browser: TestClient, action: str, **fields: str) -> Response:
    return browser.post(
        f"{ACCOUNT}/totp/{action}", data={"csrf": csrf_of(browser.get(ACCOUNT).text), **fields}
    )


def on(app: App, person: ConsolePerson) -> bool:
    return uses_totp(app.sessions, tenant_id=person.tenant, user_id=person.user_id)


def audited(app: App, action: str) -> list[tuple[str, str]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return [
            (r.actor, r.entity_id)
            for r in uow.session.scalars(
                select(AuditRecord).where(
                    AuditRecord.tenant_id == "acme", AuditRecord.action == action
                )
            )
        ]


def test_a_person_turns_codes_on_with_a_code_from_the_offered_secret(
    app: App, clock: FixedClock
) -> None:
    tom = console_person(app, clock, role=Role.AGENT, name="tom")
    browser = signed_in(app, tom)
    secret, uri, sealed = offered(browser)
    assert not on(app, tom)  # an offer alone changes nothing
    assert uri.startswith("otpauth://totp/") and f"secret={secret}" in uri  # noqa: PT018

    right_code = code_at(secret, clock)
    wrong = post(browser, "enable", pending=sealed, code=f"{(int(right_code) + 1) % 10**6:06d}")
    assert not on(app, tom)
    right = post(browser, "enable", pending=sealed, code=right_code)

    assert wrong.status_code == 401
    assert right.status_code == 303
    assert on(app, tom)
    assert audited(app, "user.totp_enabled") == [(f"user:{tom.user_id}", tom.user_id)]
    page = browser.get(ACCOUNT).text
    assert "Turn off" in page
    assert secret not in page  # shown once, at the offer only


def test_the_confirming_code_cannot_sign_in_again_and_sign_in_now_asks_for_one(
    app: App, clock: FixedClock
) -> None:
    tom = console_person(app, clock, role=Role.AGENT, name="tom")
    secret, _, sealed = offered(signed_in(app, tom))
    code = code_at(secret, clock)
    assert post(signed_in(app, tom), "enable", pending=sealed, code=code).status_code == 303

    def sign_in(with_code: str | None) -> Response:
        browser = TestClient(create_app(app), follow_redirects=False)
        form = {
            "csrf": csrf_of(browser.get("/console/login").text),
            "tenant": "acme",
            "email": tom.email,
            "password": PASSWORD,
        }
        if with_code is not None:
            form["code"] = with_code
        return browser.post("/console/login", data=form)

    assert sign_in(None).status_code == 401
    assert sign_in(code).status_code == 401  # already spent by the confirmation
    assert sign_in(code_at(secret, clock, timedelta(seconds=30))).status_code == 303


def test_an_offer_for_someone_else_or_forged_or_without_csrf_changes_nothing(
    app: App, clock: FixedClock
) -> None:
    tom = console_person(app, clock, role=Role.AGENT, name="tom")
    eve = console_person(app, clock, role=Role.ADMIN, name="eve")
    outsider = console_person(app, clock, role=Role.ADMIN, name="gx", tenant="globex")
    tom_secret, _, toms_offer = offered(signed_in(app, tom))
    eve_browser = signed_in(app, eve)
    code = code_at(tom_secret, clock)

    someone_elses = post(eve_browser, "enable", pending=toms_offer, code=code)
    other_tenants = post(signed_in(app, outsider), "enable", pending=toms_offer, code=code)
    forged = post(eve_browser, "enable", pending=toms_offer[:-4] + "AAAA", code=code)
    garbage = post(eve_browser, "enable", pending="x" * 5000, code=code)
    no_csrf = eve_browser.post(f"{ACCOUNT}/totp/enable", data={"pending": toms_offer, "code": code})
    no_csrf_setup = eve_browser.post(f"{ACCOUNT}/totp/setup", data={})

    assert [r.status_code for r in (someone_elses, other_tenants, forged, garbage)] == [303] * 4
    assert "someone else" in _flash(someone_elses)
    assert "someone else" in _flash(other_tenants)
    assert "not readable" in _flash(forged)
    assert "not readable" in _flash(garbage)
    assert no_csrf.status_code == 403
    assert no_csrf_setup.status_code == 403
    assert not on(app, tom)
    assert not on(app, eve)
    assert not uses_totp(app.sessions, tenant_id="globex", user_id=outsider.user_id)
    assert audited(app, "user.totp_enabled") == []


def _flash(response: Response) -> str:
    return unquote(response.cookies.get("oo_flash", ""))


def test_turning_off_needs_the_password_or_a_current_code_and_is_audited(
    app: App, clock: FixedClock
) -> None:
    tom = console_person(app, clock, role=Role.AGENT, name="tom")
    browser = signed_in(app, tom)
    secret, _, sealed = offered(browser)
    post(browser, "enable", pending=sealed, code=code_at(secret, clock))

    nothing = post(browser, "disable")
    wrong_password = post(browser, "disable", password="not my password at all")
    reused_code = post(browser, "disable", code=code_at(secret, clock))
    assert on(app, tom)
    with_code = post(browser, "disable", code=code_at(secret, clock, timedelta(seconds=30)))
    assert not on(app, tom)
    secret, _, sealed = offered(browser)
    post(browser, "enable", pending=sealed, code=code_at(secret, clock))  # a new secret
    assert on(app, tom)
    with_password = post(browser, "disable", password=PASSWORD)

    assert [r.status_code for r in (nothing, wrong_password, reused_code)] == [401] * 3
    assert "password, or a current code" in wrong_password.text
    assert [with_code.status_code, with_password.status_code] == [303, 303]
    assert not on(app, tom)
    assert audited(app, "user.totp_disabled") == [(f"user:{tom.user_id}", tom.user_id)] * 2


def test_guessing_the_password_to_turn_codes_off_spends_the_sign_in_throttle(
    app: App, clock: FixedClock
) -> None:
    tom = console_person(app, clock, role=Role.AGENT, name="tom")
    browser = signed_in(app, tom)
    secret, _, sealed = offered(browser)
    post(browser, "enable", pending=sealed, code=code_at(secret, clock))

    guesses = [post(browser, "disable", password=f"guess number {n}").status_code for n in range(5)]
    right_but_locked = post(browser, "disable", password=PASSWORD)

    assert guesses == [401] * 5
    assert right_but_locked.status_code == 401
    assert "Too many failed sign-ins" in right_but_locked.text
    assert on(app, tom)
