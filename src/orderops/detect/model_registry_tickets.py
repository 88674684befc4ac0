"""The ticket classifier's lifecycle on a tenant's own tickets: train, shadow-score.

A tenant's labels are the classes its people set (``REVIEWER_LABEL``: a reviewer's
correction, or a helpdesk export of tagged tickets through ``orderops models labels``).
Training splits them by time: the earlier part, together with the project's seed texts
(so a class the tenant has not labelled yet is still known), trains the candidate; the
later part scores it beside the shipped default and the keyword baseline, so its metrics
were earned on tickets it never saw. ``evaluate`` is the shadow run: the candidate and the
model in force (the promoted version, else the shipped default) classify the same labelled
tickets, every one opened after the candidate's cutoff; the report is kept on the candidate
and promotion needs it (a lower macro-F1 than the model in force needs ``--accept-worse``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from orderops.detect.model_registry import (
    RegisteredModel,
    artifact_of,
    latest_candidate,
    record_shadow,
    register_candidate,
    version_row,
)
from orderops.detect.models.delay_model import TrainingDataError
from orderops.detect.models.keyword_baseline import classify_by_keywords
from orderops.detect.models.ticket_classifier import (
    TicketClassifier,
    ticket_classifier_from_bytes,
    ticket_text,
    train_ticket_classifier,
)
from orderops.detect.models.ticket_training import SEED_LICENCE, read_seed
from orderops.detect.models.topics import ticket_class_of
from orderops.detect.ticket_classes import shipped_ticket_classifier, ticket_classifier_for
from orderops.domain.model_lifecycle import ModelKind, ModelRegistryError
from orderops.domain.ticket_classes import REVIEWER_LABEL, TicketClass
from orderops.storage.tables import SupportTicket
from orderops.storage.uow import UnitOfWork

TEST_FRACTION = 0.3
MIN_LABELLED = 40
"""Fewer labelled tickets than this leave too few to score a candidate on."""
MIN_WINDOW = 10
"""A shadow run needs at least this many labelled tickets after the cutoff."""
KEYWORDS = "keyword_baseline"
SHIPPED = "shipped_default"


@dataclass(frozen=True)
class LabelledTicketRow:
    opened_at: datetime
    text: str
    ticket_class: TicketClass


def tenant_labelled_tickets(uow: UnitOfWork, *, opened_before: datetime) -> list[LabelledTicketRow]:
    """The tickets people classified, oldest first."""
    rows = uow.session.execute(
        select(
            SupportTicket.opened_at,
            SupportTicket.subject,
            SupportTicket.body,
            SupportTicket.ticket_class,
        )
        .where(
            SupportTicket.tenant_id == uow.tenant_id,
            SupportTicket.ticket_class_model == REVIEWER_LABEL,
            SupportTicket.opened_at < opened_before,
        )
        .order_by(SupportTicket.opened_at, SupportTicket.id)
    ).all()
    known = {str(c) for c in TicketClass}
    return [
        LabelledTicketRow(at, ticket_text(subject, body), TicketClass(cls))
        for at, subject, body, cls in rows
        if cls is not None and cls in known
    ]


def scores(
    rows: list[LabelledTicketRow], models: dict[str, TicketClassifier | None]
) -> dict[str, dict[str, Any]]:
    """Macro-F1 (over the classes present) and accuracy of each model on ``rows``; a model
    given as None is the keyword baseline."""
    from sklearn.metrics import f1_score

    truth = [str(r.ticket_class) for r in rows]
    labels = sorted(set(truth))
    texts = [r.text for r in rows]
    out: dict[str, dict[str, Any]] = {}
    for name, model in models.items():
        if model is None:
            guess = [str(ticket_class_of(classify_by_keywords(t))) for t in texts]
        else:
            guess = [str(v.raw_class) for v in model.classify_many(texts)]
        f1 = f1_score(truth, guess, labels=labels, average="macro", zero_division=0)
        hits = sum(1 for a, b in zip(truth, guess, strict=True) if a == b)
        out[name] = {
            "macro_f1": round(float(f1), 4),
            "accuracy": round(hits / len(rows), 4) if rows else 0.0,
            "tickets": len(rows),
            "guesses": guess,
        }
    return out


def _public(scored: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {name: {k: v for k, v in s.items() if k != "guesses"} for name, s in scored.items()}


def train_ticket_candidate(uow: UnitOfWork, *, actor: str, now: datetime) -> RegisteredModel:
    """Train on the tenant's labelled tickets up to ``now`` and register the candidate."""
    rows = tenant_labelled_tickets(uow, opened_before=now)
    if len(rows) < MIN_LABELLED:
        raise ModelRegistryError(
            f"tenant {uow.tenant_id} has {len(rows)} tickets people classified; training "
            f"needs at least {MIN_LABELLED} (`orderops models labels --tenant "
            f"{uow.tenant_id} FILE.csv` imports a helpdesk's tagged tickets)"
        )
    cut = int(len(rows) * (1 - TEST_FRACTION))
    train, test = rows[:cut], rows[cut:]
    cutoff = test[0].opened_at
    seed = read_seed()
    try:
        model = train_ticket_classifier(
            [r.text for r in train] + [e.text for e in seed],
            [r.ticket_class for r in train] + [e.ticket_class for e in seed],
            trained_on=(
                f"tenant {uow.tenant_id}: {len(train)} labelled tickets to "
                f"{cutoff:%Y-%m-%d} + the seed"
            ),
            licence=f"the tenant's own tickets; seed {SEED_LICENCE}",
        )
    except TrainingDataError as exc:
        raise ModelRegistryError(f"cannot train a ticket classifier: {exc.message}") from exc
    scored = scores(
        test, {"ticket_model": model, SHIPPED: shipped_ticket_classifier(), KEYWORDS: None}
    )
    training = {
        "cutoff": cutoff.isoformat(),
        "train_tickets": len(train),
        "test_tickets": len(test),
        "seed_texts": len(seed),
        "classes": sorted({str(r.ticket_class) for r in train}),
    }
    return register_candidate(
        uow,
        kind=ModelKind.TICKET_CLASS,
        model_version=model.card.version,
        artifact=model.to_bytes(),
        trained_from=train[0].opened_at if train else None,
        trained_to=cutoff,
        training=training,
        metrics=_public(scored),
        actor=actor,
        now=now,
    )


