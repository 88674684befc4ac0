"""The model registry: a tenant trains a delay model on its own history, scores it beside
the model in force, promotes it (audited), and the worker scores with it; a fresh
install scores with the shipped default. Bad requests are one line and exit code 2."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import typer
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from typer.testing import CliRunner, Result

from builders.events import order_placed, scan, shipment
from builders.shipment_history import write_shipment_history
from orderops.bootstrap import App
from orderops.commands import models as models_commands
from orderops.commands.errors import CleanErrors
from orderops.detect import model_registry as registry
from orderops.detect import model_registry_delay
from orderops.detect.model_registry_history import tenant_shipment_records
from orderops.detect.model_registry_scoring import delay_scorer_for
from orderops.detect.models.delay_model import DelayModelParams
from orderops.domain.clock import FixedClock
from orderops.domain.model_lifecycle import ModelKind, ModelStatus
from orderops.ingest.intake import accept_items
from orderops.storage.repositories.cases import CaseFilter
from orderops.storage.tables import AuditRecord, ModelVersionRow
from orderops.storage.uow import UnitOfWork
from orderops.workflow.worker import run_once


@pytest.fixture(autouse=True)
def few_trees(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tenant models train with 30 trees here: the lifecycle is the subject, not accuracy."""
    monkeypatch.setattr(model_registry_delay, "PARAMS", DelayModelParams(max_iter=30))


def _run(app: App, *args: str) -> Result:
    cli = typer.Typer(cls=CleanErrors)
    models_commands.register(cli, app_factory=lambda: app)
    return CliRunner().invoke(cli, list(args))


def _versions(app: App, tenant: str = "acme") -> list[registry.RegisteredModel]:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        return registry.list_versions(uow.session, tenant, ModelKind.DELAY)


def _model_audit(app: App) -> list[str]:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        return list(
            uow.session.scalars(
                select(AuditRecord.action)
                .where(AuditRecord.entity_type == registry.ENTITY)
                .order_by(AuditRecord.seq)
            )
        )


def test_a_candidate_is_trained_scored_in_shadow_promoted_and_then_used_by_the_worker(
    app: App, clock: FixedClock
) -> None:
    write_shipment_history(app, "acme", until=clock.now())

    trained = _run(app, "models", "train", "--tenant", "acme", "--kind", "delay", "--actor", "ana")
    early = _run(app, "models", "promote", "--tenant", "acme", "--kind", "delay")

    assert trained.exit_code == 0, trained.output
    assert "delay v1 trained" in trained.output
    assert early.exit_code == 2
    assert "has not been scored beside the model in force" in early.output
    (candidate,) = _versions(app)
    assert candidate.status == ModelStatus.CANDIDATE
    assert candidate.created_by == "ana"
    assert candidate.trained_from is not None
    assert candidate.trained_to is not None
    assert candidate.trained_from < candidate.trained_to < clock.now()
    assert candidate.training["train_shipments"] + candidate.training["test_shipments"] <= 90
    assert candidate.metrics["delay_model"]["auc"] > 0.6, "the region pattern is learnable"

    evaluated = _run(app, "models", "evaluate", "--tenant", "acme", "--kind", "delay", "--json")
    promoted = _run(
        app, "models", "promote", "--tenant", "acme", "--kind", "delay", "--actor", "bo"
    )

    assert evaluated.exit_code == 0, evaluated.output
    assert '"against"' in evaluated.output
    assert promoted.exit_code == 0, promoted.output
    (version,) = _versions(app)
    assert version.shadow is not None
    assert version.shadow["against"]["source"] == "shipped default"
    assert version.shadow["shipments"] == candidate.training["test_shipments"]
    assert set(version.shadow) >= {"candidate", "incumbent", "baselines", "agreement"}
    assert (version.status, version.promoted_by) == (ModelStatus.PROMOTED, "bo")
    assert _model_audit(app) == ["model.trained", "model.evaluated", "model.promoted"]

    scorer = delay_scorer_for(app.sessions, "acme", now=clock.now())
    assert (scorer.source, scorer.model.version, scorer.generic) == (
        "promoted v1",
        version.model_version,
        False,
    )
    other = delay_scorer_for(app.sessions, "globex", now=clock.now())
    assert (other.source, other.generic) == ("shipped default", True)


