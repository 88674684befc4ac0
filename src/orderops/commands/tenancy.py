"""`orderops tenant create|key ...`: accounts, their environments, and their API keys.

``tenant create acme`` makes acme's live environment (tenant ``acme``) and its test
environment (tenant ``acme.test``); ``--environment`` makes one. ``tenant key`` issues a
key (``orderops tenant key --tenant acme --service shop-sync`` prints one secret and nothing
else on stdout, so scripts can capture it) and groups what follows a key's issue: list,
rotate, revoke. The same services as the admin API, acting as ``cli``.

Every key acts as someone, as the admin API's keys do: ``--user EMAIL`` a person of the
tenant (added with ``--role`` when new, so a fresh tenant's first admin can be keyed), or
``--service NAME`` a named service identity (used when it exists, added with ``--role``,
default ``service``, when not). So one person with two keys is one approver, and a
service identity never approves anything (``decide/approver_eligibility.py``).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands.shared import (
    AppFactory,
    JsonOpt,
    TenantOpt,
    default_app,
    opened_app,
    print_json,
)
from orderops.domain.environments import Environment
from orderops.domain.roles import Role

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.tenancy.key_lifecycle import KeyDetails, Rotation
    from orderops.tenancy.tenants import IssuedKey
    from orderops.tenancy.users import UserInfo

# Services are imported inside each command: `orderops --help` must not load the database.

ACTOR = "cli"

ExpiresInOpt = Annotated[
    str | None, typer.Option("--expires-in", help="Lifetime, e.g. 90d or 12h (default: none).")
]
ExpiresAtOpt = Annotated[
    str | None,
    typer.Option("--expires-at", help="Or an expiry time, ISO 8601 with a zone."),
]
OverlapOpt = Annotated[
    str, typer.Option("--overlap", help="How long the old key keeps working, e.g. 24h or 0.")
]
KeyIdArg = Annotated[str, typer.Argument(help="The key's id (see `tenant key list`).")]
UserOpt = Annotated[
    str | None, typer.Option("--user", help="The person the key acts as (their email).")
]
ServiceOpt = Annotated[
    str | None, typer.Option("--service", help="Or the named service identity it acts as.")
]
RoleOpt = Annotated[
    Role | None,
    typer.Option(help="Role of a new identity (a service's default: service)."),
]
OwnerOpt = Annotated[
    str | None,
    typer.Option("--owner", help="Owner email of a new service identity with a human role."),
]


def expiry_of(app: App, expires_in: str | None, expires_at: str | None) -> datetime | None:
    """The expiry asked for on the command line (domain errors become one red line)."""
    from orderops.tenancy.key_lifecycle import requested_expiry

    at = None
    if expires_at is not None:
        try:
            at = datetime.fromisoformat(expires_at)
        except ValueError as exc:
            raise typer.BadParameter(
                f"{expires_at!r} is not an ISO 8601 time", param_hint="--expires-at"
            ) from exc
    return requested_expiry(app.clock, expires_in=expires_in, expires_at=at)


def identity_for(
    app: App,
    tenant: str,
    *,
    user: str | None,
    service: str | None,
    role: Role | None,
    owner: str | None,
) -> UserInfo:
    """The identity a new key acts as: the person with email ``user`` or the service
    identity named ``service``, added (audited, as ``cli``) when the tenant has none."""
    from orderops.tenancy import users
    from orderops.tenancy.users import InvalidUser, UserKind

    if (user is None) == (service is None):
        raise InvalidUser("a key acts as someone: give --user EMAIL or --service NAME (one)")
    kind = UserKind.HUMAN if user is not None else UserKind.SERVICE
    wanted = (user or "").strip().lower() if user is not None else str(service).strip()
    for found in users.list_users(app.sessions, tenant_id=tenant):
        same = found.email == wanted if user is not None else found.display_name == wanted
        if not same or found.kind != kind or found.disabled_at is not None:
            continue
        if role is not None and role != found.role:
            raise InvalidUser(
                f"{wanted} acts as {found.role}, not {role}; change it with `users set-role`"
            )
        return found
    if user is not None and role is None:
        raise InvalidUser(f"tenant {tenant} has no person {wanted}; give --role to add them")
    return users.add_user(
        app.sessions,
        tenant_id=tenant,
        display_name=wanted.split("@")[0] if user is not None else wanted,
        role=role or Role.SERVICE,
        email=wanted if user is not None else owner,
        kind=kind,
        clock=app.clock,
        actor=ACTOR,
    )


def print_issued(console: Console, issued: IssuedKey) -> None:
    """What the key is on stderr; the secret alone on stdout, once."""
    expires = _when(issued.expires_at) if issued.expires_at else "never"
    Console(stderr=True).print(
        f"key {issued.key_id} ({issued.prefix}...), expires {expires}; secret shown once:",
        highlight=False,
    )
    console.print(issued.secret, soft_wrap=True, markup=False, highlight=False)


def print_keys(console: Console, keys: list[KeyDetails]) -> None:
    table = Table("id", "name", "prefix", "role", "user", "state", "expires", "last used")
    for key in keys:
        table.add_row(
            key.id,
            key.name,
            key.prefix,
            key.role,
            key.user_id or "-",
            key.state,
            _when(key.expires_at),
            _when(key.last_used_at),
        )
    console.print(table)


def print_rotation(console: Console, rotation: Rotation) -> None:
    old = rotation.rotated
    Console(stderr=True).print(
        f"key {old.id} ({old.prefix}...) keeps working until {_when(old.expires_at)}",
        highlight=False,
    )
    print_issued(console, rotation.successor)


def register(tenant_cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add ``create`` and the ``key`` group to the ``tenant`` group."""
    factory = app_factory or default_app
    console = Console()
    key_cli = typer.Typer(help="API keys of a tenant: issue (the default), list, rotate, revoke.")
    tenant_cli.add_typer(key_cli, name="key")

    def app_for(tenant: str | None = None, *, signs: bool) -> AbstractContextManager[App]:
        return opened_app(factory, console, tenant=tenant, signs=signs)

    @tenant_cli.command("create")
    def create(
        account: Annotated[str, typer.Argument(help="Account id, e.g. acme.")],
        name: Annotated[str, typer.Option(help="Display name.")] = "",
        environment: Annotated[
            Environment | None,
            typer.Option(help="Create only this environment (default: live and test)."),
        ] = None,
    ) -> None:
        """Create an account's live and test environments.

        Live is tenant ACCOUNT, test is tenant ACCOUNT.test: their data, keys and sources
        never mix."""
        from orderops.domain.environments import check_account_id
        from orderops.tenancy.tenants import create_account

        with app_for(signs=True) as app:
            made = create_account(
                app.sessions,
                account_id=check_account_id(account),
                name=name or account,
                clock=app.clock,
                environments=(environment,) if environment else tuple(Environment),
            )
            for info in made:
                state = "created" if info.created else "already exists"
                console.print(
                    f"tenant {info.tenant_id} {state} ({info.environment} environment of "
                    f"account {info.account_id})",
                    highlight=False,
                )

    @key_cli.callback(invoke_without_command=True)
    def key(
        context: typer.Context,
        tenant: Annotated[str | None, typer.Option("--tenant", "-t", help="Tenant id.")] = None,
        user: UserOpt = None,
        service: ServiceOpt = None,
        role: RoleOpt = None,
        owner: OwnerOpt = None,
        name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
        expires_in: ExpiresInOpt = None,
        expires_at: ExpiresAtOpt = None,
    ) -> None:
        """Issue an API key (shown once, stored only as a hash), or manage keys."""
        if context.invoked_subcommand is not None:
            return
        if tenant is None:
            console.print(context.get_help())
            raise typer.Exit(2)
        issue_key(tenant, user, service, role, owner, name, expires_in, expires_at)

    @key_cli.command("issue")
    def issue_key(
        tenant: TenantOpt,
        user: UserOpt = None,
        service: ServiceOpt = None,
        role: RoleOpt = None,
        owner: OwnerOpt = None,
        name: Annotated[str, typer.Option(help="What the key is for.")] = "cli",
        expires_in: ExpiresInOpt = None,
        expires_at: ExpiresAtOpt = None,
    ) -> None:
        """Issue a key acting as a person (--user EMAIL) or a service identity (--service
        NAME), added when new; a service identity never approves anything."""
        from orderops.tenancy import users

        with app_for(tenant, signs=True) as app:
            expires = expiry_of(app, expires_in, expires_at)  # refused before anyone is added
            who = identity_for(app, tenant, user=user, service=service, role=role, owner=owner)
            issued = users.issue_user_key(
                app.sessions,
                tenant_id=tenant,
                user_id=who.id,
                name=name,
                clock=app.clock,
                actor=ACTOR,
                expires_at=expires,
            )
            Console(stderr=True).print(
                f"acting as {who.kind} {who.display_name} ({who.role})", highlight=False
            )
            print_issued(console, issued)

    @key_cli.command("list")
    def list_keys(tenant: TenantOpt, json_: JsonOpt = False) -> None:
        """The tenant's keys with their prefix, state, expiry and last use (never secrets)."""
        from orderops.tenancy import key_lifecycle

        with app_for(tenant, signs=False) as app:
            keys = key_lifecycle.list_keys(app.sessions, tenant_id=tenant, clock=app.clock)
        if json_:
            print_json({"items": keys})
            return
        print_keys(console, keys)

    @key_cli.command("rotate")
    def rotate(
        tenant: TenantOpt,
        key_id: KeyIdArg,
        overlap: OverlapOpt = "24h",
        expires_in: ExpiresInOpt = None,
        expires_at: ExpiresAtOpt = None,
    ) -> None:
        """Issue a key's successor; the old key works until the overlap ends.

        The successor acts as the same identity (or role) and is shown once; after the
        overlap the old key is refused with a message naming its successor."""
        rotate_command(factory, console, tenant, key_id, overlap, expires_in, expires_at)

    @key_cli.command("revoke")
    def revoke(tenant: TenantOpt, key_id: KeyIdArg) -> None:
        """Stop the key at once (final)."""
        from orderops.tenancy import users

        with app_for(tenant, signs=True) as app:
            key = users.revoke_key(
                app.sessions, tenant_id=tenant, key_id=key_id, clock=app.clock, actor=ACTOR
            )
            console.print(f"key {key.id} ({key.prefix}...) revoked at {_when(key.revoked_at)}")


def rotate_command(
    factory: AppFactory,
    console: Console,
    tenant: str,
    key_id: str,
    overlap: str,
    expires_in: str | None,
    expires_at: str | None,
) -> None:
    """``tenant key rotate`` and ``keys rotate``: one command under two groups."""
    from orderops.domain.durations import parse_duration
    from orderops.tenancy import key_lifecycle

    with opened_app(factory, console, tenant=tenant, signs=True) as app:
        asked = expires_in is not None or expires_at is not None
        rotation = key_lifecycle.rotate_key(
            app.sessions,
            tenant_id=tenant,
            key_id=key_id,
            clock=app.clock,
            actor=ACTOR,
            overlap=parse_duration(overlap),
            expires_at=expiry_of(app, expires_in, expires_at) if asked else None,
        )
        print_rotation(console, rotation)


def _when(value: datetime | None) -> str:
    return value.isoformat(timespec="seconds") if value is not None else "-"
