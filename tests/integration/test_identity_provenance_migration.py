"""Upgrading to identity provenance keeps the acts made before it: they come from the audit log."""

from __future__ import annotations

from sqlalchemy import select

from builders.database_roles import owner_engine
from orderops.bootstrap import App
from orderops.console.accounts import set_password
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage.migrate import downgrade, upgrade
from orderops.storage.tables.access import IdentityAct
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.users import add_user, change_role, issue_user_key, revoke_key


def acts(app: App) -> list[tuple[str, str | None, str | None, str]]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        rows = uow.session.scalars(select(IdentityAct).where(IdentityAct.tenant_id == "acme"))
        return sorted((r.act, r.user_id, r.key_id, r.actor) for r in rows)


def test_acts_made_before_the_upgrade_are_copied_from_the_audit_log(
    app: App, clock: FixedClock
) -> None:
    user = add_user(
        app.sessions,
        tenant_id="acme",
        display_name="Fay",
        role=Role.AGENT,
        email="fay@acme.example",
        clock=clock,
        actor="user:boss",
    )
    key = issue_user_key(
        app.sessions, tenant_id="acme", user_id=user.id, name="k", clock=clock, actor="key:k1"
    )
    change_role(
        app.sessions,
        tenant_id="acme",
        user_id=user.id,
        role=Role.APPROVER,
        clock=clock,
        actor="user:boss",
    )
    set_password(
        app.sessions,
        tenant_id="acme",
        user_ref=user.id,
        password="a long enough password",
        clock=clock,
        actor="cli",
    )
    revoke_key(app.sessions, tenant_id="acme", key_id=key.key_id, clock=clock, actor="user:boss")
    recorded = acts(app)
    assert [a[0] for a in recorded] == [
        "created",
        "key_issued",
        "key_revoked",
        "password_set",
        "role_changed",
    ]

    downgrade(owner_engine(app), "0013_identity_provenance-1")
    upgrade(owner_engine(app))

    assert acts(app) == recorded
