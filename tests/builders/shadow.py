"""Builders for shadow mode (workflow/shadow.py): candidate files, orders whose fraud score
a threshold decides, and a running candidate in a known state.

The live policy is the shipped example (fraud_review at risk score 75); a "lower" candidate
moves that threshold to 50, so an order scored 60 is a case only the candidate would open
and one scored 90 a case both open.
"""

from __future__ import annotations

import itertools
from datetime import timedelta
from typing import Any

import yaml
from sqlalchemy import func, select

from builders.events import envelope, order_placed, payment, scan, shipment
from orderops.bootstrap import App
from orderops.domain.approval_policy import DEFAULT_POLICY
from orderops.domain.clock import FixedClock
from orderops.domain.notifications import NoticePolicy
from orderops.domain.policy import parse_policy
from orderops.ingest.policy_file import EXAMPLE_POLICY, load_policy_file, store_policy
from orderops.recommend.playbook import default_playbook, playbook_document
from orderops.storage.tables import Case, Communication, CustomerNotice, OutboxMessage
from orderops.storage.tables.shadow import ShadowDecision
from orderops.storage.uow import UnitOfWork
from orderops.workflow import shadow
from orderops.workflow.batch import ingest_items
from orderops.workflow.notifications import set_policy as set_notice_policy

_orders = itertools.count(1)


def example_document(detectors: dict[str, Any] | None = None) -> dict[str, Any]:
    document = load_policy_file(EXAMPLE_POLICY).model_dump(mode="json")
    if detectors is not None:
        document["detectors"] = detectors
    return document


def store_live_policy(app: App, clock: FixedClock, *, tenant: str = "acme") -> None:
    """The shipped example as the tenant's live fulfillment policy."""
    store_policy(
        app.sessions,
        tenant_id=tenant,
        policy=parse_policy(example_document()),
        actor="test",
        clock=clock,
    )


def candidate_text(**sections: Any) -> str:
    return str(yaml.safe_dump(sections, sort_keys=False))


def equal_candidate() -> str:
    """Every section as live has it (with the example policy stored): no difference."""
    return candidate_text(fulfillment_policy=example_document())


def lower_fraud_threshold(score: int = 50) -> str:
    document = example_document()
    detectors = dict(document.get("detectors") or {})
    detectors["fraud_review"] = {
        **detectors.get("fraud_review", {}),
        "thresholds": {"risk_score": score},
    }
    document["detectors"] = detectors
    return candidate_text(fulfillment_policy=document)


def sooner_unpaid_alarm(hours: int = 2) -> str:
    """A candidate calling an order with no payment outcome stuck after ``hours`` (live: 6).
    Only a sweep opens that case: it is a deadline passing, not an event."""
    document = example_document()
    detectors = dict(document.get("detectors") or {})
    stuck = dict(detectors.get("stuck_order") or {})
    stuck["thresholds"] = {**stuck.get("thresholds", {}), "awaiting_payment_hours": hours}
    detectors["stuck_order"] = stuck
    document["detectors"] = detectors
    return candidate_text(fulfillment_policy=document)


def quicker_silence_alarm() -> str:
    """A candidate that learns a source's habit from 10 events (live: 168) and calls it
    silent after 3 usual gaps, 2 hours at least (live: 10, and 12 hours)."""
    document = example_document()
    detectors = dict(document.get("detectors") or {})
    detectors["integration_silence"] = {
        "thresholds": {"min_events": 10, "gap_factor": 3, "min_silence_hours": 2}
    }
    document["detectors"] = detectors
    return candidate_text(fulfillment_policy=document)


def steady_source(
    app: App, clock: FixedClock, *, source: str, events: int, every: timedelta
) -> None:
    """``events`` orders from ``source``, one each ``every``, the last one now."""
    start = clock.now() - every * (events - 1)
    items = [
        order_placed(f"o-{source[-4:]}-{next(_orders)}", at=start + every * n, source=source)
        for n in range(events)
    ]
    report = ingest_items(app.sessions, tenant_id="acme", items=items, channel="test", clock=clock)
    assert report.rejected == []


def unpaid_order(app: App, clock: FixedClock, *, tenant: str = "acme") -> str:
    """An order placed now whose payment never reports, taken in and processed."""
    ref = f"o-unpaid-{next(_orders)}"
    items = [order_placed(ref, at=clock.now(), number=None)]
    report = ingest_items(app.sessions, tenant_id=tenant, items=items, channel="test", clock=clock)
    assert report.rejected == []
    return ref


