"""A tenant's learned models and their lifecycle: which kinds exist, and the legal moves.

A model version is trained as a ``candidate``, is scored beside the model in force
(shadow scoring) before anyone may promote it, becomes ``promoted`` (at most one per
tenant and kind: the database holds that), and is ``retired`` when another takes its
place or a person withdraws it. A retired version never comes back: training again
gives a new version, so the record of what scored which case stays true.
"""

from __future__ import annotations

from enum import StrEnum

from orderops.domain.errors import IllegalTransition, OrderOpsError


class ModelKind(StrEnum):
    DELAY = "delay"
    """Will this open shipment miss its promise? (detect/delay_predicted.py)"""
    TICKET_CLASS = "ticket_class"
    """What is this support ticket about? (the ticket classifier)"""


class ModelStatus(StrEnum):
    CANDIDATE = "candidate"
    PROMOTED = "promoted"
    RETIRED = "retired"


TRANSITIONS: dict[ModelStatus, frozenset[ModelStatus]] = {
    ModelStatus.CANDIDATE: frozenset({ModelStatus.PROMOTED, ModelStatus.RETIRED}),
    ModelStatus.PROMOTED: frozenset({ModelStatus.RETIRED}),
    ModelStatus.RETIRED: frozenset(),
}


class ModelRegistryError(OrderOpsError):
    """A registry request that cannot be carried out as asked (no such version, no
    evaluation before promotion, too little history to train on)."""

    code = "model-registry"


def check_move(current: ModelStatus, target: ModelStatus) -> None:
    """Raise ``IllegalTransition`` unless ``current -> target`` is in ``TRANSITIONS``."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"a {current} model version cannot become {target}")


def parse_kind(value: str) -> ModelKind:
    """The kind named by ``value``, or a ``ModelRegistryError`` naming the known kinds."""
    try:
        return ModelKind(value)
    except ValueError:
        known = ", ".join(k.value for k in ModelKind)
        raise ModelRegistryError(f"unknown model kind {value!r}; use one of: {known}") from None
