"""Proactive customer notices: the desk tells the customer before the customer asks.

For each open case whose type raises a topic the tenant drafts notices for (a predicted
delay, a stock-out, an address problem; ``domain/notifications.py``), once per case:

1. one voice: if this customer (on any order, any case) was told about the topic within
   the policy's window, the notice is *suppressed* and the case timeline names the
   earlier message;
2. the text is drafted from the case's facts with the recommender's templates
   (``<language>/notice.j2``, overridable per tenant like ``customer.j2``) in the
   customer's language (their locale, else the ship-to country's, with a note), and fact
   checked with the recommender's checker; a draft that fails is *blocked*, never stored
   as a message, so never sent;
3. the message is drafted through ``workflow/communications.py`` (four eyes as any other)
   and, when the tenant's explicit rule auto-approves the topic, approved by that rule and
   queued to the support connector: *sent*; unless a proactive message went to this
   customer within the quiet period: then it waits (*quiet*) and a later pass sends it
   when the period ends. Without a rule it is left *drafted* for a person.

Every outcome is a ``customer_notices`` row (unique per case and topic, so concurrent
passes notify once) and a case timeline entry with its audit record. The worker's full
pass runs ``notify_customers``; ``orderops notifications run`` runs it on demand. It
holds the tenant's processing lock, so two passes cannot both decide a customer was not
told yet.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exists, func, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.cases import CLOSED_STATUSES, ExceptionType
from orderops.domain.clock import Clock
from orderops.domain.errors import IllegalTransition
from orderops.domain.notifications import (
    TELLING,
    TOPIC_OF,
    LanguageChoice,
    NoticePolicy,
    Outcome,
    Told,
    Topic,
    already_told,
    choose_language,
    quiet_until,
    types_for,
)
from orderops.recommend.drafting import TemplateSource, known_facts, template_context
from orderops.recommend.factcheck import CheckResult, check_text
from orderops.recommend.facts import CaseFacts
from orderops.recommend.formatting import LANGUAGES
from orderops.recommend.settings import RecommendSettings
from orderops.recommend.store_facts import case_facts
from orderops.storage.tables import Case, Customer, Order
from orderops.storage.tables.notifications import CustomerNotice, NotificationPolicy
from orderops.storage.tables.queues import Communication, CommunicationEvent
from orderops.storage.uow import UnitOfWork
from orderops.workflow import communications
from orderops.workflow.cases import record
from orderops.workflow.communications import CommunicationStatus, Step

log = logging.getLogger(__name__)
ACTOR = "notifications"
FRESH = timedelta(hours=48)
"""A case opened longer ago than this is not news: enabling a topic does not message the
customers of every old open case."""
SUBJECTS = {
    "en": "An update on your order {order}",
    "es": "Novedades sobre su pedido {order}",
    "pt": "Novidades sobre a sua encomenda {order}",
    "de": "Neuigkeiten zu Ihrer Bestellung {order}",
}


def rule_actor(topic: Topic) -> str:
    """Who approves a message the tenant's rule sends: the rule, by name."""
    return f"rule:notifications.{topic}"


# -- the tenant's policy --------------------------------------------------------------


def policy_of(uow: UnitOfWork) -> NoticePolicy:
    row = _policy_row(uow)
    return NoticePolicy.model_validate(row.rules) if row is not None else NoticePolicy()


def policy_version(uow: UnitOfWork) -> int:
    row = _policy_row(uow)
    return row.version if row is not None else 0