def scored_order(app: App, clock: FixedClock, score: float, *, tenant: str = "acme") -> str:
    """A paid order with a fraud risk score, taken in and processed."""
    ref, items = scored_items(clock, score)
    report = ingest_items(app.sessions, tenant_id=tenant, items=items, channel="test", clock=clock)
    assert report.rejected == []
    return ref


def scored_items(clock: FixedClock, score: float) -> tuple[str, list[dict[str, Any]]]:
    """The three events of a paid order with a fraud risk score, and its reference."""
    ref = f"o-shadow-{next(_orders)}"
    placed = clock.now() - timedelta(hours=3)
    items: list[dict[str, Any]] = [
        order_placed(ref, at=placed, number=None),
        payment(ref, status="captured", at=placed + timedelta(minutes=5), payment_ref=f"pi-{ref}"),
        envelope(
            "fraud.signal",
            {"order_ref": ref, "kind": "risk_score", "score": score},
            at=placed + timedelta(minutes=10),
            subject=ref,
        ),
    ]
    return ref, items


def start_candidate(
    app: App, clock: FixedClock, text: str, *, tenant: str = "acme", actor: str = "user:test"
) -> shadow.CandidateInfo:
    """``text`` as the running candidate, stopping one already running."""
    stop_running(app, clock, tenant=tenant)
    return shadow.start(app.sessions, tenant_id=tenant, text=text, actor=actor, clock=clock)


def stop_running(app: App, clock: FixedClock, *, tenant: str = "acme") -> None:
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        running = shadow.running(uow) is not None
    if running:
        shadow.stop(app.sessions, tenant_id=tenant, actor="user:test", clock=clock)


def proposed_candidate(
    app: App, clock: FixedClock, *, proposer: str, tenant: str = "acme"
) -> shadow.CandidateInfo:
    """A running candidate (lower fraud threshold) whose promotion ``proposer`` proposed."""
    start_candidate(app, clock, lower_fraud_threshold(), tenant=tenant)
    return shadow.propose_promotion(app.sessions, tenant_id=tenant, actor=proposer, clock=clock)


def desk_counts(app: App, *, tenant: str = "acme") -> dict[str, int]:
    """Rows of every kind of effect the desk can have, and the shadow decisions."""
    with UnitOfWork(app.sessions, tenant_id=tenant, write=False) as uow:
        return {
            table.__name__: int(uow.session.scalar(select(func.count()).select_from(table)) or 0)
            for table in (Case, OutboxMessage, Communication, CustomerNotice, ShadowDecision)
        }


def troubled_parcel(app: App, clock: FixedClock, *, tenant: str = "acme") -> str:
    """A paid, shipped order whose carrier reports an exception, taken in and processed."""
    ref = f"o-parcel-{next(_orders)}"
    start = clock.now() - timedelta(hours=6)
    tracking = f"1ZSHADOW{next(_orders)}"
    items: list[Any] = [
        order_placed(ref, at=start, number=None),
        payment(ref, status="captured", at=start, payment_ref=f"pi-{ref}"),
        shipment(ref, at=start + timedelta(hours=1), tracking=tracking),
        scan("exception", at=start + timedelta(hours=2), tracking=tracking, order_ref=ref),
    ]
    report = ingest_items(app.sessions, tenant_id=tenant, items=items, channel="test", clock=clock)
    assert report.rejected == []
    return ref


def notice_rule(app: App, clock: FixedClock, *, tenant: str = "acme") -> None:
    """Delay notices sent without a person: each one is a message and an outbox row."""
    with UnitOfWork(app.sessions, tenant_id=tenant) as uow:
        set_notice_policy(
            uow,
            NoticePolicy.model_validate({"topics": ["delay"], "auto_approve": ["delay"]}),
            actor="test",
            now=clock.now(),
        )
        uow.commit()


FRAUD_TO_FINANCE = [
    {
        "name": "fraud to finance",
        "queue": "finance",
        "priority": "P2",
        "when": {"exception_types": ["fraud_review"]},
    }
]


def every_section_candidate() -> str:
    """A candidate changing all four policies: the fraud threshold, the routing of fraud
    reviews, the approval expiry, and the playbook's name."""
    playbook = playbook_document(default_playbook())
    playbook["name"] = "candidate playbook"
    approval = DEFAULT_POLICY.body()
    approval["expiry_hours"] = int(approval["expiry_hours"]) + 24
    document = yaml.safe_load(lower_fraud_threshold(50))
    return candidate_text(
        fulfillment_policy=document["fulfillment_policy"],
        routing_rules=FRAUD_TO_FINANCE,
        approval_policy=approval,
        playbook=playbook,
    )
