"""`orderops outbox list|show|attempts|retry|cancel`: the writeback queue from a terminal.

The same services as the API (``writeback.admin``), so a retry from the shell is audited
exactly like one from the console; the actor is ``cli``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands.shared import JsonOpt, print_json, require_secret_key, require_tenant
from orderops.domain.errors import OrderOpsError
from orderops.writeback.states import OutboxStatus

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.storage.uow import UnitOfWork
    from orderops.writeback import admin

# The unit of work and ``writeback.admin`` (the database layer) are imported when a
# command runs, so that `orderops --help` does not load them.

AppFactory = Callable[[], "App"]
TenantOpt = Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")]
SystemOpt = Annotated[str | None, typer.Option("--system", help="stripe, shopify, ...")]
StatusOpt = Annotated[
    OutboxStatus | None, typer.Option("--status", help="Only messages in this state.")
]
CaseOpt = Annotated[str | None, typer.Option("--case", help="Case id.")]
OrderOpt = Annotated[str | None, typer.Option("--order", help="Order reference.")]
ACTOR = "cli"


def _default_app() -> App:
    from orderops.bootstrap import bootstrap
    from orderops.config import Settings

    return bootstrap(Settings())


def register(cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add the ``outbox`` group to ``cli``; tests pass a factory for their own app."""
    factory = app_factory or _default_app
    group = typer.Typer(no_args_is_help=True, help="Writebacks: find, inspect, retry, cancel.")
    cli.add_typer(group, name="outbox")
    console = Console(width=160)

    @contextmanager
    def opened(tenant: str, *, write: bool = False) -> Iterator[tuple[App, UnitOfWork]]:
        from orderops.storage.uow import UnitOfWork

        app = factory()
        try:
            if write:
                require_secret_key(app)  # a retry or cancel is audited
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant, write=write) as uow:
                yield app, uow
        except OrderOpsError as exc:
            console.print(f"[red]error:[/red] {exc.message}")
            raise typer.Exit(1) from exc
        finally:
            app.close()

    def where(
        system: str | None, status: OutboxStatus | None, case: str | None, order: str | None
    ) -> admin.OutboxFilter:
        from orderops.writeback import admin

        return admin.OutboxFilter(
            system=system,
            status=str(status) if status is not None else None,
            case_id=case,
            order_ref=order,
        )

    @group.command("list")
    def list_command(
        tenant: TenantOpt,
        system: SystemOpt = None,
        status: StatusOpt = None,
        case: CaseOpt = None,
        order: OrderOpt = None,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows to show.")] = 50,
        json_: JsonOpt = False,
    ) -> None:
        """Messages, newest first."""
        from orderops.writeback import admin

        with opened(tenant) as (_, uow):
            page = admin.list_messages(uow, where(system, status, case, order), limit=limit)
            if json_:
                print_json(
                    {
                        "total": page.total,
                        "items": [
                            {
                                "id": m.id,
                                "system": m.system,
                                "operation": m.operation,
                                "status": m.status,
                                "attempts": m.attempts,
                                "order_ref": m.order_ref,
                                "case_id": m.case_id,
                                "last_error": m.last_error,
                                "dead_letter_reason": m.dead_letter_reason,
                            }
                            for m in page.items
                        ],
                    }
                )
                return
            table = Table("id", "system", "operation", "status", "tries", "order", "error")
            for m in page.items:
                table.add_row(
                    m.id,
                    m.system,
                    m.operation,
                    m.status,
                    str(m.attempts),
                    m.order_ref or "",
                    (m.dead_letter_reason or m.last_error or "")[:60],
                )
        console.print(table)
        console.print(f"{len(page.items)} of {page.total}")

    @group.command("show")
    def show_command(
        tenant: TenantOpt,
        message_id: Annotated[str, typer.Argument(help="Message id (from `outbox list`).")],
    ) -> None:
        """One message, its payload and every attempt."""
        from orderops.writeback import admin

        with opened(tenant) as (_, uow):
            m = admin.get_message(uow, message_id)
            console.print(f"{m.id}  {m.system}.{m.operation}  [bold]{m.status}[/bold]")
            console.print(f"key {m.idempotency_key}  case {m.case_id}  order {m.order_ref}")
            console.print(f"payload {m.payload}")
            if m.result is not None:
                console.print(f"result {m.result}")
            if m.conflict is not None:
                console.print(f"conflict {m.conflict}")
            if m.dead_letter_reason:
                console.print(f"dead letter: {m.dead_letter_reason}")
            table = Table("#", "worker", "outcome", "status", "started", "error")
            for a in admin.attempts_of(uow, message_id):
                table.add_row(
                    str(a.number),
                    a.worker_id,
                    a.outcome,
                    str(a.response_status or ""),
                    a.started_at.isoformat(),
                    (a.error or "")[:60],
                )
        console.print(table)

    @group.command("attempts")
    def attempts_command(
        tenant: TenantOpt,
        system: SystemOpt = None,
        case: CaseOpt = None,
        order: OrderOpt = None,
        limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows to list.")] = 100,
    ) -> None:
        """Delivery attempts by case, order or system, newest first."""
        from orderops.writeback import admin

        with opened(tenant) as (_, uow):
            rows = admin.search_attempts(uow, where(system, None, case, order), limit=limit)
            table = Table("message", "#", "system", "operation", "outcome", "worker", "error")
            for a, m in rows:
                table.add_row(
                    m.id,
                    str(a.number),
                    m.system,
                    m.operation,
                    a.outcome,
                    a.worker_id,
                    (a.error or "")[:60],
                )
        console.print(table)

    @group.command("retry")
    def retry_command(
        tenant: TenantOpt,
        message_id: Annotated[str, typer.Argument(help="Message id (from `outbox list`).")],
    ) -> None:
        """Queue a failed, conflicted or cancelled message again."""
        from orderops.writeback import admin

        with opened(tenant, write=True) as (app, uow):
            m = admin.retry_message(uow, message_id, actor=ACTOR, now=app.clock.now())
            status = m.status
            uow.commit()
        console.print(f"{message_id} is {status}")

    @group.command("cancel")
    def cancel_command(
        tenant: TenantOpt,
        message_id: Annotated[str, typer.Argument(help="Message id (from `outbox list`).")],
    ) -> None:
        """Stop a message that has not been delivered."""
        from orderops.decide.communications import settle_deliveries
        from orderops.writeback import admin

        with opened(tenant, write=True) as (app, uow):
            m = admin.cancel_message(uow, message_id, actor=ACTOR, now=app.clock.now())
            settle_deliveries(uow, [m], app.clock.now())  # a customer message fails, saying so
            status = m.status
            uow.commit()
        console.print(f"{message_id} is {status}")
