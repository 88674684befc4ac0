"""`orderops scopes ...`: who is limited to which brands, stores, channels and regions,
which queues show which cases, and the tenant's brands.

The same services as the admin API, acting as ``cli``. Users and keys are limited with
``orderops users set-scope`` / ``orderops keys set-scope`` (``--scope region=DE,AT``).
"""

from __future__ import annotations

from functools import partial
from typing import Annotated, Literal

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands.shared import (
    AppFactory,
    JsonOpt,
    TenantOpt,
    command_group,
    default_app,
    opened_app,
    print_json,
)

ACTOR = "cli"
ScopeOpt = Annotated[
    list[str],
    typer.Option(
        "--scope",
        help="dimension=value[,value...]: brand, store, channel or region; repeat for more.",
    ),
]


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    console = Console()
    scopes_cli = command_group(cli, "scopes", "Scopes below the tenant (brands, regions, ...).")
    brands_cli = typer.Typer(no_args_is_help=True, help="The tenant's brands, by store or tag.")
    scopes_cli.add_typer(brands_cli, name="brands")

    @scopes_cli.command("show")
    def show(tenant: TenantOpt) -> None:
        """Every user, key and queue that is limited, with its scope."""
        from orderops.tenancy.access_scopes import stored_scopes

        with opened_app(make_app, console, tenant=tenant) as app:
            found = stored_scopes(app.sessions, tenant_id=tenant)
            table = Table("kind", "id", "scope")
            for kind, scopes in (("user", found.users), ("key", found.keys)):
                for name, scope in sorted(scopes.items()):
                    table.add_row(kind, name, scope.describe())
            for name, scope in sorted(found.queues.items()):
                table.add_row("queue", name, scope.describe())
            console.print(table)

    @scopes_cli.command("queue")
    def queue(
        tenant: TenantOpt,
        name: Annotated[str, typer.Argument(help="The queue.")],
        scope: ScopeOpt = [],  # noqa: B006 - typer reads the default, never mutates it
    ) -> None:
        """Let a queue show only the cases in a scope (no --scope: all its cases)."""
        from orderops.domain.errors import NotFound
        from orderops.domain.scopes import parse
        from orderops.storage.repositories.queues import queues_of
        from orderops.storage.uow import UnitOfWork
        from orderops.tenancy.access_scopes import set_queue_scope

        with opened_app(make_app, console, tenant=tenant, signs=True) as app:
            wanted = parse(scope)
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                found = queues_of(uow).get(name)
                if found is None:
                    raise NotFound(f"no queue {name}")
                set_queue_scope(uow, queue=found, scope=wanted, actor=ACTOR, now=app.clock.now())
                uow.commit()
            console.print(f"queue {name}: {wanted.describe()}")

    users_cli = command_group(cli, "users", "Users and service identities.")
    keys_cli = command_group(cli, "keys", "API keys of users and services.")

    @users_cli.command("set-scope")
    def users_set_scope(
        tenant: TenantOpt,
        user_id: Annotated[str, typer.Argument(help="The user.")],
        scope: ScopeOpt = [],  # noqa: B006 - typer reads the default, never mutates it
    ) -> None:
        """Limit a user, and every key acting as them, to brands, stores, channels or
        regions (no --scope: the whole tenant)."""
        _set_identity_scope(make_app, console, tenant=tenant, kind="user", ref=user_id, scope=scope)

    @keys_cli.command("set-scope")
    def keys_set_scope(
        tenant: TenantOpt,
        key_id: Annotated[str, typer.Argument(help="The key.")],
        scope: ScopeOpt = [],  # noqa: B006 - typer reads the default, never mutates it
    ) -> None:
        """Narrow one key below its user's scope (no --scope: as its user)."""
        _set_identity_scope(make_app, console, tenant=tenant, kind="key", ref=key_id, scope=scope)

    @brands_cli.command("set")
    def brands_set(
        tenant: TenantOpt,
        brand: Annotated[str, typer.Option(help="The brand to name.")],
        store: Annotated[str | None, typer.Option(help="Orders from this store.")] = None,
        tag: Annotated[str | None, typer.Option(help="Orders with this tag.")] = None,
    ) -> None:
        """Name the brand of a store's orders (at once, with their cases) or of orders
        carrying a tag (from each order's next update)."""
        _set_brand(make_app, console, tenant=tenant, store=store, tag=tag, brand=brand)

    @brands_cli.command("remove")
    def brands_remove(
        tenant: TenantOpt,
        store: Annotated[str | None, typer.Option(help="The store's rule.")] = None,
        tag: Annotated[str | None, typer.Option(help="The tag's rule.")] = None,
    ) -> None:
        """Remove a rule; a store's orders lose the brand it gave them."""
        _set_brand(make_app, console, tenant=tenant, store=store, tag=tag, brand=None)

    @brands_cli.command("list")
    def brands_list(tenant: TenantOpt, json_: JsonOpt = False) -> None:
        """The rules that give orders their brand (by store or tag)."""
        from orderops.tenancy.access_scopes import list_brand_rules

        with opened_app(make_app, console, tenant=tenant) as app:
            if json_:
                print_json({"items": list_brand_rules(app.sessions, tenant_id=tenant)})
                return
            table = Table("by", "value", "brand", "set by", "at")
            for rule in list_brand_rules(app.sessions, tenant_id=tenant):
                table.add_row(
                    rule.kind,
                    rule.value,
                    rule.brand,
                    rule.set_by,
                    rule.set_at.isoformat(timespec="seconds"),
                )
            console.print(table)


def _set_identity_scope(
    make_app: AppFactory,
    console: Console,
    *,
    tenant: str,
    kind: Literal["user", "key"],
    ref: str,
    scope: list[str],
) -> None:
    """Limit a user or a key (``kind``) to the parsed ``--scope`` values, as ``cli``."""
    from orderops.domain.scopes import parse
    from orderops.tenancy.access_scopes import set_key_scope, set_user_scope

    limit = (
        partial(set_user_scope, user_id=ref)
        if kind == "user"
        else partial(set_key_scope, key_id=ref)
    )
    with opened_app(make_app, console, tenant=tenant, signs=True) as app:
        change = limit(
            app.sessions, tenant_id=tenant, scope=parse(scope), actor=ACTOR, clock=app.clock
        )
        console.print(f"{kind} {ref}: {change.after.describe()}")


def _set_brand(
    make_app: AppFactory,
    console: Console,
    *,
    tenant: str,
    store: str | None,
    tag: str | None,
    brand: str | None,
) -> None:
    from orderops.domain.scopes import InvalidScope
    from orderops.tenancy.access_scopes import set_brand_rule

    with opened_app(make_app, console, tenant=tenant, signs=True) as app:
        if (store is None) == (tag is None):
            raise InvalidScope("name one --store or one --tag")
        kind, value = ("store", store) if store is not None else ("tag", tag)
        assert value is not None
        moved = set_brand_rule(
            app.sessions,
            tenant_id=tenant,
            kind=kind,
            value=value,
            brand=brand,
            actor=ACTOR,
            clock=app.clock,
        )
        what = f"brand {brand}" if brand is not None else "no brand"
        console.print(f"{kind} {value}: {what} ({moved} order(s) moved now)")
