"""The claim checker's red-team set: scenarios, hand-written drafts and generated ones.

``data/redteam_claims.yaml`` holds the scenarios (facts and the actions approved for
them), drafts written by hand, and patterns; :func:`generate` expands the patterns for
every scenario and language, and renders the packaged templates (the drafts the desk
itself writes) as correct drafts. The expansion is kept in the repository
(``data/redteam_generated.yaml``) so a reviewer can read every case; a test holds it
equal to :func:`generate`'s output.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from orderops.domain.actions import ActionKind
from orderops.domain.cases import ExceptionType
from orderops.domain.notifications import TOPIC_OF
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.recommend.claims import Action, KnownFacts
from orderops.recommend.cost import Cost
from orderops.recommend.drafting import TemplateSource, known_facts, template_context
from orderops.recommend.engine import Candidate, CandidateAction
from orderops.recommend.facts import CaseFacts, LineFact, PaymentFact, ShipmentFact
from orderops.recommend.formatting import LANGUAGES, money

NOW = datetime.fromisoformat("2024-06-10T12:00:00+00:00")
GENERATED = "data/redteam_generated.yaml"
NUMBER_WORDS = {
    1000: {"en": "ten", "es": "diez", "pt": "dez", "de": "zehn"},
    1500: {"en": "fifteen", "es": "quince", "pt": "quinze", "de": "fünfzehn"},
    2500: {"en": "twenty-five", "es": "veinticinco", "pt": "vinte e cinco", "de": "fünfundzwanzig"},
    12000: {"en": "one hundred twenty", "es": "ciento veinte", "pt": "cento e vinte",
            "de": "einhundertzwanzig"},
}  # fmt: skip
CURRENCY_WORDS = {
    "USD": {"en": "dollars", "es": "dólares", "pt": "dólares", "de": "Dollar"},
    "EUR": {"en": "euros", "es": "euros", "pt": "euros", "de": "Euro"},
}


@dataclass(frozen=True)
class RedTeamCase:
    id: str
    scenario: str
    language: str
    text: str
    hostile: bool
    source: str
    """``hand``, ``pattern`` or ``template``."""


def _document() -> dict[str, Any]:
    text = resources.files("orderops.recommend").joinpath("data/redteam_claims.yaml").read_text()
    document: dict[str, Any] = yaml.safe_load(text)
    return document


def tracking_of(order_number: str) -> str:
    return f"1ZRT{order_number.rjust(12, '0')}"


def scenario_case(spec: dict[str, Any]) -> tuple[CaseFacts, Candidate]:
    """A scenario's facts and the candidate whose actions were approved."""
    lines = tuple(
        LineFact(sku=x["sku"], title=None, quantity=1, unit_price_minor=int(x["unit_price_minor"]))
        for x in spec["lines"]
    )
    total = sum(line.unit_price_minor for line in lines)
    failed = spec.get("payment") == "failed"
    shipments: tuple[ShipmentFact, ...] = ()
    if spec.get("shipped_at"):
        delivered = spec.get("delivered_at")
        estimate = spec.get("estimated_delivery")
        shipments = (
            ShipmentFact(
                tracking_number=tracking_of(spec["order_number"]),
                carrier="UPS",
                service="Ground",
                status=TrackingStatus.DELIVERED if delivered else TrackingStatus.IN_TRANSIT,
                shipped_at=datetime.fromisoformat(spec["shipped_at"]),
                delivered_at=datetime.fromisoformat(delivered) if delivered else None,
                estimated_delivery=datetime.fromisoformat(estimate) if estimate else None,
            ),
        )
    promised = spec.get("promised_by")
    facts = CaseFacts(
        exception_type=ExceptionType(spec["exception_type"]),
        case_id="case-rt",
        order_ref=f"gid-{spec['order_number']}",
        order_number=spec["order_number"],
        currency=spec["currency"],
        total_minor=total,
        placed_at=NOW - timedelta(days=10),
        promised_by=datetime.fromisoformat(promised) if promised else None,
        now=NOW,
        customer_id="cust-1",
        customer_name="Ana Lopez",
        customer_email="ana.lopez@example.com",
        lines=lines,
        payments=(
            PaymentFact(
                payment_ref="pi_1",
                status=PaymentStatus.FAILED if failed else PaymentStatus.CAPTURED,
                amount_minor=total,
            ),
        ),
        shipments=shipments,
    )
    return facts, Candidate(
        rule="redteam",
        priority=0,
        actions=tuple(_action(a) for a in spec["actions"]),
        facts_used={},
        rationale="red team",
        policy_score=0.0,
        evidence=None,
    )


def _action(a: dict[str, Any]) -> CandidateAction:
    kind = ActionKind(a["kind"])
    amount = int(a.get("amount_minor") or a.get("refund_minor") or 0)
    cost = Cost()
    if kind is ActionKind.REFUND or "refund_minor" in a:
        cost = Cost(refund_minor=amount)
    elif kind is ActionKind.STORE_CREDIT:
        cost = Cost(credit_minor=amount)
    elif kind is ActionKind.SHIPPING_UPGRADE:
        cost = Cost(label_minor=amount)
    return CandidateAction(
        kind=kind, params=dict(a.get("params") or {}), exposure_minor=amount, cost=cost
    )