def set_policy(uow: UnitOfWork, policy: NoticePolicy, *, actor: str, now: datetime) -> int:
    """Store the tenant's rule (a new version) with an audit record of before and after."""
    row = _policy_row(uow, lock=True)
    before = row.rules if row is not None else None
    rules = policy.model_dump(mode="json")
    if row is None:
        row = NotificationPolicy(
            tenant_id=uow.tenant_id, rules=rules, version=1, updated_by=actor, updated_at=now
        )
        uow.session.add(row)
    else:
        row.rules, row.version = rules, row.version + 1
        row.updated_by, row.updated_at = actor, now
    uow.session.flush()
    uow.audit.append(
        at=now,
        actor=actor,
        action="notifications.policy_set",
        entity_type="notification_policy",
        entity_id=row.id,
        data={"version": row.version, "before": before, "after": rules},
    )
    return row.version


def _policy_row(uow: UnitOfWork, *, lock: bool = False) -> NotificationPolicy | None:
    query = select(NotificationPolicy).where(NotificationPolicy.tenant_id == uow.tenant_id)
    return uow.session.scalar(query.with_for_update() if lock else query)


# -- the pass -------------------------------------------------------------------------


@dataclass
class NoticeReport:
    outcomes: dict[str, int] = field(default_factory=dict)
    released: int = 0
    """Quiet notices sent once their quiet period ended."""
    stranded: int = 0
    """Messages whose cancelled outbox row left them sending, settled as failed."""

    failed: int = 0
    """Cases whose notice raised; tried again on the next pass."""

    def count(self, outcome: Outcome) -> None:
        self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1

    def count_failure(self) -> None:
        self.failed += 1


def notify_customers(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    clock: Clock,
    batch: int = 100,
    settings: RecommendSettings | None = None,
) -> NoticeReport:
    """One pass for one tenant: settle stranded messages, send quiet notices whose period
    ended, then notify for new cases (at most ``batch``)."""
    report = NoticeReport()
    templates = _templates(tenant_id, settings or RecommendSettings())
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        now = clock.now()
        report.stranded = communications.settle_stranded(uow, now)
        policy = policy_of(uow)
        if policy.topics:
            uow.inbox.lock_processing()
            report.released = _release_quiet(uow, policy, now)
            for case in cases_to_notify(uow, policy, now=now, limit=batch):
                try:
                    with uow.session.begin_nested():
                        outcome = notify_case(uow, case, policy, now=now, templates=templates)
                except Exception:
                    # One case's failure (a tenant's broken template) must not hold back
                    # the others; nothing of it is kept, and the next pass tries again.
                    log.exception("notice for case %s failed (tenant %s)", case.id, tenant_id)
                    report.count_failure()
                    continue
                report.count(outcome)
        uow.commit()
    return report


def cases_to_notify(
    uow: UnitOfWork, policy: NoticePolicy, *, now: datetime, limit: int
) -> list[Case]:
    types = [str(t) for t in types_for(policy.topics)]
    noticed = exists().where(
        CustomerNotice.tenant_id == Case.tenant_id, CustomerNotice.case_id == Case.id
    )
    return list(
        uow.session.scalars(
            select(Case)
            .where(
                Case.tenant_id == uow.tenant_id,
                Case.exception_type.in_(types),
                Case.status.not_in([str(s) for s in CLOSED_STATUSES]),
                Case.opened_at >= now - FRESH,
                ~noticed,
            )
            .order_by(Case.opened_at, Case.id)
            .limit(limit)
        )
    )


