"""The delay model's lifecycle on a tenant's own history: train, shadow-score, fit.

Training splits the tenant's finished shipments by time (``delay_evaluation.time_split``):
the model learns from the earlier part (its flagging threshold chosen on the last fifth
of that part, fitted without it) and is scored on the later part beside the plain rules;
that candidate is what the registry keeps, so its metrics were earned on shipments it
never saw. ``evaluate`` is the shadow run: the candidate and the model in force (the
promoted version, else the shipped default) score the same shipments, every one
dispatched after the candidate's cutoff and finished by now, at the same checkpoints, with
each model's own threshold; the report is kept on the candidate and promotion needs it.
"""

from __future__ import annotations

from dataclasses import asdict
from datetime import datetime, timedelta
from typing import Any

from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

from orderops.detect.delay_predicted import generic_record
from orderops.detect.model_registry import (
    RegisteredModel,
    artifact_of,
    latest_candidate,
    promoted_version,
    record_shadow,
    register_candidate,
    version_row,
)
from orderops.detect.model_registry_history import tenant_shipment_records
from orderops.detect.models.delay_evaluation import (
    MODEL,
    NO_SCAN_48H,
    PAST_PROMISE,
    Checkpoint,
    DetectorResult,
    best_threshold,
    checkpoints,
    model_scorer,
    no_scan_scores,
    past_promise_scores,
    score_detector,
    time_split,
)
from orderops.detect.models.delay_features import build_training_rows, features_for
from orderops.detect.models.delay_model import (
    DelayModel,
    DelayModelParams,
    TrainingDataError,
    train_delay_model,
)
from orderops.detect.models.lane_history import LaneHistory
from orderops.detect.models.shipments import ShipmentRecord
from orderops.domain.model_lifecycle import ModelKind, ModelRegistryError
from orderops.storage.uow import UnitOfWork

Points = list[tuple[ShipmentRecord, Checkpoint]]
STEP = timedelta(hours=6)
"""Snapshots every six hours: parcels take days, and a sweep rechecks in hours."""
TEST_FRACTION = 0.3
VALIDATION_FRACTION = 0.2
PARAMS = DelayModelParams()
"""What a tenant's model is trained with (tests set fewer trees)."""
MIN_FINISHED = 40
"""Fewer finished shipments than this cannot give a split with both outcomes on each side."""


def fit_delay_model(
    records: list[ShipmentRecord],
    history: LaneHistory,
    *,
    step: timedelta = STEP,
    params: DelayModelParams | None = None,
) -> DelayModel:
    """Fit on ``records`` (finished ones); threshold = best early F1 on their last fifth,
    fitted without it, as ``evaluate_delay_model`` chooses it. One thread: a tenant's
    history is small, and the worker's processes share the machine."""
    params = params or PARAMS
    with threadpool_limits(limits=1):
        features = features_for(records)
        fit_part, validation, _ = time_split(records, VALIDATION_FRACTION)
        early = train_delay_model(
            build_training_rows(fit_part, history, step=step), params=params, features=features
        )
        points = [(r, p) for r in validation for p in checkpoints(r, history, step=step)]
        threshold = best_threshold(points, model_scorer(early)(points))
        rows = build_training_rows(records, history, step=step)
        return train_delay_model(rows, params=params, threshold=threshold, features=features)


def _result(result: DetectorResult) -> dict[str, Any]:
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in asdict(result).items()}


def _scored(
    records: list[ShipmentRecord],
    history: list[ShipmentRecord],
    models: dict[str, tuple[DelayModel, bool]],
    *,
    step: timedelta,
) -> tuple[
    dict[str, DetectorResult], list[tuple[ShipmentRecord, Checkpoint]], dict[str, list[float]]
]:
    """Each model (and the plain rules) on the same checkpoints of ``records``; a model
    marked generic sees them without names, as it does live (``generic_record``)."""
    lanes = LaneHistory(history)
    points = [(r, p) for r in records for p in checkpoints(r, lanes, step=step)]
    scores: dict[str, list[float]] = {}
    for name, (model, generic) in models.items():
        seen = points
        if generic:
            plain = LaneHistory(generic_record(r) for r in history)
            seen = [
                (g, p)
                for g in (generic_record(r) for r in records)
                for p in checkpoints(g, plain, step=step)
            ]
        with threadpool_limits(limits=1):
            scores[name] = model_scorer(model)(seen)
    scores[PAST_PROMISE] = past_promise_scores(points)
    scores[NO_SCAN_48H] = no_scan_scores(points)
    thresholds = {name: model.threshold for name, (model, _) in models.items()}
    results = {
        name: score_detector(name, records, points, values, thresholds.get(name, 1.0))
        for name, values in scores.items()
    }
    return results, points, scores


