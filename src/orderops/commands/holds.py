"""`orderops holds list|release`: the desk's holds, and ending one by hand.

Thin shells over ``decide.holds``, the same calls as the API. A release names the
person it is done for (``--as``, a user id): only an active user whose role may approve
actions may release, as on the API, and the audit log records that person. A refused
release (unknown hold or user, not allowed, already released) prints why and exits 1.
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
AsUser = Annotated[
    str, typer.Option("--as", help="The user id of the person releasing (approver role).")
]


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add the `holds` group to ``cli``."""
    holds_cli = command_group(cli, "holds", "The desk's holds: reason, owner, expiry, release.")

    @holds_cli.command("list")
    def list_(
        tenant: TenantOpt,
        status: Annotated[
            str | None, typer.Option(help="active, release_due or released (default: all).")
        ] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows to show.")] = 100,
        json_: JsonOpt = False,
    ) -> None:
        """Holds, newest first, with why, whose, until when and how they ended."""
        from orderops.decide import holds
        from orderops.domain.holds import HoldStatus
        from orderops.storage.uow import UnitOfWork

        try:
            wanted = HoldStatus(status) if status else None
        except ValueError as exc:
            console.print(f"unknown status {status!r}", style="red", highlight=False)
            raise typer.Exit(2) from exc
        app = make_app()
        try:
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                rows = holds.list_holds(uow, status=wanted, limit=limit)
                document = [
                    {
                        "id": h.id,
                        "status": str(h.status),
                        "release_reason": h.release_reason,
                        "kind": str(h.kind),
                        "order_ref": h.order_ref,
                        "case_id": h.case_id,
                        "owner": h.owner,
                        "expires_at": h.expires_at,
                        "reason": h.reason,
                    }
                    for h in rows
                ]
                lines = [
                    f"{h.id}  {h.status}{f' ({h.release_reason})' if h.release_reason else ''}"
                    f"  {h.kind}  order {h.order_ref}  case {h.case_id}  owner {h.owner}"
                    f"  expires {h.expires_at:%Y-%m-%d %H:%M}  reason {h.reason}"
                    for h in rows
                ]
        finally:
            app.close()
        if json_:
            print_json({"items": document})
            return
        for line in lines or ["no holds"]:
            console.print(line, highlight=False, soft_wrap=True)

    @holds_cli.command("release")
    def release(
        tenant: TenantOpt,
        hold_id: Annotated[str, typer.Argument(help="Hold id (from `orderops holds list`).")],
        as_user: AsUser,
    ) -> None:
        """Release a hold now; the vendor's release is queued through the outbox."""
        from orderops.decide import holds

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            actor = holds.releaser(app.sessions, tenant_id=tenant, user_id=as_user)
            hold = holds.release_by_hand(
                app.sessions, tenant_id=tenant, hold_id=hold_id, actor=actor, clock=app.clock
            )
        except OrderOpsError as exc:
            console.print(exc.message, style="red", highlight=False, soft_wrap=True)
            raise typer.Exit(1) from exc
        finally:
            app.close()
        queued = (
            f"release {hold.release_outbox_id} queued" if hold.release_outbox_id else hold.status
        )
        console.print(
            f"hold {hold.id} released by {actor}: {queued}", highlight=False, soft_wrap=True
        )
