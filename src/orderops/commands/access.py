"""`orderops users|keys|policy|approvals ...`: identities, keys and the approval policy.

The same services as the admin API, acting as ``cli`` (the operator at the console) so
the audit log tells console changes from API ones.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands import tenancy
from orderops.commands.shared import JsonOpt, opened_app, print_json
from orderops.domain.roles import Role

if TYPE_CHECKING:
    from orderops.bootstrap import App

# The services are imported inside each command: loading them (and the database layer)
# at import would slow every `orderops` command, `--help` included.

AppFactory = Callable[[], "App"]
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")]
ACTOR = "cli"


def _default_app() -> App:
    from orderops.bootstrap import bootstrap
    from orderops.config import Settings

    return bootstrap(Settings())


def _when(value: object) -> str:
    return value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else "-"


def register(cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add the ``users``, ``keys``, ``approval-policy`` and ``approvals`` groups to ``cli``."""
    factory = app_factory or _default_app
    console = Console()
    users_cli = typer.Typer(no_args_is_help=True, help="Users and service identities.")
    keys_cli = typer.Typer(no_args_is_help=True, help="API keys of users and services.")
    policy_cli = typer.Typer(no_args_is_help=True, help="The versioned approval policy.")
    approvals_cli = typer.Typer(no_args_is_help=True, help="Approval requests.")
    cli.add_typer(users_cli, name="users")
    cli.add_typer(keys_cli, name="keys")
    cli.add_typer(policy_cli, name="approval-policy")
    cli.add_typer(approvals_cli, name="approvals")

    def opened(tenant: str) -> AbstractContextManager[App]:
        """Strict settings refuse the placeholder secret key; the tenant must exist."""
        return opened_app(factory, console, tenant=tenant)

    @users_cli.command("add")
    def users_add(
        tenant: TenantOpt,
        name: Annotated[str, typer.Option("--name", help="Display name.")],
        role: Annotated[Role, typer.Option(help="What the identity may do.")],
        email: Annotated[str | None, typer.Option(help="Required for a person.")] = None,
        service: Annotated[bool, typer.Option(help="A service identity, not a person.")] = False,
    ) -> None:
        """Add a person (with an email) or a service identity."""
        from orderops.tenancy import users
        from orderops.tenancy.users import UserKind

        with opened(tenant) as app:
            user = users.add_user(
                app.sessions,
                tenant_id=tenant,
                display_name=name,
                role=role,
                email=email,
                kind=UserKind.SERVICE if service else UserKind.HUMAN,
                clock=app.clock,
                actor=ACTOR,
            )
            console.print(f"user {user.id} added ({user.kind}, {user.role})")

    @users_cli.command("list")
    def users_list(tenant: TenantOpt, json_: JsonOpt = False) -> None:
        """People and services of the tenant, with their role and state."""
        from orderops.tenancy import users

        with opened(tenant) as app:
            found = users.list_users(app.sessions, tenant_id=tenant)
            if json_:
                print_json(
                    {
                        "items": [
                            {
                                "id": u.id,
                                "kind": u.kind,
                                "display_name": u.display_name,
                                "email": u.email,
                                "role": u.role,
                                "disabled_at": u.disabled_at,
                            }
                            for u in found
                        ]
                    }
                )
                return
            table = Table("id", "kind", "name", "email", "role", "state")
            for user in found:
                state = f"disabled {_when(user.disabled_at)}" if user.disabled_at else "active"
                table.add_row(
                    user.id, user.kind, user.display_name, user.email or "-", user.role, state
                )
            console.print(table)

    @users_cli.command("disable")
    def users_disable(
        tenant: TenantOpt,
        user_id: Annotated[str, typer.Argument(help="User id (from `orderops users list`).")],
    ) -> None:
        """Disable a user: their keys and console sessions stop working."""
        """Stop the identity and every key that acts as it, at once."""
        from orderops.tenancy import users

        with opened(tenant) as app:
            user = users.disable_user(
                app.sessions, tenant_id=tenant, user_id=user_id, clock=app.clock, actor=ACTOR
            )
            console.print(f"user {user.id} disabled at {_when(user.disabled_at)}")

    @users_cli.command("set-role")
    def users_set_role(
        tenant: TenantOpt,
        user_id: Annotated[str, typer.Argument(help="User id (from `orderops users list`).")],
        role: Annotated[Role, typer.Option(help="The new role.")],
    ) -> None:
        """Change what the identity may do; its keys act with the new role at once."""
        from orderops.tenancy import users

        with opened(tenant) as app:
            user = users.change_role(
                app.sessions,
                tenant_id=tenant,
                user_id=user_id,
                role=role,
                clock=app.clock,
                actor=ACTOR,
            )
            console.print(f"user {user.id} is now {user.role}")

    @users_cli.command("provenance")
    def users_provenance(
        tenant: TenantOpt,
        user_id: Annotated[str, typer.Argument(help="User id (from `orderops users list`).")],
    ) -> None:
        """Who created, re-roled, reset or keyed the identity, and when.

        An identity a proposer acted on within the approval policy's provenance window
        cannot approve that proposer's actions."""
        from orderops.tenancy import identity_acts

        with opened(tenant) as app:
            table = Table("at", "act", "by", "key")
            for act in identity_acts.list_acts(app.sessions, tenant_id=tenant, user_id=user_id):
                table.add_row(_when(act.at), act.act, act.actor, act.key_id or "-")
            console.print(table)

    @users_cli.command("set-password")
    def users_set_password(
        tenant: TenantOpt,
        user: Annotated[str, typer.Argument(help="User id or email.")],
        password_stdin: Annotated[
            bool,
            typer.Option(
                "--password-stdin", help="Read the password from the first line of stdin."
            ),
        ] = False,
    ) -> None:
        """Set a person's console password (stored as an scrypt hash, never shown).

        The password is asked for (hidden, twice) or read from stdin, never taken as an
        argument: arguments end up in shell history and process listings."""
        import sys

        from orderops.console.accounts import set_password

        with opened(tenant) as app:  # an unknown tenant is refused before the prompt
            if password_stdin:
                password = sys.stdin.readline().rstrip("\r\n")
            else:
                password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
            if not password:
                raise typer.BadParameter("the password is empty", param_hint="--password-stdin")
            info = set_password(
                app.sessions,
                tenant_id=tenant,
                user_ref=user,
                password=password,
                clock=app.clock,
                actor=ACTOR,
            )
            console.print(f"console password set for {info.display_name} ({info.email})")

    @keys_cli.command("issue")
    def keys_issue(
        tenant: TenantOpt,
        user_id: Annotated[str, typer.Option("--user", help="User id the key acts as.")],
        name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
        expires_in: tenancy.ExpiresInOpt = None,
        expires_at: tenancy.ExpiresAtOpt = None,
    ) -> None:
        """Issue a key; the secret is printed once and stored only as a hash."""
        from orderops.tenancy import users

        with opened(tenant) as app:
            issued = users.issue_user_key(
                app.sessions,
                tenant_id=tenant,
                user_id=user_id,
                name=name,
                clock=app.clock,
                actor=ACTOR,
                expires_at=tenancy.expiry_of(app, expires_in, expires_at),
            )
            tenancy.print_issued(console, issued)

    @keys_cli.command("rotate")
    def keys_rotate(
        tenant: TenantOpt,
        key_id: tenancy.KeyIdArg,
        overlap: tenancy.OverlapOpt = "24h",
        expires_in: tenancy.ExpiresInOpt = None,
        expires_at: tenancy.ExpiresAtOpt = None,
    ) -> None:
        """Issue a key's successor; the old key works until the overlap ends."""
        tenancy.rotate_command(factory, console, tenant, key_id, overlap, expires_in, expires_at)

    @keys_cli.command("revoke")
    def keys_revoke(
        tenant: TenantOpt,
        key_id: Annotated[str, typer.Argument(help="Key id (from `orderops keys list`).")],
    ) -> None:
        """Revoke a key at once; requests signed with it are refused from now on."""
        from orderops.tenancy import users

        with opened(tenant) as app:
            key = users.revoke_key(
                app.sessions, tenant_id=tenant, key_id=key_id, clock=app.clock, actor=ACTOR
            )
            console.print(f"key {key.id} ({key.prefix}...) revoked at {_when(key.revoked_at)}")

    @keys_cli.command("list")
    def keys_list(tenant: TenantOpt, json_: JsonOpt = False) -> None:
        """Keys with their prefix, state, expiry and last use (never secrets)."""
        from orderops.tenancy import key_lifecycle

        with opened(tenant) as app:
            keys = key_lifecycle.list_keys(app.sessions, tenant_id=tenant, clock=app.clock)
        if json_:
            print_json({"items": keys})
            return
        tenancy.print_keys(console, keys)

    @policy_cli.command("show")
    def policy_show(
        tenant: TenantOpt,
        version: Annotated[int | None, typer.Option(help="Default: the current one.")] = None,
    ) -> None:
        """Print a policy version as YAML (version 0 is the built-in default)."""
        import yaml

        from orderops.decide import policy_versions

        with opened(tenant) as app:
            info = policy_versions.read_version(app.sessions, tenant_id=tenant, version=version)
            console.print(f"# approval policy v{info.version} by {info.created_by}")
            console.print(yaml.safe_dump(info.body, sort_keys=False), markup=False)

    @policy_cli.command("set")
    def policy_set(
        tenant: TenantOpt,
        file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="YAML or JSON.")],
        note: Annotated[str | None, typer.Option(help="Why it changed.")] = None,
    ) -> None:
        """Store the file as the next version and print what changed."""
        import yaml

        from orderops.decide import policy_versions

        text = file.read_text("utf-8")
        body = json.loads(text) if file.suffix == ".json" else yaml.safe_load(text)
        with opened(tenant) as app:
            if not isinstance(body, dict):
                console.print("[red]error:[/red] the policy file must hold a mapping")
                raise typer.Exit(1)
            update = policy_versions.set_policy(
                app.sessions, tenant_id=tenant, body=body, actor=ACTOR, clock=app.clock, note=note
            )
            if not update.changed:
                console.print(f"unchanged: still v{update.version}")
                return
            console.print(f"approval policy v{update.previous_version} -> v{update.version}")
            for change in update.changes:
                console.print(
                    f"  {change.path}: {change.before!r} -> {change.after!r}", markup=False
                )

    @policy_cli.command("reevaluate")
    def policy_reevaluate(tenant: TenantOpt) -> None:
        """Re-decide open cases pinned to an older version under the current one."""
        from orderops.decide import reevaluation
        from orderops.evidence.service import default_store

        with opened(tenant) as app:
            done = reevaluation.reevaluate_open_cases(
                app.sessions,
                tenant_id=tenant,
                actor=ACTOR,
                clock=app.clock,
                evidence=default_store(app.settings),
            )
            for item in done:
                outcomes = ", ".join(a["outcome"] for a in item.actions) or "no pending actions"
                console.print(
                    f"case {item.case_id}: v{item.from_version} -> v{item.to_version} ({outcomes})"
                )
            console.print(f"{len(done)} case(s) re-evaluated")

    @approvals_cli.command("expire")
    def approvals_expire(tenant: TenantOpt) -> None:
        """Expire approval requests past their time (the worker does this on its sweeps)."""
        from orderops.decide.approvals import expire_due
        from orderops.evidence.service import default_store

        with opened(tenant) as app:
            expired = expire_due(
                app.sessions,
                tenant_id=tenant,
                clock=app.clock,
                evidence=default_store(app.settings),
            )
            console.print(f"{len(expired)} approval request(s) expired")
