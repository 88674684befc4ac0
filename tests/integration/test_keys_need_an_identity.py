"""Every key issued acts as someone: ``issue_key`` takes a user or a named service identity
and refuses a key that is nobody; a service identity is reused by name and never acts with
a person's role. On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from builders.access import key_for
from orderops.bootstrap import App
from orderops.domain.api_keys import InvalidKeyRequest
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.tables import ApiKey
from orderops.storage.tables.access import User
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import authenticate, issue_key


def keys_and_users(app: App) -> tuple[int, list[tuple[str, str]]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        keys = len(uow.session.scalars(select(ApiKey.id)).all())
        users = [(u.kind, u.display_name) for u in uow.session.scalars(select(User))]
        return keys, users


def test_a_key_for_nobody_is_refused_and_nothing_is_stored(app: App, clock: FixedClock) -> None:
    with pytest.raises(InvalidKeyRequest, match="acts as a user or a named service identity"):
        issue_key(app.sessions, tenant_id="acme", name="k", role=Role.ADMIN, clock=clock)

    assert keys_and_users(app) == (0, [])


def test_a_service_key_acts_as_its_named_identity_reused_by_name(
    app: App, clock: FixedClock
) -> None:
    first = issue_key(
        app.sessions, tenant_id="acme", name="a", role=Role.SERVICE, clock=clock, service="feeder"
    )
    second = issue_key(
        app.sessions, tenant_id="acme", name="b", role=Role.SERVICE, clock=clock, service="feeder"
    )

    one, two = (authenticate(app.sessions, k.secret, clock=clock) for k in (first, second))
    assert one.subject == two.subject
    assert one.subject.startswith("user:")
    assert one.role is Role.SERVICE
    assert keys_and_users(app) == (2, [("service", "feeder")])


def test_a_service_identity_never_holds_a_persons_role(app: App, clock: FixedClock) -> None:
    with pytest.raises(InvalidKeyRequest, match="belongs to a person"):
        issue_key(
            app.sessions, tenant_id="acme", name="k", role=Role.APPROVER, clock=clock, service="x"
        )

    assert keys_and_users(app) == (0, [])


def test_the_test_builder_gives_each_key_a_person_of_its_role(app: App, clock: FixedClock) -> None:
    key = key_for(app, tenant_id="acme", name="Ann", role=Role.APPROVER, clock=clock)

    principal = authenticate(app.sessions, key.secret, clock=clock)
    assert principal.subject.startswith("user:")
    assert principal.role is Role.APPROVER
    assert keys_and_users(app) == (1, [("human", "Ann")])
