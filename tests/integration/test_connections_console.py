"""The console's connections page: admins only, CSRF on every form, no credential shown.

Every page a session sees (the list, the flash after add and rotate, a refusal) is
searched for the credentials typed into the forms.
"""

from __future__ import annotations

import pytest

from builders.console import console_person, post_form, signed_in
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.writeback.vendor_connections import list_connections

PAGE = "/console/admin/connections"
FIRST = "wms-console-credential-1"
SECOND = "wms-console-credential-2"


def test_an_admin_adds_rotates_and_removes_without_seeing_a_credential(
    app: App, clock: FixedClock
) -> None:
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))

    added = post_form(
        client,
        PAGE,
        PAGE,
        system="wms",
        base_url="https://wms.example.com",
        secret=FIRST,
        mode="test",
    )
    after_add = client.get(added.headers["location"]).text  # type: ignore[attr-defined]
    rotated = post_form(client, PAGE, f"{PAGE}/wms/rotate", secret=SECOND)
    after_rotate = client.get(rotated.headers["location"]).text  # type: ignore[attr-defined]
    [stored] = list_connections(app.sessions, tenant_id="acme")
    removed = post_form(client, PAGE, f"{PAGE}/wms/remove")

    assert [a.status_code for a in (added, rotated, removed)] == [303] * 3  # type: ignore[attr-defined]
    assert "https://wms.example.com" in after_add
    assert stored.fingerprint in after_rotate
    assert stored.version == 2
    for page in (after_add, after_rotate):
        assert FIRST not in page
        assert SECOND not in page
    assert list_connections(app.sessions, tenant_id="acme") == []


def test_a_refused_form_comes_back_with_the_reason_and_not_the_credential(
    app: App, clock: FixedClock
) -> None:
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))

    refused = post_form(
        client,
        PAGE,
        PAGE,
        system="stripe",
        base_url="https://api.stripe.com",
        secret="sk_test_console_secret_1",
    )

    back = client.get(refused.headers["location"]).text  # type: ignore[attr-defined]

    assert refused.status_code == 303  # type: ignore[attr-defined]
    assert "allow_test_mode" in back
    assert "sk_test_console_secret_1" not in back
    assert "sk_test_console_secret_1" not in refused.headers["location"]  # type: ignore[attr-defined]
    assert list_connections(app.sessions, tenant_id="acme") == []


def test_a_form_without_the_sessions_csrf_token_changes_nothing(
    app: App, clock: FixedClock
) -> None:
    client = signed_in(app, console_person(app, clock, role=Role.ADMIN))

    forged = client.post(
        PAGE,
        data={
            "csrf": "forged",
            "system": "wms",
            "base_url": "https://w.example.com",
            "secret": FIRST,
            "mode": "test",
        },
    )

    assert forged.status_code == 403
    assert list_connections(app.sessions, tenant_id="acme") == []


@pytest.mark.parametrize("role", [r for r in Role if r not in (Role.ADMIN, Role.SERVICE)])
def test_only_admins_see_the_page(app: App, clock: FixedClock, role: Role) -> None:
    client = signed_in(app, console_person(app, clock, role=role))

    assert client.get(PAGE).status_code == 403
