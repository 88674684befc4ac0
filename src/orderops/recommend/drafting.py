"""Drafts for a recommendation: the customer's message and the support team's note.

Templates are Jinja, per language (en, es, pt, de), and per tenant: a tenant's directory
``<templates_dir>/<tenant>/<language>/customer.j2`` (and ``internal.j2``) wins over the
packaged ones. They run in Jinja's sandbox, as tenants write them. When a model is
configured, its draft is checked like any other and, if blocked, the template's draft
stands beside it, so a desk never waits on a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from orderops.domain.actions import ActionKind
from orderops.domain.cases import ExceptionType
from orderops.recommend.claim_evidence import backing
from orderops.recommend.engine import Candidate, Recommendation
from orderops.recommend.factcheck import CheckResult, KnownFacts, check_text
from orderops.recommend.facts import CaseFacts
from orderops.recommend.formatting import LANGUAGES, day, money
from orderops.recommend.llm import LlmClient, ModelUnavailable, Usage, build_messages

LATE_TYPES = frozenset(
    {
        ExceptionType.SHIPMENT_LATE,
        ExceptionType.SHIPMENT_DELAY_PREDICTED,
        ExceptionType.PRE_DISPATCH_DELAY,
        ExceptionType.CUSTOMER_CHASING,
    }
)
REFUNDING = frozenset({ActionKind.REFUND, ActionKind.CANCEL_LINE, ActionKind.CANCEL_ORDER})


@dataclass(frozen=True)
class Draft:
    audience: str
    """``customer`` or ``internal``."""
    language: str
    source: str
    """``template`` or ``model``."""
    subject: str
    body: str
    check: CheckResult

    @property
    def status(self) -> str:
        return "ready" if self.check.passed else "blocked"

    def as_json(self) -> dict[str, Any]:
        return {
            "audience": self.audience,
            "language": self.language,
            "source": self.source,
            "subject": self.subject,
            "body": self.body,
            "status": self.status,
            "check": self.check.as_json(),
        }


@dataclass(frozen=True)
class DraftSet:
    drafts: tuple[Draft, ...]
    usage: Usage | None = None
    model_error: str | None = None

    def customer(self) -> Draft | None:
        """The message to offer: the model's if it passed, else the template's if it did."""
        ready = [d for d in self.drafts if d.audience == "customer" and d.check.passed]
        ready.sort(key=lambda d: d.source != "model")
        return ready[0] if ready else None

    def internal(self) -> Draft | None:
        return next((d for d in self.drafts if d.audience == "internal"), None)


class TemplateSource:
    def __init__(self, tenant_dir: Path | None = None) -> None:
        folder = str(tenant_dir) if tenant_dir is not None and tenant_dir.is_dir() else None
        self._env = _environment(folder)

    def render(self, name: str, context: dict[str, Any]) -> str:
        return self._env.get_template(name).render(**context)


@lru_cache(maxsize=256)
def _environment(tenant_dir: str | None) -> SandboxedEnvironment:
    """One environment per template folder, kept: an environment caches the templates it
    compiled, and a new one per message compiled them again, a fifth of the worker's time
    opening a case. A tenant's edited template is still picked up (jinja checks the
    file's modification time on each ``get_template``)."""
    loaders: list[Any] = []
    if tenant_dir is not None:
        loaders.append(FileSystemLoader(tenant_dir))
    loaders.append(PackageLoader("orderops.recommend", "templates"))
    return SandboxedEnvironment(
        loader=ChoiceLoader(loaders),
        undefined=StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=False,
    )


def _amount_of(candidate: Candidate, kinds: frozenset[ActionKind]) -> int:
    return sum(a.cost.refund_minor for a in candidate.actions if a.kind in kinds)


def _credit_of(candidate: Candidate) -> int:
    return sum(a.exposure_minor for a in candidate.actions if a.kind is ActionKind.STORE_CREDIT)


def known_facts(facts: CaseFacts, candidate: Candidate | None) -> KnownFacts:
    """What a draft about this case and this candidate may cite."""
    amounts = {facts.total_minor, facts.refundable_minor, facts.refunded_minor}
    for line in facts.lines:
        amounts |= {line.unit_price_minor, line.unit_price_minor * line.quantity}
    dates: set[date] = {facts.placed_at.date(), facts.now.date()}
    if facts.promised_by:
        dates.add(facts.promised_by.date())
    for shipment in facts.shipments:
        for moment in (shipment.shipped_at, shipment.delivered_at, shipment.estimated_delivery):
            if moment is not None:
                dates.add(moment.date())
        dates |= {scan.at.date() for scan in shipment.scans}
    skus = {line.sku for line in facts.lines}
    refund = credit = False
    refunds: set[int] = set()
    credits: set[int] = set()
    if candidate is not None:
        for action in candidate.actions:
            amounts.add(action.exposure_minor)
            amounts |= {action.cost.refund_minor, action.cost.credit_minor}
            for key in ("amount_minor", "cost_minor", "price_difference_minor"):
                if isinstance(action.params.get(key), int):
                    amounts.add(abs(int(action.params[key])))
            if isinstance(action.params.get("to_sku"), str):
                skus.add(action.params["to_sku"])
            if action.kind in REFUNDING and action.cost.refund_minor > 0:
                refund = True
                refunds.add(action.cost.refund_minor)
            if action.kind is ActionKind.STORE_CREDIT:
                credit = True
                credits.add(action.exposure_minor)
    order_ids = {facts.order_ref, facts.label, facts.label.lstrip("#")}
    if facts.order_number:
        order_ids.add(facts.order_number)
    backed = backing(facts, candidate)
    return KnownFacts(
        amounts_minor=frozenset(a for a in amounts if a > 0),
        dates=frozenset(dates),
        order_ids=frozenset(order_ids),
        tracking_numbers=frozenset(s.tracking_number for s in facts.shipments),
        skus=frozenset(skus),
        other_ids=frozenset(t.ticket_ref for t in facts.tickets),
        emails=frozenset({facts.customer_email.lower()} if facts.customer_email else set()),
        phones=frozenset({facts.customer_phone} if facts.customer_phone else set()),
        promises_refund=refund,
        promises_credit=credit,
        refund_amounts=frozenset(refunds | ({facts.refunded_minor} - {0})),
        credit_amounts=frozenset(credits),
        currency=facts.currency,
        today=facts.now.date(),
        actions=backed.actions,
        whole_actions=backed.whole_actions,
        happened=backed.happened,
        happened_whole=backed.happened_whole,
        happened_on=backed.happened_on,
        percents=backed.percents,
        promise_dates=backed.promise_dates,
    )


