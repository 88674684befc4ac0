"""`orderops eval recommend --from-history`: the engine's advice now against the actions
people approved on a tenant's resolved cases; auto-approved actions and cases nobody chose
for are left out. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import typer
from sqlalchemy import delete
from typer.testing import CliRunner, Result

from builders.similar_corpus import write_corpus
from orderops.bootstrap import App
from orderops.commands import recommend as recommend_commands
from orderops.commands.errors import CleanErrors
from orderops.domain.actions import ActionKind, ActionStatus
from orderops.domain.clock import FixedClock
from orderops.recommend.engine import recommend
from orderops.recommend.history_evaluation import evaluate_history
from orderops.recommend.service import current_playbook
from orderops.recommend.store_facts import case_facts
from orderops.storage.tables import Action
from orderops.storage.uow import UnitOfWork


def _run(app: App, *args: str) -> Result:
    shell = typer.Typer(cls=CleanErrors)
    recommend_commands.register(shell, make_app=lambda: app)
    return CliRunner().invoke(shell, list(args), env={"COLUMNS": "200"})


def _history(app: App, clock: FixedClock) -> None:
    """Four resolved cases: one approved as the engine advises, one approved otherwise,
    one approved only by an auto-policy, one with nothing approved."""
    corpus = write_corpus(app.sessions, tenant_id="acme", now=clock.now(), resolved=4)
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.execute(delete(Action).where(Action.case_id.in_(corpus.resolved)))
        playbook, _ = current_playbook(uow)
        for n, case_id in enumerate(corpus.resolved):
            case = uow.cases.get(case_id)
            assert case is not None
            decided = case.opened_at + timedelta(hours=1)
            ranked = [
                str(k)
                for k in recommend(case_facts(uow, case, now=decided), playbook).ranked_kinds()
            ]
            assert ranked
            if n == 0:
                kind, auto = ranked[0], None
            elif n == 1:
                kind, auto = next(str(k) for k in ActionKind if str(k) not in ranked[:3]), None
            elif n == 2:
                kind, auto = ranked[0], "auto-small-refund"
            else:
                continue
            uow.session.add(
                Action(
                    tenant_id="acme",
                    case_id=case_id,
                    kind=kind,
                    params={},
                    status=str(ActionStatus.EXECUTED),
                    proposed_by="ops@acme.test",
                    created_at=decided,
                    auto_rule=auto,
                )
            )
        uow.commit()


def test_history_counts_what_people_approved_against_the_advice(
    app: App, clock: FixedClock
) -> None:
    _history(app, clock)
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        result = evaluate_history(uow)
    assert result.cases == 2
    assert result.without_choice == 2
    assert result.top1_rate == 0.5
    assert result.top3_rate == 0.5
    assert result.playbook_version == 0
    with UnitOfWork(app.sessions, tenant_id="globex", write=False) as uow:
        assert evaluate_history(uow).cases == 0


def test_the_cli_prints_and_writes_the_history_figures(
    app: App, clock: FixedClock, tmp_path: Path
) -> None:
    _history(app, clock)
    out = tmp_path / "history.json"
    result = _run(
        app, "eval", "recommend", "--from-history", "--tenant", "acme", "--json", str(out)
    )
    assert result.exit_code == 0, result.output
    printed = " ".join(result.output.split())  # rich wraps at the terminal's width
    assert "2 resolved cases scored, 2 without an action" in printed
    assert "top-1 50.0% BELOW AIM (aim 70%)" in printed
    figures = json.loads(out.read_text("utf-8"))
    assert (figures["cases"], figures["top1"], figures["without_choice"]) == (2, 0.5, 2)


def test_from_history_needs_a_known_tenant(app: App) -> None:
    missing = _run(app, "eval", "recommend", "--from-history")
    unknown = _run(app, "eval", "recommend", "--from-history", "--tenant", "nobody")
    stray = _run(app, "eval", "recommend", "--tenant", "acme")
    assert missing.exit_code == 2
    assert "--from-history needs --tenant" in missing.output
    assert unknown.exit_code == 2
    assert "no tenant 'nobody'" in unknown.output
    assert stray.exit_code == 2
