"""`orderops cases list|show`: the queue and one case from a terminal, as the API shows them.

Thin shells over the same reads as ``GET /v1/cases`` (``CaseListing``, the case list's
columns and keyset order) and ``GET /v1/cases/{id}``: a table for a person, ``--json``
for a script.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console

from orderops.commands.shared import (
    AppFactory,
    JsonOpt,
    TenantOpt,
    default_app,
    print_json,
    require_tenant,
)

if TYPE_CHECKING:
    from orderops.storage.tables.cases import Action, Case, CaseTimelineEntry

console = Console()

CASE_FIELDS = (
    "id",
    "order_ref",
    "exception_type",
    "status",
    "priority",
    "queue",
    "assignee",
    "summary",
    "opened_at",
    "updated_at",
    "closed_at",
    "close_reason",
    "impact_score",
    "occurrences",
    "incident_id",
)


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add the ``cases`` group (list, show) to ``cli``."""
    group = typer.Typer(no_args_is_help=True, help="Cases: the queue and one case in full.")
    cli.add_typer(group, name="cases")

    @group.command("list")
    def cases_list(
        tenant: TenantOpt,
        status: Annotated[
            list[str] | None,
            typer.Option(help="Only this status (new, triaged, resolved, ...); repeatable."),
        ] = None,
        type_: Annotated[
            list[str] | None,
            typer.Option("--type", help="Only this exception type, e.g. payment_failed."),
        ] = None,
        queue: Annotated[
            list[str] | None, typer.Option(help="Only this queue; repeatable.")
        ] = None,
        priority: Annotated[
            list[str] | None, typer.Option(help="Only this priority (P1..P4); repeatable.")
        ] = None,
        open_only: Annotated[
            bool, typer.Option("--open", help="Only cases not resolved or rejected.")
        ] = False,
        limit: Annotated[int, typer.Option(min=1, max=500, help="Rows to show.")] = 50,
        json_: JsonOpt = False,
    ) -> None:
        """List a tenant's cases, newest first."""
        from orderops.domain.cases import CaseStatus, ExceptionType
        from orderops.domain.routing import Priority
        from orderops.storage.repositories.case_list import CaseListing
        from orderops.storage.repositories.cases import CaseFilter
        from orderops.storage.uow import UnitOfWork

        _known("--status", status, CaseStatus)
        _known("--type", type_, ExceptionType)
        _known("--priority", priority, Priority)
        where = CaseFilter(
            status=list(status or []),
            exception_type=list(type_ or []),
            queue=list(queue or []),
            priority=list(priority or []),
            open_only=open_only,
        )
        app = make_app()
        try:
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                rows = CaseListing(uow.session, tenant).page(where, limit=limit).rows
                cases = [{name: getattr(row, name) for name in CASE_FIELDS} for row in rows]
        finally:
            app.close()
        if json_:
            print_json({"items": cases})
            return
        _print_list(cases)

    @group.command("show")
    def cases_show(
        tenant: TenantOpt,
        case_id: Annotated[str, typer.Argument(help="Case id (from `orderops cases list`).")],
        json_: JsonOpt = False,
    ) -> None:
        """Show one case: its fields, facts, proposed actions and timeline."""
        from sqlalchemy import select

        from orderops.storage.tables.cases import Action
        from orderops.storage.uow import UnitOfWork

        app = make_app()
        try:
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                case = uow.cases.get(case_id)
                if case is None:
                    console.print(f"[red]error:[/red] no case {case_id} for tenant {tenant}")
                    raise typer.Exit(1)
                actions = uow.session.scalars(
                    select(Action).where(Action.case_id == case.id).order_by(Action.id)
                ).all()
                detail = _detail(case, actions, uow.cases.timeline(case.id))
        finally:
            app.close()
        if json_:
            print_json(detail)
            return
        _print_detail(detail)


def _known(option: str, given: list[str] | None, choices: Any) -> None:
    """Refuse a value the filter can never match (exit 2), naming the ones it can."""
    names = [str(choice) for choice in choices]
    for value in given or []:
        if value not in names:
            raise typer.BadParameter(
                f"unknown value {value!r}; one of {', '.join(names)}", param_hint=option
            )


def _detail(case: Case, actions: Any, timeline: Any) -> dict[str, Any]:
    entries: list[CaseTimelineEntry] = list(timeline)
    steps: list[Action] = list(actions)
    return {
        **{name: getattr(case, name) for name in CASE_FIELDS},
        "facts": case.facts,
        "impact": case.impact,
        "actions": [
            {
                "id": a.id,
                "kind": a.kind,
                "status": a.status,
                "params": a.params,
                "proposed_by": a.proposed_by,
                "created_at": a.created_at,
                "decided_at": a.decided_at,
            }
            for a in steps
        ],
        "timeline": [
            {"at": t.at, "kind": t.kind, "actor": t.actor, "summary": t.summary} for t in entries
        ],
    }


def _print_list(cases: list[dict[str, Any]]) -> None:
    from rich.table import Table

    table = Table("opened", "type", "status", "priority", "queue", "order", "summary")
    table.add_column("id", no_wrap=True, min_width=32)
    for case in cases:
        table.add_row(
            case["opened_at"].isoformat(timespec="minutes"),
            case["exception_type"],
            case["status"],
            case["priority"],
            case["queue"] or "",
            case["order_ref"],
            case["summary"][:80],
            case["id"],
        )
    console.print(table)
    if not cases:
        console.print("no cases match")


def _print_detail(detail: dict[str, Any]) -> None:
    import json

    from rich.table import Table

    console.print(
        f"[bold]{detail['exception_type']}[/bold] {detail['id']}  {detail['status']}  "
        f"{detail['priority']}  queue {detail['queue'] or '-'}  order {detail['order_ref']}",
        highlight=False,
    )
    console.print(detail["summary"], markup=False, highlight=False)
    console.print("[bold]facts[/bold]")
    console.print(json.dumps(detail["facts"], indent=2, default=str), markup=False)
    actions = Table("created", "kind", "status", "proposed by", "id", title="actions")
    for action in detail["actions"]:
        actions.add_row(
            action["created_at"].isoformat(timespec="minutes"),
            action["kind"],
            action["status"],
            action["proposed_by"],
            action["id"],
        )
    console.print(actions if detail["actions"] else "no actions proposed")
    timeline = Table("at", "kind", "actor", "summary", title="timeline")
    for entry in detail["timeline"]:
        timeline.add_row(
            entry["at"].isoformat(timespec="seconds"),
            entry["kind"],
            entry["actor"],
            entry["summary"],
        )
    console.print(timeline)
