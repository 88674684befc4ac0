"""Builders for the similar-case history: many resolved cases written straight to the tables,
open cases to recommend for, and the per-case rebuild the kept index replaced (the
reference its results are compared with, and the benchmark's "before")."""

from __future__ import annotations

import random
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.actions import WAS_APPROVED, ActionStatus
from orderops.recommend.similar import (
    FEATURE_SCALES,
    TEXT_WEIGHT,
    Neighbour,
    ResolvedCase,
    features_of,
    summary_of,
)
from orderops.recommend.store_facts import case_facts
from orderops.storage.tables import (
    Action,
    Case,
    Customer,
    FraudSignal,
    InboxEvent,
    Order,
    OrderLineRow,
    Payment,
    Shipment,
    SupportTicket,
)
from orderops.storage.uow import UnitOfWork

TYPES = ("shipment_late", "carrier_exception", "payment_failed", "address_problem")
TITLES = (
    "Tee",
    "Hoodie",
    "Mug",
    "Running shoes",
    "Backpack",
    "Desk lamp",
    "Wool socks",
    "Rain jacket",
)
SUBJECTS = (
    "Where is my order",
    "Parcel damaged",
    "Wrong address",
    "Refund please",
    "Item missing",
    "Still waiting for my parcel",
)
CARRIERS = ("UPS", "FedEx", "DHL", "USPS")
SHIPMENT_STATUSES = ("in_transit", "delivered", "exception", "return_to_sender", "lost")
RESOLUTIONS = ("reship", "refund", "store_credit", "contact_customer")


@dataclass(frozen=True)
class Written:
    resolved: list[str]
    """Resolved case ids, newest closed first."""
    open: list[str]


def write_corpus(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    now: datetime,
    resolved: int,
    open_cases: int = 0,
    seed: int = 7,
) -> Written:
    """``resolved`` past cases (about one in eight without an approved action, so the index
    skips it) and ``open_cases`` new ones, with varied orders, parcels, tickets and fraud.

    The open cases come from a random stream of their own: the same seed gives the same
    open cases whatever the number of past ones."""
    past, new = random.Random(seed), random.Random(seed + 1_000_003)
    written = Written(resolved=[], open=[])
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        inbox = InboxEvent(
            tenant_id=tenant_id,
            source="test://fraud",
            event_id=uuid.uuid4().hex,
            type="fraud.signal",
            subject=None,
            event_time=now,
            received_at=now,
            envelope={},
            status="processed",
        )
        uow.session.add(inbox)
        uow.session.flush()
        for n in range(resolved + open_cases):
            is_open = n >= resolved
            closed_at = None if is_open else now - timedelta(hours=n + 1)
            case_id = _write_case(
                uow.session,
                new if is_open else past,
                tenant_id=tenant_id,
                inbox_id=inbox.id,
                now=now,
                closed_at=closed_at,
            )
            (written.open if is_open else written.resolved).append(case_id)
        uow.commit()
    return written