def notify_case(
    uow: UnitOfWork,
    case: Case,
    policy: NoticePolicy,
    *,
    now: datetime,
    templates: TemplateSource | None = None,
) -> Outcome:
    """Decide, draft and (by rule) send one case's notice; the outcome is recorded."""
    topic = TOPIC_OF[ExceptionType(case.exception_type)]
    order = uow.session.get(Order, case.order_id)
    assert order is not None  # the foreign key guarantees it
    customer = uow.session.get(Customer, order.customer_id) if order.customer_id else None
    notice = CustomerNotice(
        tenant_id=uow.tenant_id,
        case_id=case.id,
        order_ref=case.order_ref,
        customer_key=f"customer:{customer.id}" if customer else f"order:{order.order_ref}",
        topic=topic,
        outcome=Outcome.DRAFTED,
        at=now,
    )
    earlier = already_told(_told(uow, notice.customer_key, topic), now=now, policy=policy)
    if earlier is not None:
        when = earlier.at.isoformat(timespec="minutes")
        return _conclude(
            uow,
            case,
            notice,
            Outcome.SUPPRESSED,
            f"the customer was already told about {topic} on {when} (order "
            f"{earlier.order_ref}, case {earlier.case_id}); one voice: not told again",
            now=now,
            earlier_notice=earlier.notice_id,
            earlier_message=earlier.communication_id,
        )
    facts = case_facts(uow, case, now=now)
    choice = choose_language(
        customer.locale if customer else None, facts.customer_language, LANGUAGES
    )
    notice.language = choice.language
    subject, body, check = draft_notice(facts, topic, choice, templates or TemplateSource())
    if not check.passed:
        problems = "; ".join(p.message for p in check.problems)
        return _conclude(
            uow,
            case,
            notice,
            Outcome.BLOCKED,
            f"the drafted notice failed the fact check and is not sent: {problems}",
            now=now,
            body=body,
        )
    message = communications.draft(
        uow, case, channel="email", subject=subject, body=body, actor=ACTOR, now=now
    )
    notice.communication_id = message.id
    if not policy.sends(topic):
        return _conclude(
            uow,
            case,
            notice,
            Outcome.DRAFTED,
            _drafted_reason(choice, f"no rule sends {topic} notices; a person approves it"),
            now=now,
        )
    until = quiet_until(last_sent_to(uow, notice.customer_key), policy)
    if until is not None and until > now:
        notice.not_before = until
        return _conclude(
            uow,
            case,
            notice,
            Outcome.QUIET,
            f"the customer's quiet period runs until {until.isoformat(timespec='minutes')}; "
            "the rule sends it then",
            now=now,
        )
    outcome, reason = _send_by_rule(uow, message, topic, now=now)
    return _conclude(uow, case, notice, outcome, _drafted_reason(choice, reason), now=now)


def draft_notice(
    facts: CaseFacts, topic: Topic, choice: LanguageChoice, templates: TemplateSource
) -> tuple[str, str, CheckResult]:
    """Subject, body and the fact checker's verdict on both, from the case's facts only."""
    language = choice.language
    context: dict[str, Any] = {
        **template_context(facts, None, language),
        "topic": str(topic),
        "short": _short_skus(facts),
    }
    body = templates.render(f"{language}/notice.j2", context)
    subject = SUBJECTS.get(language, SUBJECTS["en"]).format(order=facts.label)
    return subject, body, check_text(f"{subject}\n{body}", known_facts(facts, None))


def last_sent_to(uow: UnitOfWork, customer_key: str) -> datetime | None:
    """When a proactive message last went out to this customer (rule or person)."""
    return uow.session.scalar(
        select(func.max(CommunicationEvent.at)).where(
            CommunicationEvent.tenant_id == uow.tenant_id,
            CommunicationEvent.step == Step.SENT,
            CommunicationEvent.communication_id.in_(
                select(CustomerNotice.communication_id).where(
                    CustomerNotice.tenant_id == uow.tenant_id,
                    CustomerNotice.customer_key == customer_key,
                    CustomerNotice.communication_id.is_not(None),
                )
            ),
        )
    )


def _told(uow: UnitOfWork, customer_key: str, topic: Topic) -> list[Told]:
    rows = uow.session.scalars(
        select(CustomerNotice).where(
            CustomerNotice.tenant_id == uow.tenant_id,
            CustomerNotice.customer_key == customer_key,
            CustomerNotice.topic == topic,
            CustomerNotice.outcome.in_([str(o) for o in TELLING]),
        )
    )
    return [Told(n.id, n.case_id, n.order_ref, n.at, n.communication_id) for n in rows]


