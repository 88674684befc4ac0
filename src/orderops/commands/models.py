"""`orderops models train|evaluate|promote|retire|list|labels`: a tenant's own models.

``train`` fits a candidate on the tenant's history (a time-based split: earlier part to
learn, later part to score) and registers it; ``evaluate`` scores it beside the model in
force on the same shipments (shadow scoring) and keeps the report; ``promote`` puts it in
force (audited; it needs the report, and a candidate that scored worse than the model in
force needs ``--accept-worse``); ``list`` shows every version with its window, metrics
and shadow figures. The worker picks a promoted model up on its next pass.
Bad input or a refusal is one line on stderr and exit code 2.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from orderops.commands.errors import CONFIG_EXIT
from orderops.commands.shared import (
    AppFactory,
    JsonOpt,
    TenantOpt,
    default_app,
    opened_app,
    print_json,
)
from orderops.domain.errors import OrderOpsError

if TYPE_CHECKING:
    from orderops.bootstrap import App
    from orderops.detect.model_registry import RegisteredModel

KindOpt = Annotated[str, typer.Option("--kind", "-k", help="Model kind: delay or ticket_class.")]
ActorOpt = Annotated[
    str, typer.Option("--actor", help="Who does this (recorded in the registry and audit log).")
]
NumberOpt = Annotated[
    int | None,
    typer.Option("--version", "-v", min=1, help="Version number (default: newest candidate)."),
]


def register(cli: typer.Typer, *, app_factory: AppFactory | None = None) -> None:
    """Add the ``models`` group to ``cli``; tests pass a factory for their own app."""
    factory = app_factory or default_app
    group = typer.Typer(no_args_is_help=True, help="A tenant's learned models and their lifecycle.")
    cli.add_typer(group, name="models")
    console = Console(width=160)

    @contextmanager
    def opened(tenant: str, *, signs: bool) -> Iterator[App]:
        with opened_app(factory, console, tenant=tenant, signs=signs) as app:
            try:
                yield app
            except OrderOpsError as exc:
                typer.echo(f"error: {exc.message}", err=True)
                raise typer.Exit(CONFIG_EXIT) from exc

    @group.command("train")
    def train(tenant: TenantOpt, kind: KindOpt = "delay", actor: ActorOpt = "cli") -> None:
        """Train a candidate on the tenant's own history and register it."""
        with opened(tenant, signs=True) as app:
            version = _trainable(kind)
            from orderops.detect.model_registry_delay import train_delay_candidate
            from orderops.detect.model_registry_tickets import train_ticket_candidate
            from orderops.storage.uow import UnitOfWork

            trainer = train_ticket_candidate if version == "ticket_class" else train_delay_candidate
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                trained = trainer(uow, actor=actor, now=app.clock.now())
                uow.commit()
            console.print(
                f"{version} v{trained.number} trained ({trained.model_version}): "
                f"{_trained_summary(trained)}. Next: `orderops models evaluate "
                f"--tenant {tenant} --kind {version}`",
                soft_wrap=True,
            )

    @group.command("labels")
    def labels(
        tenant: TenantOpt,
        file: Annotated[
            Path,
            typer.Argument(exists=True, dir_okay=False, help="CSV: ticket_ref, class[, source]."),
        ],
        actor: ActorOpt = "cli",
    ) -> None:
        """Record the classes people gave tickets (a helpdesk export): what `train --kind
        ticket_class` learns from. Checked whole first; a bad row stores nothing."""
        with opened(tenant, signs=True) as app:
            from orderops.commands.ticket_labels import MAX_BYTES, read_ticket_labels
            from orderops.resolve.ticket_classes import label_tickets
            from orderops.storage.uow import UnitOfWork

            with file.open("rb") as handle:
                read = read_ticket_labels(handle.read(MAX_BYTES + 1))
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                outcome = label_tickets(uow, read, actor=actor, now=app.clock.now())
                uow.commit()
            console.print(
                f"{outcome.labelled} tickets labelled, {outcome.unchanged} already so; "
                f"{len(outcome.unknown)} refs the tenant has no ticket for"
                + (f" (first: {', '.join(outcome.unknown[:5])})" if outcome.unknown else "")
                + (
                    f"; {len(outcome.ambiguous)} refs in several sources need a source column"
                    if outcome.ambiguous
                    else ""
                ),
                soft_wrap=True,
            )

    @group.command("evaluate")
    def evaluate(
        tenant: TenantOpt,
        kind: KindOpt = "delay",
        number: NumberOpt = None,
        actor: ActorOpt = "cli",
        json_: JsonOpt = False,
    ) -> None:
        """Shadow-score a candidate beside the model in force on the same shipments."""
        with opened(tenant, signs=True) as app:
            version = _trainable(kind)
            from orderops.detect.model_registry_delay import evaluate_delay_candidate
            from orderops.detect.model_registry_tickets import evaluate_ticket_candidate
            from orderops.storage.uow import UnitOfWork

            tickets = version == "ticket_class"
            evaluator = evaluate_ticket_candidate if tickets else evaluate_delay_candidate
            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                scored = evaluator(uow, actor=actor, now=app.clock.now(), number=number)
                uow.commit()
            if json_:
                print_json(scored.to_json())
                return
            console.print(_ticket_shadow_table(scored) if tickets else _shadow_table(scored))

    @group.command("promote")
    def promote(
        tenant: TenantOpt,
        kind: KindOpt = "delay",
        number: NumberOpt = None,
        actor: ActorOpt = "cli",
        accept_worse: Annotated[
            bool,
            typer.Option(help="Promote even if it scored below the model in force."),
        ] = False,
    ) -> None:
        """Put a candidate in force (audited); the version it replaces is retired."""
        with opened(tenant, signs=True) as app:
            model_kind = _kind(kind)
            from orderops.detect import model_registry as registry
            from orderops.domain.model_lifecycle import ModelRegistryError
            from orderops.storage.uow import UnitOfWork

            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                row = (
                    registry.version_row(uow, model_kind, number)
                    if number is not None
                    else registry.latest_candidate(uow, model_kind)
                )
                shadow = row.shadow or {}
                measure = "AUC" if "auc_gain" in shadow else "macro-F1"
                gain = shadow.get("auc_gain", shadow.get("macro_f1_gain"))
                if gain is not None and gain < 0 and not accept_worse:
                    raise ModelRegistryError(
                        f"{row.kind} v{row.number} scored {gain} {measure} below the model in "
                        "force on the same cases; pass --accept-worse to promote it anyway"
                    )
                promoted = registry.promote(uow, row, actor=actor, now=app.clock.now())
                uow.commit()
            console.print(
                f"{promoted.label} promoted by {actor}: the worker scores with it from its "
                "next pass"
            )

    @group.command("retire")
    def retire(
        tenant: TenantOpt,
        number: Annotated[int, typer.Option("--version", "-v", min=1, help="Version number.")],
        kind: KindOpt = "delay",
        actor: ActorOpt = "cli",
    ) -> None:
        """Withdraw a version (a promoted one: the shipped default scores again)."""
        with opened(tenant, signs=True) as app:
            model_kind = _kind(kind)
            from orderops.detect import model_registry as registry
            from orderops.storage.uow import UnitOfWork

            with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
                row = registry.version_row(uow, model_kind, number)
                retired = registry.retire(
                    uow, row, actor=actor, now=app.clock.now(), reason="retired by a person"
                )
                uow.commit()
            console.print(f"{retired.label} retired by {actor}")

    @group.command("list")
    def list_(tenant: TenantOpt, kind: KindOpt = "delay", json_: JsonOpt = False) -> None:
        """Every version of the kind, newest first, with its window, metrics and shadow."""
        with opened(tenant, signs=False) as app:
            model_kind = _kind(kind)
            from orderops.detect.model_registry import list_versions
            from orderops.storage.uow import UnitOfWork

            with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
                versions = list_versions(uow.session, tenant, model_kind)
            if json_:
                print_json(
                    {"tenant": tenant, "kind": kind, "versions": [v.to_json() for v in versions]}
                )
                return
            console.print(_list_table(versions, kind))