def test_a_second_version_replaces_the_first_which_is_retired(app: App, clock: FixedClock) -> None:
    write_shipment_history(app, "acme", until=clock.now())
    for actor in ("ana", "bo"):
        assert _run(app, "models", "train", "-t", "acme", "--actor", actor).exit_code == 0
        assert _run(app, "models", "evaluate", "-t", "acme").exit_code == 0
        answer = _run(app, "models", "promote", "-t", "acme", "--accept-worse", "--actor", actor)
        assert answer.exit_code == 0, answer.output
        clock.advance(timedelta(hours=1))

    second, first = _versions(app)
    listed = _run(app, "models", "list", "-t", "acme", "--kind", "delay")

    assert (second.number, second.status) == (2, ModelStatus.PROMOTED)
    assert (first.number, first.status, first.retired_by) == (1, ModelStatus.RETIRED, "bo")
    assert second.shadow is not None
    assert second.shadow["against"] == {
        "source": "promoted v1",
        "number": 1,
        "model_version": first.model_version,
    }
    assert listed.exit_code == 0
    assert "promoted" in listed.output
    assert "retired" in listed.output
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        found = registry.promoted_model(uow.session, "acme", ModelKind.DELAY)
        assert registry.promoted_model(uow.session, "acme", ModelKind.TICKET_CLASS) is None
    assert found is not None
    assert found.version.number == 2
    assert len(found.artifact) == second.artifact_bytes


def test_the_database_keeps_one_promoted_version_per_tenant_and_kind(
    app: App, clock: FixedClock
) -> None:
    def row(number: int) -> ModelVersionRow:
        return ModelVersionRow(
            tenant_id="acme",
            kind=ModelKind.DELAY,
            number=number,
            model_version=f"delay-{number}",
            status=ModelStatus.PROMOTED,
            artifact_format="skops",
            artifact=b"x",
            artifact_sha256="0" * 64,
            artifact_bytes=1,
            training={},
            metrics={},
            created_at=clock.now(),
            created_by="test",
        )

    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.add(row(1))
        uow.session.flush()
        uow.session.add(row(2))
        with pytest.raises(IntegrityError):
            uow.session.flush()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["train", "-t", "acme"], "has 0 delivered shipments with a promise"),
        (["train", "-t", "acme", "--kind", "weather"], "unknown model kind 'weather'"),
        (["train", "-t", "acme", "--kind", "ticket_class"], "has 0 tickets people classified"),
        (["evaluate", "-t", "acme"], "has no delay candidate"),
        (["promote", "-t", "acme", "--version", "3"], "has no delay model version 3"),
        (["list", "-t", "nobody"], "no tenant 'nobody'"),
    ],
)
def test_bad_requests_are_one_line_and_exit_code_2(app: App, args: list[str], message: str) -> None:
    answer = _run(app, "models", *args)

    assert answer.exit_code == 2, answer.output
    assert message in answer.output
    assert "Traceback" not in answer.output
    assert _versions(app) == []


def test_a_fresh_install_predicts_delays_with_the_shipped_default(
    app: App, clock: FixedClock
) -> None:
    """No model of its own yet, only its deliveries: parcels take three days and most of
    them arrive late. One promised a day after it left is scored by the shipped default
    against those transits and opens a case; one promised in six days does not."""
    now = clock.now()
    write_shipment_history(app, "acme", until=now, late_share={"CA": 0.9, "NY": 0.9})
    items = [
        order_placed("o-late", at=now - timedelta(hours=10), promised_by=now + timedelta(hours=20)),
        shipment("o-late", at=now - timedelta(hours=4), tracking="1ZLATE"),
        scan("in_transit", at=now - timedelta(hours=2), tracking="1ZLATE", order_ref="o-late"),
        order_placed("o-fine", at=now - timedelta(hours=10), promised_by=now + timedelta(days=6)),
        shipment("o-fine", at=now - timedelta(hours=4), tracking="1ZFINE"),
    ]
    accept_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)

    run_once(app, writeback=False)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        page = uow.cases.search(
            CaseFilter(order_ref="o-late", exception_type=["shipment_delay_predicted"]),
            limit=10,
            offset=0,
        )
        (case,) = page.items
        facts = dict(case.facts)
        fine = uow.cases.search(
            CaseFilter(order_ref="o-fine", exception_type=["shipment_delay_predicted"]),
            limit=10,
            offset=0,
        )
    assert facts["model_source"] == "shipped default"
    assert facts["score"] >= facts["threshold"]
    assert fine.items == []


