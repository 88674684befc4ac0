"""Builders for the console: people who can sign in, and a signed-in test client."""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass

import httpx
from fastapi.testclient import TestClient

from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.console.accounts import set_password
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.tenancy.users import add_user

PASSWORD = "correct horse battery"
_people = itertools.count(1)
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


@dataclass(frozen=True)
class ConsolePerson:
    user_id: str
    tenant: str
    email: str
    name: str
    role: Role


def console_person(
    app: App, clock: FixedClock, *, role: Role, tenant: str = "acme", name: str | None = None
) -> ConsolePerson:
    # a numbered person's address says "console" to stay apart from builders.access's
    # numbered people, who count on their own ("admin-9" could be both)
    label = name or f"{role}-{next(_people)}"
    local = label.lower().replace(" ", ".") if name else f"console.{label}"
    email = f"{local}@{tenant}.example"
    user = add_user(
        app.sessions,
        tenant_id=tenant,
        display_name=label,
        role=role,
        email=email,
        clock=clock,
        actor="test",
    )
    set_password(
        app.sessions, tenant_id=tenant, user_ref=user.id, password=PASSWORD, clock=clock, actor="t"
    )
    return ConsolePerson(user.id, tenant, email, label, role)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, "the page has no form with a CSRF token"
    return found.group(1)


def signed_in(app: App, person: ConsolePerson) -> TestClient:
    client = TestClient(create_app(app), follow_redirects=False)
    sign_in_with(client, person)
    return client


def sign_in_with(client: httpx.Client, person: ConsolePerson) -> None:
    """Sign ``person`` in through the form, as a browser would (in process or over HTTP)."""
    page = client.get("/console/login")
    response = client.post(
        "/console/login",
        data={
            "csrf": csrf_of(page.text),
            "tenant": person.tenant,
            "email": person.email,
            "password": PASSWORD,
            "next": "/console/queues",
        },
    )
    assert response.status_code == 303, response.text


def post_form(client: TestClient, page_url: str, action: str, **fields: str) -> object:
    """Post a form the way the page would: with the CSRF token the page carries."""
    token = csrf_of(client.get(page_url).text)
    return client.post(action, data={"csrf": token, **fields})