def _kind(value: str) -> Any:
    from orderops.domain.model_lifecycle import parse_kind

    return parse_kind(value)


def _trainable(value: str) -> str:
    from orderops.domain.model_lifecycle import ModelKind, ModelRegistryError

    kind = _kind(value)
    if kind not in (ModelKind.DELAY, ModelKind.TICKET_CLASS):
        raise ModelRegistryError(f"{kind} models are not trained by this command")
    return str(kind)


def _trained_summary(trained: RegisteredModel) -> str:
    t, m = trained.training, trained.metrics
    if "train_tickets" in t:
        ours, shipped = m.get("ticket_model", {}), m.get("shipped_default", {})
        keywords = m.get("keyword_baseline", {})
        return (
            f"{t['train_tickets']} labelled tickets (+ {t['seed_texts']} seed texts) to learn, "
            f"{t['test_tickets']} later ones to score; macro-F1 {ours.get('macro_f1')} vs "
            f"shipped {shipped.get('macro_f1')} vs keywords {keywords.get('macro_f1')}"
        )
    model = m.get("delay_model", {})
    return (
        f"{t['train_shipments']} shipments to learn, {t['test_shipments']} later ones to "
        f"score; AUC {model.get('auc')}, early recall {model.get('early_recall')}, "
        f"threshold {t['threshold']}"
    )