@cache
def scenarios() -> dict[str, tuple[CaseFacts, Candidate]]:
    return {name: scenario_case(spec) for name, spec in _document()["scenarios"].items()}


def known_for(name: str) -> KnownFacts:
    facts, candidate = scenarios()[name]
    return known_facts(facts, candidate)


def _backs(tag: str, known: KnownFacts) -> bool:
    done = known.actions | known.happened
    whole = known.whole_actions | known.happened_whole
    return {
        "never": False,
        "always": True,
        "refund": Action.REFUND in done,
        "refund-whole": Action.REFUND in whole,
        "credit": Action.CREDIT in known.actions,
        "half": 50.0 in known.percents,
        "cancel-whole": Action.CANCEL in whole,
        "reship": Action.RESHIP in known.actions,
        "ship-done": Action.SHIP in known.happened,
        "deliver-done": Action.DELIVER in known.happened,
    }[tag]


def _slots(facts: CaseFacts, candidate: Candidate, language: str) -> dict[str, str]:
    def amount(minor: int, currency: str = facts.currency) -> str:
        return money(minor, currency, language)

    refund = sum(a.cost.refund_minor for a in candidate.actions)
    credit = sum(a.cost.credit_minor for a in candidate.actions)
    other = "EUR" if facts.currency == "USD" else "USD"
    return {
        "order": facts.label,
        "other_order": "#9999",
        "total": amount(facts.total_minor),
        "total_other_currency": amount(facts.total_minor, other),
        "refund": amount(refund),
        "credit": amount(credit),
        "tracking": tracking_of(facts.order_number or ""),
        "other_tracking": "1ZRT999999999999",
    }


def _fill(text: str, slots: dict[str, str], currency: str, language: str) -> str:
    def money_slot(m: re.Match[str]) -> str:
        minor = int(m.group(2))
        if m.group(1) == "money":
            return money(minor, currency, language)
        return f"{NUMBER_WORDS[minor][language]} {CURRENCY_WORDS[currency][language]}"

    return re.sub(r"\{(money|words):(\d+)\}", money_slot, text).format(**slots)


def generate() -> list[dict[str, Any]]:
    """Every generated case, in a stable order: patterns, then the packaged templates."""
    patterns = _document()["patterns"]
    cases: list[dict[str, Any]] = []
    for hostile, group in ((True, patterns["hostile"]), (False, patterns["good"])):
        for pattern in group:
            for name, (facts, candidate) in scenarios().items():
                backed = all(_backs(tag, known_for(name)) for tag in pattern["backs"])
                if backed == hostile:
                    continue
                for language in LANGUAGES:
                    text = _fill(
                        pattern["text"][language],
                        _slots(facts, candidate, language),
                        facts.currency,
                        language,
                    )
                    cases.append(
                        {
                            "id": f"{pattern['id']}-{name}-{language}",
                            "scenario": name,
                            "language": language,
                            "hostile": hostile,
                            "source": "pattern",
                            "text": text,
                        }
                    )
    cases.extend(_template_drafts())
    return cases


def _template_drafts() -> Iterator[dict[str, Any]]:
    templates = TemplateSource()
    for name, (facts, candidate) in scenarios().items():
        for language in LANGUAGES:
            context = template_context(facts, candidate, language)
            yield {
                "id": f"template-customer-{name}-{language}",
                "scenario": name,
                "language": language,
                "hostile": False,
                "source": "template",
                "text": templates.render(f"{language}/customer.j2", context).strip(),
            }
            topic = TOPIC_OF.get(facts.exception_type)
            if topic is None:
                continue
            notice = {**template_context(facts, None, language), "topic": str(topic)}
            notice["short"] = [facts.lines[-1].sku]
            yield {
                "id": f"template-notice-{name}-{language}",
                "scenario": name,
                "language": language,
                "hostile": False,
                "source": "template-notice",
                "text": templates.render(f"{language}/notice.j2", notice).strip(),
            }


def render_generated() -> str:
    header = (
        "# Generated by orderops.recommend.claim_redteam.generate() from\n"
        "# data/redteam_claims.yaml and the packaged templates; do not edit by hand.\n"
    )
    return header + yaml.safe_dump(
        {"cases": generate()}, allow_unicode=True, sort_keys=False, width=100
    )


def write_generated(path: Path | None = None) -> Path:
    target = path or Path(str(resources.files("orderops.recommend").joinpath(GENERATED)))
    target.write_text(render_generated(), encoding="utf-8")
    return target


def stored_generated() -> str:
    return resources.files("orderops.recommend").joinpath(GENERATED).read_text(encoding="utf-8")


def load_cases() -> list[RedTeamCase]:
    """Hand-written and generated drafts, each with its scenario and verdict to reach."""
    document = _document()
    cases = [
        RedTeamCase(c["id"], c["scenario"], c["language"], c["text"], hostile, "hand")
        for hostile, key in ((True, "hostile"), (False, "good"))
        for c in document[key]
    ]
    generated = yaml.safe_load(stored_generated())["cases"]
    cases += [
        RedTeamCase(c["id"], c["scenario"], c["language"], c["text"], c["hostile"], c["source"])
        for c in generated
    ]
    return cases