def _write_case(
    session: Session,
    rng: random.Random,
    *,
    tenant_id: str,
    inbox_id: str,
    now: datetime,
    closed_at: datetime | None,
) -> str:
    order_ref = f"o-{uuid.uuid4().hex[:12]}"
    at = closed_at or now
    placed = at - timedelta(days=rng.randint(6, 20))
    promised = placed + timedelta(days=rng.randint(2, 5))
    customer = Customer(
        tenant_id=tenant_id,
        email=f"{order_ref}@example.com",
        name="Pat Doe",
        tier=rng.choice(("standard", "standard", "vip")),
        created_at=placed,
        updated_at=placed,
    )
    session.add(customer)
    session.flush()
    titles = rng.sample(TITLES, rng.randint(1, 3))
    prices = [rng.choice((1500, 2500, 4000, 12000, 30000)) for _ in titles]
    total = sum(prices)
    order = Order(
        tenant_id=tenant_id,
        order_ref=order_ref,
        number=str(rng.randint(1000, 9999)),
        source="test://shop",
        customer_id=customer.id,
        status="open",
        financial_status="paid",
        fulfillment_status="shipped",
        currency="USD",
        total_minor=total,
        placed_at=placed,
        promised_by=promised,
        location="wh-east",
        source_updated_at=placed,
        created_at=placed,
        updated_at=placed,
        lines=[
            OrderLineRow(
                tenant_id=tenant_id,
                position=i,
                sku=f"SKU-{title.upper().replace(' ', '-')}",
                title=title,
                quantity=1,
                unit_price_minor=price,
            )
            for i, (title, price) in enumerate(zip(titles, prices, strict=True))
        ],
    )
    session.add(order)
    refunded = rng.choice((0, 0, 0, total // 2, total))
    session.add(
        Payment(
            tenant_id=tenant_id,
            provider="stripe",
            payment_ref=f"pi_{order_ref}",
            order_ref=order_ref,
            status="partially_refunded" if 0 < refunded < total else "captured",
            amount_minor=total,
            amount_refunded_minor=refunded,
            currency="USD",
            status_at=placed,
            created_at=placed,
        )
    )
    if rng.random() < 0.9:
        status = rng.choice(SHIPMENT_STATUSES)
        shipped = placed + timedelta(days=1)
        session.add(
            Shipment(
                tenant_id=tenant_id,
                order_ref=order_ref,
                carrier=rng.choice(CARRIERS),
                service="Ground",
                tracking_number=f"1Z{uuid.uuid4().hex[:14].upper()}",
                status=status,
                status_at=shipped,
                delivered_at=(
                    promised + timedelta(days=rng.randint(-1, 4)) if status == "delivered" else None
                ),
                created_at=shipped,
            )
        )
    # a ticket after the case closed is a re-contact; tickets arrive in the order they opened
    openings = sorted(
        at + timedelta(hours=t + 2) if rng.random() < 0.3 else placed + timedelta(days=t + 2)
        for t in range(rng.choice((0, 0, 1, 2)))
    )
    for opened in openings:
        session.add(
            SupportTicket(
                tenant_id=tenant_id,
                source="zendesk",
                ticket_ref=uuid.uuid4().hex[:10],
                order_ref=order_ref,
                subject=rng.choice(SUBJECTS),
                body="Hello, please help",
                status="open",
                opened_at=opened,
                source_updated_at=opened,
            )
        )
    if rng.random() < 0.25:
        session.add(
            FraudSignal(
                tenant_id=tenant_id,
                inbox_id=inbox_id,
                order_ref=order_ref,
                kind="risk_score",
                score=float(rng.randint(5, 95)),
                occurred_at=placed,
            )
        )
    session.flush()
    case = Case(
        tenant_id=tenant_id,
        order_id=order.id,
        order_ref=order_ref,
        exception_type=rng.choice(TYPES),
        status="new" if closed_at is None else "resolved",
        summary="test case",
        detected_at=placed,
        opened_at=placed + timedelta(days=2),
        updated_at=at,
        closed_at=closed_at,
        reopen_count=rng.choice((0, 0, 0, 1)) if closed_at else 0,
        facts={},
    )
    session.add(case)
    session.flush()
    if closed_at is not None and rng.random() < 0.88:
        add_resolution(session, case, kind=rng.choice(RESOLUTIONS), amount_minor=total // 2)
    if rng.random() < 0.1:
        session.add(
            Action(
                tenant_id=tenant_id,
                case_id=case.id,
                kind="refund",
                params={"amount_minor": total // 4},
                status=str(ActionStatus.AWAITING_APPROVAL),
                proposed_by="test",
                created_at=placed + timedelta(days=3),
            )
        )
    return case.id


def add_resolution(
    session: Session,
    case: Case,
    *,
    kind: str,
    amount_minor: int,
    status: ActionStatus = ActionStatus.APPROVED,
) -> None:
    """The approved action a resolved case counts as resolved by (``status`` EXECUTED once
    its writeback was delivered)."""
    session.add(
        Action(
            tenant_id=case.tenant_id,
            case_id=case.id,
            kind=kind,
            params={"amount_minor": amount_minor},
            status=str(status),
            proposed_by="test",
            created_at=case.opened_at + timedelta(hours=1),
            evaluation={"inputs": {"amount_minor": amount_minor}},
        )
    )


def resolve_now(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    case_id: str,
    at: datetime,
    kind: str,
    status: ActionStatus = ActionStatus.APPROVED,
) -> None:
    """Close an open case with an approved ``kind``, as a reviewer's decision would."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        case = uow.session.scalar(
            select(Case).where(Case.tenant_id == tenant_id, Case.id == case_id)
        )
        assert case is not None
        case.status, case.closed_at, case.updated_at = "resolved", at, at
        add_resolution(uow.session, case, kind=kind, amount_minor=1000, status=status)
        uow.commit()


# --- the per-case rebuild, as recommend/service.py had it -----------------------------


def rebuild_per_case(uow: UnitOfWork, *, now: datetime, limit: int = 2000) -> list[ResolvedCase]:
    """Every resolved case read one at a time (``case_facts``): the old ``history_index``."""
    cases = uow.session.scalars(
        select(Case)
        .where(Case.tenant_id == uow.tenant_id, Case.status == "resolved")
        .order_by(Case.closed_at.desc(), Case.id.desc())
        .limit(limit)
    ).all()
    resolved: list[ResolvedCase] = []
    for case in cases:
        first = uow.session.scalar(
            select(Action)
            .where(
                Action.tenant_id == uow.tenant_id,
                Action.case_id == case.id,
                Action.status.in_([str(s) for s in WAS_APPROVED]),
            )
            .order_by(Action.created_at, Action.id)
            .limit(1)
        )
        if first is None:
            continue
        facts = case_facts(uow, case, now=case.closed_at or now)
        resolved.append(
            ResolvedCase(
                case_id=case.id,
                exception_type=case.exception_type,
                summary=summary_of(facts),
                features=features_of(facts),
                resolution=first.kind,
                recontacted=any(
                    t.opened_at is not None
                    and case.closed_at is not None
                    and t.opened_at > case.closed_at
                    for t in facts.tickets
                ),
                reopened=case.reopen_count > 0,
                cost_minor=int((first.evaluation or {}).get("inputs", {}).get("amount_minor") or 0),
            )
        )
    return resolved


def feature_similarity(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    gaps = [abs(a.get(k, 0.0) - b.get(k, 0.0)) / scale for k, scale in FEATURE_SCALES.items()]
    return 1.0 / (1.0 + sum(gaps) / len(gaps))


class DenseReferenceIndex:
    """The old index: TF-IDF rows made dense, one dot product per case in a Python loop."""

    def __init__(self, cases: Sequence[ResolvedCase]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.cases = list(cases)
        self._vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True)
        self._vectorizer.fit([c.summary for c in self.cases])
        self._vectors = self._vectorizer.transform([c.summary for c in self.cases]).toarray()

    def nearest(
        self, *, exception_type: str, summary: str, features: dict[str, float], k: int = 5
    ) -> list[Neighbour]:
        query = self._vectorizer.transform([summary]).toarray()[0]
        scored: list[Neighbour] = []
        for index, case in enumerate(self.cases):
            if case.exception_type != exception_type:
                continue
            text = float(np.dot(self._vectors[index], query))
            similarity = TEXT_WEIGHT * text + (1 - TEXT_WEIGHT) * feature_similarity(
                features, case.features
            )
            scored.append(Neighbour(case, round(similarity, 4)))
        scored.sort(key=lambda n: (-n.similarity, n.case.case_id))
        return scored[:k]