def train_delay_candidate(
    uow: UnitOfWork, *, actor: str, now: datetime, step: timedelta = STEP
) -> RegisteredModel:
    """Train on the tenant's history up to ``now`` and register the candidate."""
    records = tenant_shipment_records(uow.session, uow.tenant_id, dispatched_before=now)
    finished = [r for r in records if r.finished]
    if len(finished) < MIN_FINISHED:
        raise ModelRegistryError(
            f"tenant {uow.tenant_id} has {len(finished)} delivered shipments with a promise; "
            f"training needs at least {MIN_FINISHED}"
        )
    train, test, cutoff = time_split(finished, TEST_FRACTION)
    try:
        model = fit_delay_model(train, LaneHistory(records), step=step)
        results, points, _ = _scored(test, records, {MODEL: (model, False)}, step=step)
    except TrainingDataError as exc:
        raise ModelRegistryError(
            f"tenant {uow.tenant_id}'s history cannot train a delay model: {exc.message} "
            "(the earlier and the later part each need late and on-time deliveries)"
        ) from exc
    training = {
        "cutoff": cutoff.isoformat(),
        "train_shipments": len(train),
        "test_shipments": len(test),
        "test_late": sum(1 for r in test if r.late),
        "test_snapshots": sum(1 for _, p in points if p.before_promise),
        "step_hours": step / timedelta(hours=1),
        "threshold": model.threshold,
        "params": asdict(model.params),
    }
    return register_candidate(
        uow,
        kind=ModelKind.DELAY,
        model_version=model.version,
        artifact=model.to_bytes(),
        trained_from=train[0].dispatched_at if train else None,
        trained_to=cutoff,
        training=training,
        metrics={name: _result(r) for name, r in results.items()},
        actor=actor,
        now=now,
    )


def incumbent(uow: UnitOfWork) -> tuple[DelayModel, bool, dict[str, Any]]:
    """The model in force for the tenant (promoted, else the shipped default, which is
    generic), described."""
    from orderops.detect.model_registry_scoring import SHIPPED_SOURCE, shipped_delay_model

    current = promoted_version(uow.session, uow.tenant_id, ModelKind.DELAY)
    if current is None:
        model = shipped_delay_model()
        return model, True, {"source": SHIPPED_SOURCE, "model_version": model.version}
    data = artifact_of(uow.session, uow.tenant_id, current.id)
    model = DelayModel.from_bytes(data, origin=current.label)
    return (
        model,
        False,
        {
            "source": f"promoted v{current.number}",
            "number": current.number,
            "model_version": current.model_version,
        },
    )


def evaluate_delay_candidate(
    uow: UnitOfWork, *, actor: str, now: datetime, number: int | None = None
) -> RegisteredModel:
    """Shadow-score a candidate (the newest, or ``number``) beside the model in force."""
    row = (
        version_row(uow, ModelKind.DELAY, number)
        if number is not None
        else latest_candidate(uow, ModelKind.DELAY)
    )
    candidate = DelayModel.from_bytes(artifact_of(uow.session, uow.tenant_id, row.id))
    current, generic, described = incumbent(uow)
    cutoff = row.trained_to or now
    records = tenant_shipment_records(uow.session, uow.tenant_id, dispatched_before=now)
    window = [r for r in records if r.finished and r.dispatched_at >= cutoff]
    try:
        results, points, scores = _scored(
            window,
            records,
            {"candidate": (candidate, False), "incumbent": (current, generic)},
            step=timedelta(hours=float(row.training.get("step_hours", 6))),
        )
    except TrainingDataError as exc:
        raise ModelRegistryError(
            f"too few finished shipments since v{row.number}'s cutoff ({cutoff:%Y-%m-%d}) "
            f"to compare it with the model in force: {exc.message}"
        ) from exc
    report = {
        "against": described,
        "window": {"from": cutoff.isoformat(), "to": now.isoformat()},
        "shipments": len(window),
        "late": sum(1 for r in window if r.late),
        "snapshots": sum(1 for _, p in points if p.before_promise),
        "candidate": _result(results["candidate"]),
        "incumbent": _result(results["incumbent"]),
        "baselines": {name: _result(results[name]) for name in (PAST_PROMISE, NO_SCAN_48H)},
        "agreement": _agreement(points, scores, candidate.threshold, current.threshold),
        "auc_gain": round(results["candidate"].auc - results["incumbent"].auc, 4),
    }
    return record_shadow(uow, row, report, actor=actor, now=now)


def _agreement(
    points: list[tuple[ShipmentRecord, Checkpoint]],
    scores: dict[str, list[float]],
    candidate_threshold: float,
    incumbent_threshold: float,
) -> float:
    """Share of shipments both models flag alike (both at some checkpoint, or neither)."""
    flags: dict[str, list[bool]] = {}
    for (record, _), a, b in zip(points, scores["candidate"], scores["incumbent"], strict=True):
        seen = flags.setdefault(record.shipment_id, [False, False])
        seen[0] = seen[0] or a >= candidate_threshold
        seen[1] = seen[1] or b >= incumbent_threshold
    if not flags:
        return 1.0
    return round(sum(1 for a, b in flags.values() if a == b) / len(flags), 4)
