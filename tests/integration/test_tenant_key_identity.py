"""`orderops tenant key` issues keys that act as someone (issue #13 item 3): a person named by
email or a named service identity, added when new; never a bare key. Scripts still read the
secret alone from stdout; a service identity's key never approves money.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from test_key_lifecycle import NEW_KEY, stored_keys, tenant_cli
from test_separation_of_duties import approve, propose_full_refund
from typer.testing import CliRunner

from builders.access import Person, late_case
from orderops.bootstrap import App
from orderops.decide.actions import list_for_case
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.tenancy.tenants import authenticate
from orderops.tenancy.users import UserKind, list_users


def tenant_key(app: App, *args: str) -> tuple[int, str, str]:
    """Exit code, stdout, and everything printed."""
    result = CliRunner().invoke(tenant_cli(app), ["tenant", "key", "--tenant", "acme", *args])
    return result.exit_code, result.stdout.strip(), result.output


@pytest.mark.parametrize(
    "args",
    [(), ("--user", "ada@acme.example", "--service", "sync"), ("--role", "admin")],
    ids=["nobody", "both", "a-role-alone"],
)
def test_a_key_for_nobody_or_for_two_identities_is_refused_and_nothing_is_stored(
    app: App, args: tuple[str, ...]
) -> None:
    code, _, output = tenant_key(app, *args)

    assert code == 1
    assert "give --user EMAIL or --service NAME" in output
    assert stored_keys(app) == []
    assert list_users(app.sessions, tenant_id="acme") == []


def test_a_service_key_acts_as_one_named_identity_however_many_keys_it_has(
    app: App, clock: FixedClock
) -> None:
    first = tenant_key(app, "--service", "shop-sync")
    second = tenant_key(app, "--service", "shop-sync", "--name", "worker-2")

    assert (first[0], second[0]) == (0, 0), (first, second)
    assert NEW_KEY.match(first[1])  # stdout: the secret alone
    assert NEW_KEY.match(second[1])
    (bot,) = list_users(app.sessions, tenant_id="acme")
    assert (bot.kind, bot.display_name, bot.role) == (UserKind.SERVICE, "shop-sync", Role.SERVICE)
    subjects = {authenticate(app.sessions, k[1], clock=clock).subject for k in (first, second)}
    assert subjects == {bot.subject}


def test_a_person_is_keyed_by_email_and_added_only_with_a_role(app: App, clock: FixedClock) -> None:
    unknown = tenant_key(app, "--user", "ada@acme.example")
    added = tenant_key(app, "--user", "Ada@Acme.example", "--role", "admin")
    again = tenant_key(app, "--user", "ada@acme.example")
    other_role = tenant_key(app, "--user", "ada@acme.example", "--role", "agent")

    assert unknown[0] == 1
    assert "has no person ada@acme.example" in unknown[2]
    assert (added[0], again[0]) == (0, 0), (added, again)
    (ada,) = list_users(app.sessions, tenant_id="acme")
    assert (ada.kind, ada.email, ada.role) == (UserKind.HUMAN, "ada@acme.example", Role.ADMIN)
    for secret in (added[1], again[1]):
        principal = authenticate(app.sessions, secret, clock=clock)
        assert (principal.subject, principal.role) == (ada.subject, Role.ADMIN)
    assert other_role[0] == 1
    assert "acts as admin, not agent" in other_role[2]
    assert len(stored_keys(app)) == 2


def test_a_service_identity_keyed_with_a_finance_role_never_approves_money(
    app: App, clock: FixedClock, http: TestClient, agent: Person
) -> None:
    args = ("--service", "payout-bot", "--role", "finance_approver")
    ownerless = tenant_key(app, *args)
    code, secret, output = tenant_key(app, *args, "--owner", "ops@acme.example")
    case_id = late_case(app, clock, total_minor=30_000)
    action = propose_full_refund(http, agent, case_id)

    refused = approve(http, secret, action["id"])

    assert ownerless[0] == 1
    assert "needs an owner email" in ownerless[2]
    assert code == 0, output
    assert refused.status_code == 403, refused.text
    assert refused.json()["type"].endswith("/approver-not-a-person")
    (still,) = list_for_case(app.sessions, tenant_id="acme", case_id=case_id)
    assert (still.status, still.decisions) == ("awaiting_approval", ())
