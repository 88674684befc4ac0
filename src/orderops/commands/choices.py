"""`orderops choices offer|list`: offer a customer choices on a case, and see the offers.

Thin shells over ``workflow.choices``, the same calls as the API. An offer is made as a
person (``--as``, a user id whose role works cases), recorded under them on the case, and
prints the link to send the customer (shown only here). A refusal prints why and exits 1.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from orderops.commands.shared import (
    AppFactory,
    JsonOpt,
    TenantOpt,
    command_group,
    default_app,
    print_json,
    require_secret_key,
    require_tenant,
)
from orderops.domain.errors import OrderOpsError

console = Console()
AsUser = Annotated[str, typer.Option("--as", help="The user id of the person offering.")]


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add the `choices` group to ``cli``."""
    group = command_group(cli, "choices", "Customer choices: signed links to pick a remedy.")

    @group.command("offer")
    def offer(
        tenant: TenantOpt,
        case_id: Annotated[str, typer.Argument(help="The case to offer remedies on.")],
        as_user: AsUser,
    ) -> None:
        """Offer the customer the options the policy allows; prints the link to send."""
        from orderops.workflow import choices

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            principal = choices.reviewer(app.sessions, tenant_id=tenant, user_id=as_user)
            made = choices.offer_as(app, principal, case_id)
        except OrderOpsError as exc:
            console.print(exc.message, style="red", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from exc
        finally:
            app.close()
        for choice in made.offer.options:
            console.print(
                f"{choice.option}: {choice.kind} {choice.amount_minor}",
                highlight=False,
                soft_wrap=True,
            )
        console.print(
            f"offer {made.offer.id} expires {made.offer.expires_at:%Y-%m-%d %H:%M}",
            highlight=False,
        )
        console.print(made.url, highlight=False, soft_wrap=True)

    @group.command("list")
    def list_(
        tenant: TenantOpt,
        case_id: Annotated[str, typer.Argument(help="The case the offers were made on.")],
        json_: JsonOpt = False,
    ) -> None:
        """The offers made on a case, oldest first, and what became of each."""
        from orderops.workflow import choices

        app = make_app()
        try:
            require_tenant(app, tenant)
            rows = choices.list_offers(app.sessions, tenant_id=tenant, case_id=case_id)
        except OrderOpsError as exc:
            console.print(exc.message, style="red", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from exc
        finally:
            app.close()
        if json_:
            print_json({"items": rows})
            return
        for row in rows:
            chosen = (
                f" chose {row.chosen_option} -> action {row.action_id}" if row.action_id else ""
            )
            console.print(
                f"{row.id}  {row.status}  by {row.created_by}  "
                f"expires {row.expires_at:%Y-%m-%d %H:%M}  "
                f"options {', '.join(str(o.option) for o in row.options)}{chosen}",
                highlight=False,
                soft_wrap=True,
            )
        if not rows:
            console.print("no offers", highlight=False)