def test_a_promoted_model_that_cannot_be_loaded_leaves_the_shipped_default_scoring(
    app: App, clock: FixedClock
) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.add(
            ModelVersionRow(
                tenant_id="acme",
                kind=ModelKind.DELAY,
                number=1,
                model_version="delay-damaged",
                status=ModelStatus.PROMOTED,
                artifact_format="skops",
                artifact=b"damaged bytes",
                artifact_sha256="1" * 64,
                artifact_bytes=13,
                training={},
                metrics={},
                created_at=clock.now(),
                created_by="test",
            )
        )
        uow.commit()

    scorer = delay_scorer_for(app.sessions, "acme", now=clock.now())

    assert (scorer.source, scorer.generic) == ("shipped default", True)


def test_history_rows_read_as_the_live_detector_reads_a_parcel(app: App, clock: FixedClock) -> None:
    now = clock.now()
    placed = now - timedelta(days=4)
    items = [
        order_placed("o-1", at=placed, promised_by=placed + timedelta(days=3)),
        shipment("o-1", at=placed + timedelta(hours=2), tracking="1ZA"),
        scan("label_created", at=placed + timedelta(hours=2), tracking="1ZA", order_ref="o-1"),
        scan("in_transit", at=placed + timedelta(hours=5), tracking="1ZA", order_ref="o-1"),
        scan("delivered", at=placed + timedelta(days=3, hours=4), tracking="1ZA", order_ref="o-1"),
    ]
    accept_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    run_once(app, writeback=False)

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (record,) = tenant_shipment_records(uow.session, "acme")
        assert tenant_shipment_records(uow.session, "globex") == []
        (before,) = tenant_shipment_records(
            uow.session, "acme", dispatched_before=placed + timedelta(days=1)
        )

    assert (record.shipment_id, record.carrier) == ("1ZA", "ups")
    assert record.dispatched_at == placed + timedelta(hours=5), "the first carrier scan"
    assert record.promised_at == placed + timedelta(days=3)
    assert record.late
    assert record.scan_times == (placed + timedelta(hours=5), placed + timedelta(days=3, hours=4))
    assert before.delivered_at is None, "not yet known a day after dispatch"


def test_the_json_listing_names_every_version_with_its_window_and_metrics(
    app: App, clock: FixedClock
) -> None:
    write_shipment_history(app, "acme", until=clock.now())
    assert _run(app, "models", "train", "-t", "acme").exit_code == 0

    answer = _run(app, "models", "list", "-t", "acme", "--json")
    empty = _run(app, "models", "list", "-t", "globex", "--json")

    assert answer.exit_code == 0, answer.output
    listed = json.loads(answer.output)
    (version,) = listed["versions"]
    assert (listed["tenant"], listed["kind"]) == ("acme", "delay")
    assert (version["number"], version["status"], version["shadow"]) == (1, "candidate", None)
    assert version["trained_to"] == version["training"]["cutoff"]
    assert set(version["metrics"]) == {"delay_model", "past_promise", "no_scan_48h"}
    assert "artifact" not in version
    assert json.loads(empty.output)["versions"] == []


def test_retiring_the_promoted_version_hands_scoring_back_to_the_shipped_default(
    app: App, clock: FixedClock
) -> None:
    write_shipment_history(app, "acme", until=clock.now())
    for step in (["train"], ["evaluate"], ["promote", "--accept-worse"]):
        assert _run(app, "models", *step, "-t", "acme").exit_code == 0
    assert delay_scorer_for(app.sessions, "acme", now=clock.now()).source == "promoted v1"

    retired = _run(app, "models", "retire", "-t", "acme", "--version", "1", "--actor", "cy")
    again = _run(app, "models", "promote", "-t", "acme", "--version", "1")

    assert retired.exit_code == 0, retired.output
    assert again.exit_code == 2
    assert "a retired model version cannot become promoted" in again.output
    (version,) = _versions(app)
    assert (version.status, version.retired_by) == (ModelStatus.RETIRED, "cy")
    assert delay_scorer_for(app.sessions, "acme", now=clock.now()).source == "shipped default"
    assert _model_audit(app)[-1] == "model.retired"
