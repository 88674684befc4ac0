"""`orderops playbook reevaluate`: move open cases to the tenant's current playbook.

The same service as ``POST /v1/playbook/reevaluate`` (and the per-case route), acting as
``cli``, so the audit log tells an operator's move from one made over the API. Without
``--case`` every open case pinned to an older version moves; ``--dry-run`` prints the
moves and writes nothing.
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from orderops.commands.shared import AppFactory, TenantOpt, command_group, default_app, opened_app

# The services (and the database layer) are imported inside the command, so that
# `orderops --help` does not load them.

console = Console()
ACTOR = "cli"


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add `playbook reevaluate` to ``cli``."""
    playbook_cli = command_group(cli, "playbook", "Tenant playbooks and the cases pinned to them.")

    @playbook_cli.command("reevaluate")
    def reevaluate(
        tenant: TenantOpt,
        case: Annotated[
            str | None, typer.Option("--case", help="One case; default: every open case.")
        ] = None,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="List the moves, change nothing.")
        ] = False,
    ) -> None:
        """Move open cases pinned to an older playbook version to the current one."""
        from orderops.recommend import playbook_reevaluation
        from orderops.storage.uow import UnitOfWork

        with opened_app(make_app, console, tenant=tenant, signs=not dry_run) as app:
            if case is None:
                moves = playbook_reevaluation.reevaluate_open_cases(
                    app.sessions, tenant_id=tenant, actor=ACTOR, clock=app.clock, dry_run=dry_run
                )
            else:
                with UnitOfWork(app.sessions, tenant_id=tenant, write=not dry_run) as uow:
                    one = playbook_reevaluation.reevaluate_case(
                        uow, case, actor=ACTOR, now=app.clock.now(), dry_run=dry_run
                    )
                    if not dry_run:
                        uow.commit()
                moves = [one]
        verb = "would move" if dry_run else "moved"
        changed = [m for m in moves if m.changes]
        for m in moves:
            if m.changes:
                console.print(f"case {m.case_id}: v{m.from_version} -> v{m.to_version} ({verb})")
            elif m.from_version is None:
                console.print(f"case {m.case_id}: not recommended yet, nothing pinned")
            else:
                console.print(f"case {m.case_id}: already on v{m.to_version}")
        console.print(f"{len(changed)} case(s) {verb}")
