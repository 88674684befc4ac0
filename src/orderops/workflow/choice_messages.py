"""The message that carries a choice offer's link to the customer.

Offering choices (``workflow/choices.py``) drafts it in the offering transaction, through
the same path as every customer message (``decide/communications.py``): written from the
recommender's templates (``<language>/choice.j2``, overridable per tenant like the
others) in the offer's language, fact-checked like any draft, about the offer's topic (a
delay, a stock-out; ``domain/notifications.topic_of_case``), and queued to the support
connector when sent. The fact checker refuses links in drafts, so the text is checked
with a placeholder where the link goes and the signed link (the desk's own) is put in
after: everything the customer reads besides the link is checked.

It is sent on the rules of every other customer message: when the tenant's notice rule
auto-approves the topic and one voice allows it (``decide/one_voice.py``), the rule
approves and sends it; otherwise it waits, drafted, for a person, who may approve and send
it (and override one voice with a reason). A draft the checker refuses is not stored: the
offer stands, and the case timeline says why nothing was drafted. Withdrawing the offer
withdraws its message if it has not gone yet.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from orderops.cases.cases import record
from orderops.decide import communications, one_voice
from orderops.domain.errors import IllegalTransition
from orderops.domain.notifications import Topic, topic_of_case
from orderops.recommend.drafting import TemplateSource, known_facts, template_context
from orderops.recommend.factcheck import check_text
from orderops.recommend.facts import CaseFacts
from orderops.recommend.formatting import LANGUAGES
from orderops.recommend.settings import RecommendSettings
from orderops.storage.tables import Case, CustomerChoiceOffer
from orderops.storage.uow import UnitOfWork

ACTOR = "choices"
"""Who wrote the text: the desk's template, so the reviewer who offered may approve it."""
LINK = "[link]"
SUBJECTS = {
    "en": "Your choice for order {order}",
    "es": "Elija cómo seguir con su pedido {order}",
    "pt": "A sua escolha para a encomenda {order}",
    "de": "Ihre Wahl zur Bestellung {order}",
}


@dataclass(frozen=True)
class OfferMessage:
    communication_id: str | None
    status: str
    """The message's status (``drafted``, ``sending``...), or ``blocked`` when none."""
    reason: str


def rule_actor(topic: Topic) -> str:
    return f"rule:choices.{topic}"


def templates_for(tenant_id: str, settings: RecommendSettings) -> TemplateSource:
    root = settings.templates_dir
    return TemplateSource(Path(root) / tenant_id if root else None)


def send_offer(
    uow: UnitOfWork,
    case: Case,
    offer: CustomerChoiceOffer,
    *,
    url: str,
    facts: CaseFacts,
    now: datetime,
    templates: TemplateSource,
) -> OfferMessage:
    """Draft the offer's message and send it if a rule may; recorded on the timeline."""
    topic = topic_of_case(case.exception_type)
    language = offer.language if offer.language in LANGUAGES else "en"
    context = {**template_context(facts, None, language), "topic": str(topic), "link": LINK}
    body = templates.render(f"{language}/choice.j2", context)
    subject = SUBJECTS.get(language, SUBJECTS["en"]).format(order=facts.label)
    check = check_text(f"{subject}\n{body}", known_facts(facts, None))
    if not check.passed or LINK not in body:
        problems = "; ".join(p.message for p in check.problems) or "the text has no link"
        return _noted(
            uow, case, offer, OfferMessage(None, "blocked", f"not drafted: {problems}"), now
        )
    message = communications.draft(
        uow,
        case,
        channel="email",
        subject=subject,
        body=body.replace(LINK, url),
        actor=ACTOR,
        now=now,
        topic=topic,
    )
    offer.communication_id = message.id
    policy = one_voice.notice_policy(uow)
    if not policy.sends(topic):
        why = f"no rule sends {topic} messages; a person approves and sends it"
        return _noted(uow, case, offer, OfferMessage(message.id, message.status, why), now)
    clash = one_voice.clash_for(uow, case, topic=topic, now=now, policy=policy)
    if clash is not None:
        why = f"left to a person: {clash.describe(str(topic))}"
        return _noted(uow, case, offer, OfferMessage(message.id, message.status, why), now)
    actor = rule_actor(topic)
    communications.approve(uow, message.id, expected_version=None, actor=actor, now=now)
    try:
        with uow.session.begin_nested():
            communications.mark_sent(
                uow, message.id, expected_version=None, actor=actor, now=now, voice_judged=True
            )
    except IllegalTransition as exc:
        why = f"approved by the rule for {topic}, but not sendable: {exc.message}"
        return _noted(uow, case, offer, OfferMessage(message.id, message.status, why), now)
    why = f"approved and sent by the tenant's rule for {topic}"
    return _noted(uow, case, offer, OfferMessage(message.id, message.status, why), now)


def withdraw_message(
    uow: UnitOfWork, offer: CustomerChoiceOffer, *, actor: str, now: datetime
) -> bool:
    """Call off the withdrawn offer's message if it has not gone; whether it was."""
    if offer.communication_id is None:
        return False
    return communications.withdraw(
        uow,
        offer.communication_id,
        actor=actor,
        now=now,
        reason=f"its choice offer {offer.id} was withdrawn before it was sent",
    )


def _noted(
    uow: UnitOfWork,
    case: Case,
    offer: CustomerChoiceOffer,
    outcome: OfferMessage,
    now: datetime,
) -> OfferMessage:
    record(
        uow,
        case,
        at=now,
        actor=ACTOR,
        kind="customer_choice_message",
        summary=f"The message with the choice link is {outcome.status}: {outcome.reason}",
        data={
            "offer_id": offer.id,
            "communication_id": outcome.communication_id,
            "status": outcome.status,
        },
    )
    return outcome
