"""`orderops links suggestions|accept|reject|link|unlink|show` and `orderops resolve backfill`.

Thin shells over ``workflow.relink`` and ``resolve.link_queries``, the same calls as the API
and the console: each parses options, runs one unit of work, commits, and prints. A refused
decision (decided already, not a candidate, unknown id) prints its reason and exits 1.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orderops.commands.shared import (
    ActorOpt,
    AppFactory,
    TenantOpt,
    command_group,
    default_app,
    require_secret_key,
    require_tenant,
)
from orderops.domain.errors import OrderOpsError

if TYPE_CHECKING:
    from orderops.storage.uow import UnitOfWork
    from orderops.workflow import relink

# The services (and with them the database layer and the models) are imported inside
# each command, so that `orderops --help` does not load them.

console = Console()
RecordTypes = ("payment", "ticket", "shipment", "fraud_signal", "refund", "hold")


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add the `links` group and `resolve backfill` to ``cli``."""
    links_cli = command_group(
        cli, "links", "Records resolve could not place: suggestions and links."
    )
    resolve_cli = command_group(cli, "resolve", "Resolve: which order each record is about.")

    def decide(tenant: str, act: Callable[[UnitOfWork, datetime], relink.LinkDecision]) -> None:
        from orderops.storage.uow import UnitOfWork

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                decision = act(uow, app.clock.now())
                uow.commit()
                link = decision.link
                summary = (
                    f"link {link.id}: {link.record_type} {link.record_ref} -> {link.order_ref}"
                    f"{' (revoked)' if link.revoked_at else ''}"
                    if link is not None
                    else ""
                )
                status = decision.suggestion.status if decision.suggestion else None
        except OrderOpsError as exc:
            console.print(exc.message, style="red", highlight=False)
            raise typer.Exit(1) from exc
        finally:
            app.close()
        if status:
            console.print(f"suggestion {status}", highlight=False)
        if summary:
            console.print(summary, highlight=False)
        for change in decision.changes:
            console.print(
                f"case {change.change}: {change.exception_type} on {change.order_ref}",
                highlight=False,
            )

    @links_cli.command("suggestions")
    def suggestions(
        tenant: TenantOpt,
        status: Annotated[
            str, typer.Option(help="open, accepted, rejected, superseded, or all.")
        ] = "open",
        limit: Annotated[int, typer.Option(min=1, max=1000, help="Rows to list.")] = 100,
    ) -> None:
        """Records that could belong to more than one order, with each candidate's evidence."""
        from orderops.resolve import link_queries
        from orderops.storage.uow import UnitOfWork

        if status != "all" and status not in link_queries.SUGGESTION_STATUSES:
            console.print(f"unknown status {status!r}", style="red")
            raise typer.Exit(2)
        app = make_app()
        lines: list[str] = []
        try:
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                page = link_queries.list_suggestions(
                    uow, status=None if status == "all" else status, limit=limit, offset=0
                )
                for s in page.items:
                    lines.append(f"{s.id}  {s.record_type} {s.record_ref}  {s.status}: {s.reason}")
                    lines += [
                        f"    {c.get('order_ref')} #{c.get('number') or '-'}: {c.get('evidence')}"
                        for c in (s.candidates or {}).get("orders", [])
                        if isinstance(c, dict)
                    ]
        finally:
            app.close()
        console.print(f"link suggestions ({status}): {page.total}", highlight=False)
        for line in lines:
            console.print(line, highlight=False, soft_wrap=True)

    @links_cli.command("accept")
    def accept(
        tenant: TenantOpt,
        suggestion_id: Annotated[str, typer.Argument(help="The suggestion's id.")],
        order: Annotated[str, typer.Option("--order", help="The chosen candidate order ref.")],
        reason: Annotated[str, typer.Option(help="Why (optional).")] = "",
        actor: ActorOpt = "cli",
    ) -> None:
        """Link the suggestion's record to one of its candidate orders."""
        from orderops.workflow import relink

        decide(
            tenant,
            lambda uow, now: relink.accept_suggestion(
                uow,
                suggestion_id=suggestion_id,
                order_ref=order,
                actor=actor,
                reason=reason or None,
                now=now,
            ),
        )

    @links_cli.command("reject")
    def reject(
        tenant: TenantOpt,
        suggestion_id: Annotated[str, typer.Argument(help="The suggestion's id.")],
        reason: Annotated[str, typer.Option(help="Why none of the candidates.")],
        actor: ActorOpt = "cli",
    ) -> None:
        """None of the candidates: the record stays unlinked."""
        from orderops.workflow import relink

        decide(
            tenant,
            lambda uow, now: relink.reject_suggestion(
                uow, suggestion_id=suggestion_id, actor=actor, reason=reason, now=now
            ),
        )

    @links_cli.command("link")
    def link(
        tenant: TenantOpt,
        record_type: Annotated[str, typer.Argument(help=", ".join(RecordTypes))],
        record_ref: Annotated[str, typer.Argument(help='"source:ref", e.g. zendesk:4711.')],
        order: Annotated[str, typer.Option("--order", help="The order ref to link to.")],
        reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")],
        actor: ActorOpt = "cli",
    ) -> None:
        """Link a record to an order by hand (moving it if it sits on another)."""
        from orderops.workflow import relink

        decide(
            tenant,
            lambda uow, now: relink.link_manually(
                uow,
                record_type=record_type,
                record_ref=record_ref,
                order_ref=order,
                actor=actor,
                reason=reason,
                now=now,
            ),
        )

    @links_cli.command("unlink")
    def unlink(
        tenant: TenantOpt,
        link_id: Annotated[str, typer.Argument(help="The link's id (see `links show`).")],
        reason: Annotated[str, typer.Option(help="Why (recorded in the audit log).")],
        actor: ActorOpt = "cli",
    ) -> None:
        """Take a record off its order; the link stays on record, revoked."""
        from orderops.workflow import relink

        decide(
            tenant,
            lambda uow, now: relink.unlink(
                uow, link_id=link_id, actor=actor, reason=reason, now=now
            ),
        )

    @links_cli.command("show")
    def show(
        tenant: TenantOpt,
        order: Annotated[str, typer.Option("--order", help="The order ref.")],
    ) -> None:
        """Every link of the order, active and revoked, with its evidence."""
        from orderops.resolve import link_queries
        from orderops.storage.uow import UnitOfWork

        app = make_app()
        lines: list[str] = []
        try:
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                for row in link_queries.order_links(uow, order):
                    state = (
                        f"revoked {row.revoked_at:%Y-%m-%d %H:%M} by {row.revoked_by}: "
                        f"{row.revoked_reason}"
                        if row.revoked_at
                        else "active"
                    )
                    lines += [
                        f"{row.id}  {row.record_type} {row.record_ref}  {row.method}  {state}",
                        f"    by {row.created_by} {row.created_at:%Y-%m-%d %H:%M}: {row.evidence}",
                    ]
        except OrderOpsError as exc:
            console.print(exc.message, style="red", highlight=False)
            raise typer.Exit(1) from exc
        finally:
            app.close()
        console.print(f"links of order {order}: {len(lines) // 2}", highlight=False)
        for line in lines:
            console.print(line, highlight=False, soft_wrap=True)

    @resolve_cli.command("waiting")
    def show_waiting(
        tenant: TenantOpt,
        limit: Annotated[int, typer.Option(min=1, max=10_000, help="Rows to list.")] = 50,
    ) -> None:
        """Records still waiting for what they name (oldest first), with the keys they wait
        for; none is lost: each runs again as soon as one of its keys appears."""
        from orderops.resolve import waits
        from orderops.storage.uow import UnitOfWork

        app = make_app()
        try:
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                total, rows = waits.waiting(uow, limit=limit)
        finally:
            app.close()
        console.print(f"{total} records waiting", highlight=False)
        for row in rows:
            keys = ", ".join(row.aliases) or "a person's decision (see: links suggestions)"
            console.print(
                f"{row.inbox_id}  {row.event_time:%Y-%m-%d %H:%M}  {row.source}  {row.type}"
                f"  waits for {keys}",
                highlight=False,
                soft_wrap=True,
            )

    @resolve_cli.command("backfill")
    def backfill(tenant: TenantOpt) -> None:
        """Register the aliases of rows stored before resolve existed (idempotent).

        Orders, customers, payments, shipments and tickets; records waiting on a new
        alias go back to pending."""
        from orderops.resolve.backfill import backfill_aliases
        from orderops.storage.uow import UnitOfWork

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                uow.inbox.lock_processing()
                report = backfill_aliases(uow, now=app.clock.now())
                uow.commit()
        finally:
            app.close()
        for entity in sorted(report.scanned):
            console.print(
                f"{entity}: {report.scanned[entity]} rows, "
                f"{report.registered.get(entity, 0)} new aliases",
                highlight=False,
            )
        console.print(
            f"registered {report.total_registered} aliases; "
            f"{report.released} waiting records released",
            highlight=False,
        )
