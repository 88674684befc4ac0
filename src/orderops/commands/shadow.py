"""`orderops shadow start|stop|report|promote|approve|withdraw`: a candidate policy run
beside the live one on live events (workflow/shadow.py), and its promotion.

Thin shells over the same services as ``/v1/shadow``. Every change names the person it is
done for (``--as``, a user id of an administrator), as the audit log records it: promotion
is proposed by one administrator and takes effect when another approves it. A refusal (a
bad candidate file, no candidate running, the proposer approving) prints why and exits 1.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from orderops.commands.shared import (
    AppFactory,
    JsonOpt,
    TenantOpt,
    default_app,
    opened_app,
    print_json,
)

if TYPE_CHECKING:
    from orderops.workflow.shadow import CandidateInfo
    from orderops.workflow.shadow_report import ShadowView

console = Console()
AsAdmin = Annotated[
    str, typer.Option("--as", help="The user id of the administrator acting (audited).")
]


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add the `shadow` group to ``cli``."""
    shadow_cli = typer.Typer(
        no_args_is_help=True, help="Run a candidate policy beside the live one, and promote it."
    )
    cli.add_typer(shadow_cli, name="shadow")

    @shadow_cli.command("start")
    def start(
        tenant: TenantOpt,
        candidate: Annotated[
            Path, typer.Option("--candidate", help="The candidate policy file (YAML).")
        ],
        as_user: AsAdmin,
    ) -> None:
        """Run the candidate on live events from now on, recording what it would do."""
        from orderops.domain.policy import InvalidPolicy
        from orderops.workflow import shadow
        from orderops.workflow.candidate_policy import MAX_CANDIDATE_BYTES

        with opened_app(make_app, console, tenant=tenant, signs=True) as app:
            if not candidate.is_file() or candidate.stat().st_size > MAX_CANDIDATE_BYTES:
                raise InvalidPolicy(
                    [f"{candidate}: not a file of at most {MAX_CANDIDATE_BYTES} bytes"]
                )
            text = candidate.read_text("utf-8", errors="replace")
            who = shadow.admin_principal(app.sessions, tenant_id=tenant, user_id=as_user)
            found = shadow.start(
                app.sessions, tenant_id=tenant, text=text, actor=who.identity, clock=app.clock
            )
            _said(found, "running")

    def acting(tenant: str, as_user: str, move: str) -> None:
        """``move`` of the running candidate, done for the administrator ``as_user``."""
        from orderops.workflow import shadow

        with opened_app(make_app, console, tenant=tenant, signs=True) as app:
            who = shadow.admin_principal(app.sessions, tenant_id=tenant, user_id=as_user)
            if move == "approve":
                found = shadow.approve_promotion(
                    app.sessions, tenant_id=tenant, principal=who, clock=app.clock
                )
                _said(found, f"promoted: {found.promoted_versions or 'nothing differed'}")
                return
            service, said = {
                "stop": (shadow.stop, "stopped"),
                "promote": (shadow.propose_promotion, "proposed; another administrator approves"),
                "withdraw": (shadow.withdraw_promotion, "promotion withdrawn; still running"),
            }[move]
            found = service(app.sessions, tenant_id=tenant, actor=who.identity, clock=app.clock)
            _said(found, said)

    @shadow_cli.command("stop")
    def stop(tenant: TenantOpt, as_user: AsAdmin) -> None:
        """Stop the running candidate (its decisions and report stay readable)."""
        acting(tenant, as_user, "stop")

    @shadow_cli.command("promote")
    def promote(tenant: TenantOpt, as_user: AsAdmin) -> None:
        """Propose the running candidate as the live policy; another admin approves."""
        acting(tenant, as_user, "promote")

    @shadow_cli.command("approve")
    def approve(tenant: TenantOpt, as_user: AsAdmin) -> None:
        """Approve the proposed promotion (not its proposer): the live policies change."""
        acting(tenant, as_user, "approve")

    @shadow_cli.command("withdraw")
    def withdraw(tenant: TenantOpt, as_user: AsAdmin) -> None:
        """Turn down the proposed promotion; the candidate keeps running."""
        acting(tenant, as_user, "withdraw")

    @shadow_cli.command("report")
    def report(tenant: TenantOpt, json_: JsonOpt = False) -> None:
        """The candidate's divergence from live since it started, per exception type."""
        from orderops.domain.scopes import UNRESTRICTED
        from orderops.workflow.shadow_report import read_view

        with opened_app(make_app, console, tenant=tenant) as app:
            view = read_view(
                app.sessions, tenant_id=tenant, scope=UNRESTRICTED, now=app.clock.now()
            )
        if json_:
            print_json(_document(view))
            return
        if view is None:
            console.print("no shadow candidate has run for this tenant")
            return
        _said(view.candidate, view.candidate.status)
        for t in view.report.types:
            console.print(
                f"{t.exception_type}: candidate opened {t.candidate_opened}, live opened "
                f"{t.live_opened} ({t.live_by_sweep} by sweeps); only candidate "
                f"{t.only_candidate}, only live {t.only_live}; candidate earlier {t.earlier}, "
                f"later {t.later} (net {t.hours_earlier:+.1f} h); changed "
                + ", ".join(f"{k} {v}" for k, v in t.changed.items()),
                highlight=False,
                soft_wrap=True,
            )
        console.print(f"{view.report.divergent} difference(s); {len(view.diff)} policy change(s)")


def _said(found: CandidateInfo, what: str) -> None:
    console.print(
        f"shadow candidate v{found.version} ({found.id}): {what}", highlight=False, soft_wrap=True
    )


def _document(view: ShadowView | None) -> dict[str, object]:
    if view is None:
        return {"candidate": None, "report": None, "policy_diff": []}
    from dataclasses import asdict

    return {
        "candidate": asdict(view.candidate),
        "report": view.report.as_json(),
        "policy_diff": view.diff,
    }