def template_context(
    facts: CaseFacts, candidate: Candidate | None, language: str
) -> dict[str, Any]:
    """What the templates see: the minimum, already formatted (no email, phone or address)."""
    params: dict[str, Any] = {}
    for action in candidate.actions if candidate else ():
        params = {**action.params, **params}
    shipment = facts.latest_shipment
    refund = _amount_of(candidate, REFUNDING) if candidate else 0
    credit = _credit_of(candidate) if candidate else 0
    return {
        "first_name": facts.first_name,
        "order": facts.label,
        "primary": str(candidate.primary) if candidate else "",
        "late": facts.exception_type in LATE_TYPES,
        "payment_failed": facts.exception_type is ExceptionType.PAYMENT_FAILED,
        "promised": day(facts.promised_by.date(), language) if facts.promised_by else None,
        "refund": money(refund, facts.currency, language) if refund else None,
        "credit": money(credit, facts.currency, language) if credit else None,
        "tracking": shipment.tracking_number if shipment and not facts.delivered else None,
        "carrier": shipment.carrier if shipment else None,
        "service_level": params.get("service_level"),
        "to_service": params.get("to_service"),
        "from_sku": params.get("from_sku"),
        "to_sku": params.get("to_sku"),
        "sku": params.get("sku"),
    }


def _subject(facts: CaseFacts, language: str) -> str:
    words = {
        "en": "Your order",
        "es": "Su pedido",
        "pt": "A sua encomenda",
        "de": "Ihre Bestellung",
    }
    return f"{words.get(language, words['en'])} {facts.label}"


def _describe(kind: ActionKind, params: dict[str, Any]) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in sorted(params.items()) if v is not None)
    return f"{kind} {shown}"


def _internal_context(
    facts: CaseFacts, recommendation: Recommendation, candidate: Candidate | None, link: str | None
) -> dict[str, Any]:
    return {
        "case_id": facts.case_id,
        "exception_type": str(facts.exception_type),
        "order": facts.label,
        "rule": candidate.rule if candidate else "none",
        "policy": recommendation.policy,
        "confidence": f"{candidate.confidence:.0%}" if candidate else "n/a",
        "actions": [_describe(a.kind, a.params) for a in (candidate.actions if candidate else ())],
        "cost": money(candidate.cost.total_minor, facts.currency, "en") if candidate else "n/a",
        "rationale": candidate.rationale if candidate else "no candidate passed the guardrails",
        "needs_approval": "; ".join(candidate.needs_approval) if candidate else "",
        "link": link,
    }


def model_facts(facts: CaseFacts, candidate: Candidate | None, language: str) -> dict[str, Any]:
    """The facts block a model sees: formatted values, no email, phone or address."""
    context = template_context(facts, candidate, language)
    return {
        **{k: v for k, v in context.items() if v not in (None, "")},
        "actions": [str(a.kind) for a in (candidate.actions if candidate else ())],
    }


@dataclass
class Drafter:
    templates: TemplateSource = field(default_factory=TemplateSource)
    llm: LlmClient | None = None

    def draft(
        self,
        facts: CaseFacts,
        recommendation: Recommendation,
        *,
        language: str | None = None,
        link: str | None = None,
        candidate: Candidate | None = None,
    ) -> DraftSet:
        chosen = candidate or recommendation.top
        lang = language or facts.customer_language
        if lang not in LANGUAGES:
            lang = "en"
        known = known_facts(facts, chosen)
        body = self.templates.render(f"{lang}/customer.j2", template_context(facts, chosen, lang))
        subject = _subject(facts, lang)
        drafts = [Draft("customer", lang, "template", subject, body, check_text(body, known))]
        note = self.templates.render(
            "internal.j2", _internal_context(facts, recommendation, chosen, link)
        )
        drafts.append(Draft("internal", "en", "template", subject, note, CheckResult()))
        if self.llm is None:
            return DraftSet(tuple(drafts))
        ticket = "\n\n".join(f"{t.subject or ''}\n{t.body or ''}".strip() for t in facts.tickets)
        messages = build_messages(model_facts(facts, chosen, lang), ticket or None, lang)
        try:
            answer = self.llm.draft(messages)
        except ModelUnavailable as exc:
            return DraftSet(tuple(drafts), model_error=exc.message)
        text = f"{answer.subject}\n{answer.customer_message}"
        drafts.append(
            Draft(
                "customer",
                lang,
                "model",
                answer.subject,
                answer.customer_message,
                check_text(text, known),
            )
        )
        drafts.append(
            Draft(
                "internal",
                "en",
                "model",
                answer.subject,
                answer.internal_note,
                check_text(answer.internal_note, known),
            )
        )
        return DraftSet(tuple(drafts), usage=answer.usage)