def _ticket_shadow_table(version: RegisteredModel) -> Table:
    report = version.shadow or {}
    against = report.get("against", {})
    table = Table(
        title=(
            f"{version.label} beside {against.get('source')} ({against.get('model_version')}) "
            f"on {report.get('tickets')} labelled tickets since "
            f"{report.get('window', {}).get('from', '')[:10]}; agreement {report.get('agreement')}"
        )
    )
    for column in ("classifier", "macro-F1", "accuracy"):
        table.add_column(column)
    for name, key in (
        ("candidate", "candidate"),
        ("in force", "incumbent"),
        ("keyword baseline", "keyword_baseline"),
    ):
        figures = report.get(key) or {}
        f1, accuracy = figures.get("macro_f1", 0), figures.get("accuracy", 0)
        table.add_row(name, f"{f1:.3f}", f"{accuracy:.3f}")
    return table


def _auc(figures: dict[str, Any] | None) -> str:
    value = (figures or {}).get("auc")
    return "-" if value is None else f"{value:.3f}"


def _when(value: Any) -> str:
    return "-" if value is None else f"{value:%Y-%m-%d %H:%M}"


def _list_table(versions: list[RegisteredModel], kind: str) -> Table | str:
    if not versions:
        return (
            f"no {kind} model versions: the shipped default scores (train one with `models train`)"
        )
    table = Table(title=f"{kind} models")
    for column in (
        "version",
        "status",
        "model",
        "trained on",
        "held-out AUC",
        "shadow AUC (vs in force)",
        "created",
        "promoted",
    ):
        table.add_column(column)
    for v in versions:
        shadow = v.shadow or {}
        versus = (
            f"{_auc(shadow.get('candidate'))} vs {_auc(shadow.get('incumbent'))} "
            f"({shadow.get('against', {}).get('source')}, {shadow.get('shipments')} shipments)"
            if shadow
            else "not evaluated"
        )
        table.add_row(
            str(v.number),
            v.status,
            v.model_version,
            f"{_when(v.trained_from)} .. {_when(v.trained_to)}",
            _auc(v.metrics.get("delay_model")),
            versus,
            f"{_when(v.created_at)} by {v.created_by}",
            f"{_when(v.promoted_at)} by {v.promoted_by}" if v.promoted_by else "-",
        )
    return table


def _shadow_table(version: RegisteredModel) -> Table:
    report = version.shadow or {}
    against = report.get("against", {})
    table = Table(
        title=(
            f"{version.label} beside {against.get('source')} ({against.get('model_version')}) "
            f"on {report.get('shipments')} shipments ({report.get('late')} late) since "
            f"{report.get('window', {}).get('from', '')[:10]}; agreement {report.get('agreement')}"
        )
    )
    for column in ("scorer", "AUC", "precision", "recall", "early recall", "median lead h"):
        table.add_column(column)
    rows = [("candidate", report.get("candidate")), ("in force", report.get("incumbent"))]
    rows += list((report.get("baselines") or {}).items())
    for name, figures in rows:
        figures = figures or {}
        lead = figures.get("median_lead_time_hours")
        table.add_row(
            name,
            _auc(figures),
            f"{figures.get('precision', 0):.3f}",
            f"{figures.get('recall', 0):.3f}",
            f"{figures.get('early_recall', 0):.3f}",
            "-" if lead is None else f"{lead:.1f}",
        )
    return table
