"""`orderops eval identity` and `orderops identity resolve|merge|split|show`.

Thin shells: each parses options, calls one function of ``orderops.resolve.identity`` in a unit
of work, commits, and renders. Domain errors (unknown golden id, a split that cannot be
exact) print their message and exit 1.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console
from rich.table import Table

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

# The services (and with them the database layer and the models) are imported inside
# each command, so that `orderops --help` does not load them.

console = Console()
ReasonOpt = Annotated[str, typer.Option(help="Why (recorded in the audit log).")]


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add `eval identity` and the `identity` group to ``cli``."""
    eval_cli = command_group(cli, "eval", "Measure the desk's models against ground truth.")
    identity_cli = command_group(cli, "identity", "Golden customers: resolve, merge, split, show.")

    @eval_cli.command("identity")
    def eval_identity(
        seed: Annotated[int, typer.Option(help="First simulator seed.")] = 7,
        seeds: Annotated[int, typer.Option(help="How many consecutive seeds.")] = 3,
        rate: Annotated[float, typer.Option(help="duplicate_customer_rate of the sim.")] = 0.15,
        days: Annotated[float, typer.Option(help="Simulated days per seed.")] = 1.0,
        orders_per_day: Annotated[
            int, typer.Option(help="Orders the simulated store takes a day.")
        ] = 150,
        json_path: Annotated[
            Path | None, typer.Option("--json", help="Write results here.")
        ] = None,
    ) -> None:
        """Simulate duplicate customers, ingest them, resolve, and score against the truth."""
        from orderops.evaluation.identity import (
            AIM_PRECISION,
            AIM_RECALL,
            evaluate_identity,
        )

        result = evaluate_identity(
            seeds=range(seed, seed + seeds), rate=rate, days=days, orders_per_day=orders_per_day
        )
        table = Table(
            title=f"identity resolution, duplicate rate {rate}: pairs of customer refs",
            box=box.SIMPLE_HEAD,
            padding=(0, 0),
        )
        columns = ("seed", "refs", "people", "golden", "true", "found", "right")
        for column in (*columns, "precision", "recall", "F1"):
            table.add_column(column, justify="right", no_wrap=True)
        rows = [
            (str(r.seed), str(r.customer_refs), str(r.people), str(r.golden_customers), r.score)
            for r in result.seeds
        ]
        rows.append(("all", "", "", "", result.total))
        for seed_label, refs, people, goldens, s in rows:
            table.add_row(
                seed_label, refs, people, goldens,
                str(s.actual), str(s.predicted), str(s.true_positive),
                f"{s.precision:.4f}", f"{s.recall:.4f}", f"{s.f1:.4f}",
                style="bold" if seed_label == "all" else None,
            )  # fmt: skip
        table.add_row(
            "aim", "", "", "", "", "", "", f">={AIM_PRECISION}", f">={AIM_RECALL}", "", style="dim"
        )
        console.print(table)
        verdict = "meets" if result.meets_aims else "MISSES"
        console.print(f"{verdict} the aims (precision >= {AIM_PRECISION}, recall >= {AIM_RECALL})")
        if json_path is not None:
            json_path.parent.mkdir(parents=True, exist_ok=True)
            json_path.write_text(json.dumps(result.to_json(), indent=2) + "\n", "utf-8")
            console.print(f"results -> {json_path}")

    @identity_cli.command("resolve")
    def resolve(tenant: TenantOpt) -> None:
        """Link every customer of the tenant to a golden customer (idempotent)."""
        from orderops.resolve.identity import service
        from orderops.storage.uow import UnitOfWork

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                report = service.resolve_customers(uow, clock=app.clock)
                uow.commit()
        finally:
            app.close()
        console.print(
            f"{report.customers} customers -> {report.people} people; "
            f"{report.changed} relinked, {report.pinned} pinned by merges; "
            f"{report.stats.candidate_pairs} candidate pairs of {report.stats.all_pairs}"
            + (f"; revision {report.revision}" if report.revision else "")
        )

    @identity_cli.command("merge")
    def merge(
        tenant: TenantOpt,
        into: Annotated[str, typer.Argument(help="Golden id that stays.")],
        other: Annotated[str, typer.Argument(help="Golden id whose customers move.")],
        reason: ReasonOpt,
        actor: ActorOpt = "cli",
    ) -> None:
        """Merge two golden customers; prints the revision that `split` undoes."""
        from orderops.resolve.identity import service
        from orderops.storage.uow import UnitOfWork

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                report = service.merge(
                    uow, into=into, other=other, actor=actor, reason=reason, clock=app.clock
                )
                uow.commit()
        except OrderOpsError as exc:
            console.print(exc.message, style="red")
            raise typer.Exit(1) from exc
        finally:
            app.close()
        console.print(
            f"merged {other} into {into}: {len(report.customers)} customers moved; "
            f"revision {report.revision}"
        )

    @identity_cli.command("split")
    def split(
        tenant: TenantOpt,
        revision: Annotated[int, typer.Argument(help="Revision of the merge to undo.")],
        reason: ReasonOpt,
        actor: ActorOpt = "cli",
    ) -> None:
        """Undo a merge exactly: each moved customer gets its previous link back."""
        from orderops.resolve.identity import service
        from orderops.storage.uow import UnitOfWork

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                report = service.split(
                    uow, merge_revision=revision, actor=actor, reason=reason, clock=app.clock
                )
                uow.commit()
        except OrderOpsError as exc:
            console.print(exc.message, style="red")
            raise typer.Exit(1) from exc
        finally:
            app.close()
        console.print(
            f"split merge {report.merge_revision}: {len(report.restored)} customers restored; "
            f"revision {report.revision}"
        )

    @identity_cli.command("show")
    def show(
        tenant: TenantOpt,
        key: Annotated[str, typer.Argument(help="Golden id or customer id.")],
    ) -> None:
        """A golden customer's records and the history of their links."""
        from orderops.resolve.identity import service
        from orderops.storage.uow import UnitOfWork

        app = make_app()
        try:
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                view = service.show(uow, key=key)
        except OrderOpsError as exc:
            console.print(exc.message, style="red")
            raise typer.Exit(1) from exc
        finally:
            app.close()
        table = Table(title=f"golden customer {view.golden_id}")
        for column in ("customer", "name", "email", "phone", "method", "score", "revision"):
            table.add_column(column)
        for row in view.customers:
            table.add_row(
                row["customer_id"],
                row["name"] or "",
                row["email"] or "",
                row["phone"] or "",
                row["method"],
                "" if row["score"] is None else f"{row['score']:g}",
                str(row["revision"]),
            )
        console.print(table)
        for entry in view.history:
            console.print(
                f"r{entry['revision']} {entry['customer_id']} -> {entry['golden_id']} "
                f"({entry['method']}): {entry['reason'] or ''}",
                markup=False,
                highlight=False,
            )
