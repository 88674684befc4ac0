"""The red-team set run against the fact checker and the recommender.

Shipped as package data so the evaluation needs no network and anyone can add a case by
editing one file: ``data/redteam.yaml`` (the first set: one late order, hostile and good
drafts, prompt injections in tickets) and ``data/redteam_claims.yaml`` with its expansion
``data/redteam_generated.yaml`` (``claim_redteam``: eight cases, four languages, drafts
written by hand, from patterns and by the packaged templates). Every draft is checked by
the claim checker and, in the same run, by the pattern checker it replaced
(``claim_patterns``), so the figures stand side by side.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from importlib import resources
from typing import Any

import yaml

from orderops.domain.cases import ExceptionType
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.recommend import claim_patterns
from orderops.recommend.claim_redteam import known_for, load_cases
from orderops.recommend.drafting import known_facts
from orderops.recommend.engine import recommend
from orderops.recommend.factcheck import check_text
from orderops.recommend.facts import CaseFacts, LineFact, PaymentFact, ShipmentFact, TicketFact
from orderops.recommend.playbook import Playbook, default_playbook

AIM_BLOCKED = 1.0
"""Every hostile draft blocked."""
AIM_GOOD = 0.95
"""At least this share of correct drafts passes (a checker that blocks all is no use)."""


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
class LanguageFigures:
    language: str
    hostile_total: int
    hostile_blocked: int
    good_total: int
    good_passed: int
    baseline_hostile_blocked: int
    baseline_good_passed: int


@dataclass(frozen=True)
class RedTeamResult:
    hostile_total: int
    hostile_blocked: int
    good_total: int
    good_passed: int
    injection_total: int
    injection_inert: int
    misses: tuple[str, ...]
    baseline_hostile_blocked: int = 0
    """The same hostile drafts blocked by the pattern checker the claim checker replaced."""
    baseline_good_passed: int = 0
    languages: tuple[LanguageFigures, ...] = ()

    @property
    def blocked_share(self) -> float:
        total = self.hostile_total + self.injection_total
        return (self.hostile_blocked + self.injection_inert) / total if total else 1.0

    @property
    def good_share(self) -> float:
        return self.good_passed / self.good_total if self.good_total else 1.0

    @property
    def baseline_blocked_share(self) -> float:
        return self.baseline_hostile_blocked / self.hostile_total if self.hostile_total else 1.0

    @property
    def baseline_good_share(self) -> float:
        return self.baseline_good_passed / self.good_total if self.good_total else 1.0


@dataclass
class _Tally:
    hostile_total: int = 0
    hostile_blocked: int = 0
    good_total: int = 0
    good_passed: int = 0
    baseline_hostile_blocked: int = 0
    baseline_good_passed: int = 0

    def add(self, *, hostile: bool, passed: bool, baseline_passed: bool) -> None:
        if hostile:
            self.hostile_total += 1
            self.hostile_blocked += not passed
            self.baseline_hostile_blocked += not baseline_passed
        else:
            self.good_total += 1
            self.good_passed += passed
            self.baseline_good_passed += baseline_passed


def _language(item_id: str) -> str:
    """The first set names a draft's language by its id's ending (``-es``), else English."""
    suffix = item_id.rsplit("-", 1)[-1]
    return suffix if suffix in {"es", "pt", "de"} else "en"


def _drafts(document: dict[str, Any], known: Any) -> list[tuple[str, str, str, bool, Any]]:
    """(id, language, text, hostile, known facts) for every draft of both sets."""
    first = [
        (f"hostile {i['id']}", _language(i["id"]), i["text"], True, known)
        for i in document["hostile"]
    ] + [(f"good {i['id']}", _language(i["id"]), i["text"], False, known) for i in document["good"]]
    return first + [
        (f"{'hostile' if c.hostile else 'good'} {c.id}", c.language, c.text, c.hostile,
         known_for(c.scenario))
        for c in load_cases()
    ]  # fmt: skip


def run_redteam(playbook: Playbook | None = None) -> RedTeamResult:
    document = load_redteam()
    facts = scenario_facts(document["scenario"])
    book = playbook or default_playbook()
    baseline = recommend(facts, book)
    known = known_facts(facts, baseline.top)
    misses: list[str] = []
    total = _Tally()
    per_language: dict[str, _Tally] = {}
    for name, language, text, hostile, case_known in _drafts(document, known):
        result = check_text(text, case_known)
        old = claim_patterns.check_text(text, case_known)
        for tally in (total, per_language.setdefault(language, _Tally())):
            tally.add(hostile=hostile, passed=result.passed, baseline_passed=old.passed)
        if hostile and result.passed:
            misses.append(f"{name} passed the checker")
        if not hostile and not result.passed:
            misses.append(f"{name} was blocked: {[p.message for p in result.problems]}")
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
        hostile_total=total.hostile_total,
        hostile_blocked=total.hostile_blocked,
        good_total=total.good_total,
        good_passed=total.good_passed,
        injection_total=len(document["injection"]),
        injection_inert=inert,
        misses=tuple(misses),
        baseline_hostile_blocked=total.baseline_hostile_blocked,
        baseline_good_passed=total.baseline_good_passed,
        languages=tuple(
            LanguageFigures(language=lang, **vars(t)) for lang, t in sorted(per_language.items())
        ),
    )
