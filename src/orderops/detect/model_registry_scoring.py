"""The delay scorer a tenant's sweep uses: its promoted model, else the shipped default.

The worker asks once per tenant and pass (``tenant_detectors``): one small query for the
promoted version's id; its bytes are read and loaded only when that version is new to
this process (models are cached by their bytes' hash). The shipped default
(``detect/models/shipped/delay.skops``, trained on public data by
``scripts/train_shipped_delay_model.py``) is read from the package once.

The lane history the lane feature reads is the tenant's own recent deliveries, whatever
the model was trained on, rebuilt at most every ``LANE_REFRESH`` of business time.
A promoted version that cannot be loaded (a library upgrade, damage) is logged, and the
shipped default scores instead, so a bad model never silences the detector nor the sweep.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session, sessionmaker

from orderops.detect.delay_predicted import DelayScorer, generic_record
from orderops.detect.model_registry import artifact_of, promoted_version
from orderops.detect.registry import build_detectors
from orderops.detect.verdict import Detector
from orderops.domain.model_lifecycle import ModelKind
from orderops.storage.uow import UnitOfWork

if TYPE_CHECKING:
    # scikit-learn loads on the first scoring, not when the worker module is imported.
    from orderops.detect.models.delay_model import DelayModel
    from orderops.detect.models.lane_history import LaneHistory

log = logging.getLogger(__name__)

SHIPPED_DELAY = "shipped/delay.skops"
SHIPPED_CARD = "shipped/delay.card.json"
SHIPPED_SOURCE = "shipped default"
LANE_REFRESH = timedelta(minutes=15)
MODEL_CACHE_SIZE = 32


@cache
def shipped_delay_model() -> DelayModel:
    """The default delay model in the package (read once per process)."""
    from orderops.detect.models.delay_model import DelayModel

    data = resources.files("orderops.detect.models").joinpath(SHIPPED_DELAY).read_bytes()
    return DelayModel.from_bytes(data, origin=SHIPPED_DELAY)


@cache
def shipped_late_share() -> float:
    """The late share of the data the shipped default learned from (its card)."""
    card = resources.files("orderops.detect.models").joinpath(SHIPPED_CARD).read_text()
    return float(json.loads(card)["late_share"])


@dataclass
class _Lanes:
    owner: weakref.ref[sessionmaker[Session]]
    """The session factory it was read through: an id can be reused once that is gone."""
    built_at: datetime
    history: LaneHistory
    generic: LaneHistory


_lock = threading.Lock()
_models: dict[str, DelayModel] = {}
_lanes: dict[tuple[int, str], _Lanes] = {}


def _cached_model(sha256: str, load: Callable[[], bytes], origin: str) -> DelayModel:
    from orderops.detect.models.delay_model import DelayModel

    with _lock:
        model = _models.get(sha256)
    if model is None:
        model = DelayModel.from_bytes(load(), origin=origin)
        with _lock:
            if len(_models) >= MODEL_CACHE_SIZE:
                _models.pop(next(iter(_models)))
            _models[sha256] = model
    return model


def lane_history(
    sessions: sessionmaker[Session], tenant_id: str, *, now: datetime, generic: bool = False
) -> LaneHistory:
    """The tenant's deliveries of the last lane window, as of ``now`` (cached briefly);
    ``generic``: all of them as one lane, for a model that knows no lane names."""
    from orderops.detect.model_registry_history import tenant_shipment_records
    from orderops.detect.models.lane_history import DEFAULT_WINDOW, LaneHistory

    key = (id(sessions), tenant_id)
    with _lock:
        cached = _lanes.get(key)
    if (
        cached is not None
        and cached.owner() is sessions
        and cached.built_at <= now < cached.built_at + LANE_REFRESH
    ):
        return cached.generic if generic else cached.history
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        records = tenant_shipment_records(
            uow.session, tenant_id, delivered_since=now - DEFAULT_WINDOW
        )
    lanes = _Lanes(
        owner=weakref.ref(sessions),
        built_at=now,
        history=LaneHistory(records),
        generic=LaneHistory(generic_record(r) for r in records),
    )
    with _lock:
        for gone in [k for k, v in _lanes.items() if v.owner() is None]:
            del _lanes[gone]
        _lanes[key] = lanes
    return lanes.generic if generic else lanes.history


def delay_scorer_for(
    sessions: sessionmaker[Session], tenant_id: str, *, now: datetime
) -> DelayScorer:
    """The tenant's promoted delay model (else the shipped default) with its lane history."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        current = promoted_version(uow.session, tenant_id, ModelKind.DELAY)
        model, source = None, SHIPPED_SOURCE
        if current is not None:
            try:
                model = _cached_model(
                    current.artifact_sha256,
                    lambda: artifact_of(uow.session, tenant_id, current.id),
                    current.label,
                )
                source = f"promoted v{current.number}"
            except Exception:  # any failure to load falls back to the default, logged
                log.exception(
                    "tenant %s: %s cannot be loaded; scoring with the shipped default",
                    tenant_id,
                    current.label,
                )
    generic = model is None
    return DelayScorer(
        model=model or shipped_delay_model(),
        history=lane_history(sessions, tenant_id, now=now, generic=generic),
        source=source,
        generic=generic,
        trained_late_share=shipped_late_share() if generic else None,
    )


def tenant_detectors(
    sessions: sessionmaker[Session], *, tenant_id: str, now: datetime
) -> tuple[Detector, ...]:
    """Every order detector, the predicted-delay one scoring with the tenant's model."""
    return build_detectors(delay_scorer=delay_scorer_for(sessions, tenant_id, now=now))