def evaluate_ticket_candidate(
    uow: UnitOfWork, *, actor: str, now: datetime, number: int | None = None
) -> RegisteredModel:
    """Shadow-score a candidate (the newest, or ``number``) beside the model in force."""
    kind = ModelKind.TICKET_CLASS
    row = version_row(uow, kind, number) if number is not None else latest_candidate(uow, kind)
    candidate = ticket_classifier_from_bytes(
        artifact_of(uow.session, uow.tenant_id, row.id), origin=f"{kind} v{row.number}"
    )
    current = ticket_classifier_for(uow.session, uow.tenant_id)
    cutoff = row.trained_to or now
    window = [r for r in tenant_labelled_tickets(uow, opened_before=now) if r.opened_at >= cutoff]
    if len(window) < MIN_WINDOW:
        raise ModelRegistryError(
            f"{len(window)} labelled tickets since v{row.number}'s cutoff ({cutoff:%Y-%m-%d}); "
            f"comparing it with the model in force needs at least {MIN_WINDOW}"
        )
    scored = scores(window, {"candidate": candidate, "incumbent": current, KEYWORDS: None})
    same = sum(
        1
        for a, b in zip(scored["candidate"]["guesses"], scored["incumbent"]["guesses"], strict=True)
        if a == b
    )
    shipped = current is shipped_ticket_classifier()
    report = {
        "against": {
            "source": "shipped default" if shipped else "promoted",
            "model_version": current.card.version,
        },
        "window": {"from": cutoff.isoformat(), "to": now.isoformat()},
        "tickets": len(window),
        **_public(scored),
        "agreement": round(same / len(window), 4),
        "macro_f1_gain": round(
            scored["candidate"]["macro_f1"] - scored["incumbent"]["macro_f1"], 4
        ),
    }
    return record_shadow(uow, row, report, actor=actor, now=now)
