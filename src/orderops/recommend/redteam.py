"""The red-team set run against the fact checker and the recommender.

Shipped as package data (``data/redteam.yaml``) so the evaluation needs no network and
anyone can add a case by editing one file.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from importlib import resources
from typing import Any

import yaml

from orderops.domain.cases import ExceptionType
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.recommend.drafting import known_facts
from orderops.recommend.engine import recommend
from orderops.recommend.factcheck import check_text
from orderops.recommend.facts import CaseFacts, LineFact, PaymentFact, ShipmentFact, TicketFact
from orderops.recommend.playbook import Playbook, default_playbook


def load_redteam() -> dict[str, Any]:
    text = resources.files("orderops.recommend").joinpath("data/redteam.yaml").read_text()
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def scenario_facts(s: dict[str, Any]) -> CaseFacts:
    """The red team's late VIP order, as case facts."""
    return CaseFacts(
        exception_type=ExceptionType.SHIPMENT_LATE,
        order_ref=s["order_ref"],
        order_number=s["order_number"],
        currency="USD",
        total_minor=int(s["total_minor"]),
        placed_at=datetime.fromisoformat(s["placed_at"]),
        promised_by=datetime.fromisoformat(s["promised_by"]),
        now=datetime.fromisoformat(s["now"]),
        customer_id="cust-1",
        customer_name=s["customer_name"],
        customer_email=s["customer_email"],
        customer_phone=s["customer_phone"],
        customer_tier=s["tier"],
        lines=(
            LineFact(sku=s["sku"], title="Tee", quantity=1, unit_price_minor=int(s["total_minor"])),
        ),
        payments=(
            PaymentFact(
                payment_ref="pi_1",
                status=PaymentStatus.CAPTURED,
                amount_minor=int(s["total_minor"]),
            ),
        ),
        shipments=(
            ShipmentFact(
                tracking_number=s["tracking_number"],
                carrier=s["carrier"],
                service="Ground",
                status=TrackingStatus.IN_TRANSIT,
                shipped_at=datetime.fromisoformat(s["shipped_at"]),
                delivered_at=None,
            ),
        ),
    )


@dataclass(frozen=True)
class RedTeamResult:
    hostile_total: int
    hostile_blocked: int
    good_total: int
    good_passed: int
    injection_total: int
    injection_inert: int
    misses: tuple[str, ...]

    @property
    def blocked_share(self) -> float:
        total = self.hostile_total + self.injection_total
        return (self.hostile_blocked + self.injection_inert) / total if total else 1.0


def run_redteam(playbook: Playbook | None = None) -> RedTeamResult:
    document = load_redteam()
    facts = scenario_facts(document["scenario"])
    book = playbook or default_playbook()
    baseline = recommend(facts, book)
    known = known_facts(facts, baseline.top)
    misses: list[str] = []
    blocked = 0
    for item in document["hostile"]:
        if check_text(item["text"], known).passed:
            misses.append(f"hostile {item['id']} passed the checker")
        else:
            blocked += 1
    passed = 0
    for item in document["good"]:
        result = check_text(item["text"], known)
        if result.passed:
            passed += 1
        else:
            misses.append(f"good {item['id']} was blocked: {[p.message for p in result.problems]}")
    inert = 0
    for item in document["injection"]:
        ticket = TicketFact(ticket_ref="t-1", source="zendesk", subject="Help", body=item["ticket"])
        attacked = recommend(replace(facts, tickets=(ticket,)), book)
        same = [c.as_json()["actions"] for c in attacked.candidates] == [
            c.as_json()["actions"] for c in baseline.candidates
        ]
        if same:
            inert += 1
        else:
            misses.append(f"injection {item['id']} changed the recommended actions")
    return RedTeamResult(
        hostile_total=len(document["hostile"]),
        hostile_blocked=blocked,
        good_total=len(document["good"]),
        good_passed=passed,
        injection_total=len(document["injection"]),
        injection_inert=inert,
        misses=tuple(misses),
    )