def _send_by_rule(
    uow: UnitOfWork, message: Communication, topic: Topic, *, now: datetime
) -> tuple[Outcome, str]:
    actor = rule_actor(topic)
    communications.approve(uow, message.id, expected_version=None, actor=actor, now=now)
    try:
        with uow.session.begin_nested():
            communications.mark_sent(uow, message.id, expected_version=None, actor=actor, now=now)
    except IllegalTransition as exc:
        return Outcome.DRAFTED, f"approved by rule, but not sendable: {exc.message}"
    return Outcome.SENT, f"approved and sent by the tenant's rule for {topic}"


def _release_quiet(uow: UnitOfWork, policy: NoticePolicy, now: datetime) -> int:
    """Quiet notices whose period ended: sent by the rule if the customer has been quiet
    since, else held to the new end; a message a person already moved on is theirs."""
    sent = 0
    waiting = uow.session.scalars(
        select(CustomerNotice)
        .where(
            CustomerNotice.tenant_id == uow.tenant_id,
            CustomerNotice.outcome == Outcome.QUIET,
            CustomerNotice.not_before <= now,
        )
        .order_by(CustomerNotice.not_before, CustomerNotice.id)
        .with_for_update()
    ).all()
    for notice in waiting:
        message = uow.session.get(Communication, notice.communication_id or "")
        case = uow.cases.get(notice.case_id)
        assert case is not None  # the foreign key guarantees it
        topic = Topic(notice.topic)
        if (
            message is None
            or message.status != CommunicationStatus.DRAFTED
            or case.status in CLOSED_STATUSES
            or not policy.sends(topic)
        ):
            _settle(uow, case, notice, Outcome.DRAFTED, "left to a person", now=now)
            continue
        until = quiet_until(last_sent_to(uow, notice.customer_key), policy)
        if until is not None and until > now:
            notice.not_before = until
            continue
        outcome, reason = _send_by_rule(uow, message, topic, now=now)
        _settle(uow, case, notice, outcome, f"quiet period over; {reason}", now=now)
        sent += outcome is Outcome.SENT
    return sent


def _conclude(
    uow: UnitOfWork,
    case: Case,
    notice: CustomerNotice,
    outcome: Outcome,
    reason: str,
    *,
    now: datetime,
    **data: Any,
) -> Outcome:
    notice.outcome, notice.reason = outcome, reason
    uow.session.add(notice)
    uow.session.flush()  # unique per case and topic: a second pass's insert fails here
    _timeline(uow, case, notice, now=now, **data)
    return outcome


def _settle(
    uow: UnitOfWork,
    case: Case,
    notice: CustomerNotice,
    outcome: Outcome,
    reason: str,
    *,
    now: datetime,
) -> None:
    notice.outcome, notice.reason, notice.not_before = outcome, reason, None
    _timeline(uow, case, notice, now=now)


def _timeline(
    uow: UnitOfWork, case: Case, notice: CustomerNotice, *, now: datetime, **data: Any
) -> None:
    record(
        uow,
        case,
        at=now,
        actor=ACTOR,
        kind=f"notice_{notice.outcome}",
        summary=f"Customer notice about {notice.topic} {notice.outcome}: {notice.reason}",
        data={
            "notice_id": notice.id,
            "topic": notice.topic,
            "outcome": notice.outcome,
            "communication_id": notice.communication_id,
            "language": notice.language,
            **data,
        },
    )


def _drafted_reason(choice: LanguageChoice, why: str) -> str:
    return why if choice.note is None else f"{why}; {choice.note}"


def _short_skus(facts: CaseFacts) -> list[str]:
    return [
        line.sku
        for line in facts.lines
        if line.location
        and facts.stock.get((line.sku, line.location), line.quantity) < line.quantity
    ]


def _templates(tenant_id: str, settings: RecommendSettings) -> TemplateSource:
    root = settings.templates_dir
    return TemplateSource(Path(root) / tenant_id if root else None)
