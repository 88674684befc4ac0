"""/v1/admin/connections: an admin's own tenant's vendor connections, never a credential.

Every answer (success or refusal) is searched for the credentials sent, including the
validation error of a credential too long to store; the tenant is the key's, so another
tenant's connections answer 404 and stay as they were.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from builders.access import Person, client, person
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.tenancy.tenants import ensure_tenant
from orderops.writeback.vendor_connections import list_connections

BASE = "/v1/admin/connections"
FIRST = "crm-secret-token-first"
SECOND = "crm-secret-token-second"


@pytest.fixture
def http(app: App) -> Iterator[TestClient]:
    with client(app) as c:
        yield c


@pytest.fixture
def acme_admin(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="acme", role=Role.ADMIN)


@pytest.fixture
def globex_admin(app: App, clock: FixedClock) -> Person:
    return person(app, clock, tenant="globex", role=Role.ADMIN)


def crm(secret: str = FIRST, **extra: object) -> dict[str, object]:
    return {
        "system": "crm",
        "base_url": "http://127.0.0.1:9",
        "secret": secret,
        "mode": "test",
        **extra,
    }


def test_the_credential_goes_in_and_only_its_fingerprint_comes_out(
    http: TestClient, acme_admin: Person
) -> None:
    added = http.post(BASE, json=crm(), headers=acme_admin.headers)
    listed = http.get(BASE, headers=acme_admin.headers)
    rotated = http.post(f"{BASE}/crm/rotate", json={"secret": SECOND}, headers=acme_admin.headers)
    tested = http.post(f"{BASE}/crm/test", headers=acme_admin.headers)
    removed = http.post(f"{BASE}/crm/remove", headers=acme_admin.headers)
    after = http.get(BASE, headers=acme_admin.headers)

    answers = [added, listed, rotated, tested, removed, after]
    assert [a.status_code for a in answers] == [201, 200, 200, 200, 200, 200]
    for answer in answers:
        assert FIRST not in answer.text
        assert SECOND not in answer.text
    assert listed.json()[0]["fingerprint"] == added.json()["fingerprint"]
    assert rotated.json()["fingerprint"] != added.json()["fingerprint"]
    assert (rotated.json()["version"], rotated.json()["rotated_by"]) == (
        2,
        acme_admin.principal.identity,
    )
    assert tested.json()["ok"] is False
    assert "could not reach http://127.0.0.1:9" in tested.json()["detail"]
    assert after.json() == []


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        (crm(system="paypal"), 422, "invalid-request"),
        (crm(extra_field=1), 422, "invalid-request"),
        (crm(secret="x" * 5000), 422, "invalid-request"),
        (crm(base_url="http://crm.example.com"), 422, "invalid-connection"),
        (crm(base_url="https://u:p@crm.example.com"), 422, "invalid-connection"),
        (crm(mode=None), 422, "invalid-connection"),
        (crm(username="agent@example.com"), 422, "invalid-connection"),
        (
            {"system": "stripe", "base_url": "https://api.stripe.com", "secret": "sk_test_1234567"},
            422,
            "connection-environment-refused",
        ),
    ],
    ids=[
        "unknown-system",
        "extra-field",
        "oversized-secret",
        "plain-http",
        "userinfo",
        "no-mode",
        "username",
        "test-key-in-live",
    ],
)
def test_malformed_connections_are_refused_without_echoing_the_secret(
    app: App, http: TestClient, acme_admin: Person, body: dict[str, object], status: int, code: str
) -> None:
    answer = http.post(BASE, json=body, headers=acme_admin.headers)

    assert answer.status_code == status
    assert answer.json()["type"].endswith(code)
    assert str(body["secret"]) not in answer.text
    assert list_connections(app.sessions, tenant_id="acme") == []


def test_a_second_connection_for_one_system_is_a_conflict(
    http: TestClient, acme_admin: Person
) -> None:
    assert http.post(BASE, json=crm(), headers=acme_admin.headers).status_code == 201
    again = http.post(BASE, json=crm(SECOND), headers=acme_admin.headers)

    assert again.status_code == 409
    assert again.json()["type"].endswith("connection-exists")


def test_another_tenant_can_neither_see_nor_touch_a_connection(
    app: App, http: TestClient, acme_admin: Person, globex_admin: Person
) -> None:
    original = http.post(BASE, json=crm(), headers=acme_admin.headers).json()

    seen = http.get(BASE, headers=globex_admin.headers)
    rotate = http.post(f"{BASE}/crm/rotate", json={"secret": SECOND}, headers=globex_admin.headers)
    test = http.post(f"{BASE}/crm/test", headers=globex_admin.headers)
    remove = http.post(f"{BASE}/crm/remove", headers=globex_admin.headers)

    assert seen.json() == []
    assert [r.status_code for r in (rotate, test, remove)] == [404, 404, 404]
    [kept] = list_connections(app.sessions, tenant_id="acme")
    assert (kept.fingerprint, kept.version) == (original["fingerprint"], 1)


def test_a_test_environment_admin_cannot_connect_a_live_account(
    app: App, clock: FixedClock, http: TestClient
) -> None:
    ensure_tenant(app.sessions, tenant_id="acme.test", name="Acme test", clock=clock)
    admin = person(app, clock, tenant="acme.test", role=Role.ADMIN)
    live = {"system": "stripe", "base_url": "https://api.stripe.com", "secret": "sk_live_123456789"}

    refused = http.post(BASE, json=live, headers=admin.headers)
    allowed = http.post(BASE, json={**live, "secret": "sk_test_123456789"}, headers=admin.headers)

    assert refused.status_code == 422
    assert "test environment" in refused.json()["detail"]
    assert "sk_live_123456789" not in refused.text
    assert (allowed.status_code, allowed.json()["mode"]) == (201, "test")


def test_rotating_to_a_stripe_key_of_the_wrong_mode_changes_nothing(
    app: App, clock: FixedClock, http: TestClient
) -> None:
    ensure_tenant(app.sessions, tenant_id="acme.test", name="Acme test", clock=clock)
    admin = person(app, clock, tenant="acme.test", role=Role.ADMIN)
    body = {"system": "stripe", "base_url": "https://api.stripe.com", "secret": "sk_test_aaaaaaaa"}
    first = http.post(BASE, json=body, headers=admin.headers).json()

    refused = http.post(
        f"{BASE}/stripe/rotate", json={"secret": "sk_live_bbbbbbbb"}, headers=admin.headers
    )

    assert refused.status_code == 422
    [kept] = list_connections(app.sessions, tenant_id="acme.test")
    assert kept.fingerprint == first["fingerprint"]
