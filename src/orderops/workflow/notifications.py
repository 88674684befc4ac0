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
3. the message is drafted through ``decide/communications.py`` (four eyes as any other)
   and, when the tenant's explicit rule auto-approves the topic, approved by that rule and
   queued to the support connector: *sent*; unless a proactive message went to this
   customer within the quiet period: then it waits (*quiet*) and a later pass sends it
   when the period ends. Without a rule it is left *drafted* for a person.

One voice counts every message the customer was sent, not only notices: a person's
message or a choice link about the topic within the window suppresses the notice, and any
message starts the quiet period (``decide/one_voice.py``).

Every outcome is a ``customer_notices`` row (unique per case and topic, so concurrent
passes notify once) and a case timeline entry with its audit record. Notices are drafted
as soon as a case opens: the pipeline hands each drained chunk's opened cases to
``notify_opened`` right after the chunk commits (one policy read for the chunk, nothing
per event, nothing at all when no opened case's type raises a topic). The worker's full
pass runs ``notify_customers`` for what that missed (a busy tenant, a failure, a policy
set later); ``orderops notifications run`` runs it on demand. Both hold the tenant's
processing lock, so two passes cannot both decide a customer was not told yet.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import CaseChange, CaseEvent, record
from orderops.decide import communications, one_voice
from orderops.decide.communications import CommunicationStatus
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
from orderops.storage.tables.queues import Communication
from orderops.storage.uow import UnitOfWork

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
                _notify_one(uow, case, policy, now=now, templates=templates, report=report)
        uow.commit()
    return report


def notify_opened(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    changes: Sequence[CaseEvent],
    clock: Clock,
    settings: RecommendSettings | None = None,
) -> NoticeReport:
    """Notices for the cases a chunk just opened, right after its commit.

    Nothing is read unless an opened case's type raises a notice topic; then the tenant's
    rule (one query) and those cases (one query), and each notice's own work. A tenant
    another processor holds is left alone (its sweep, or its holder's chunk, notifies),
    and a failure is logged, never raised: the chunk's events are already committed."""
    report = NoticeReport()
    noticeable = {str(t) for t in TOPIC_OF}
    opened = [
        c.case_id
        for c in changes
        if c.change is CaseChange.OPENED and c.exception_type in noticeable
    ]
    if not opened:
        return report
    templates = _templates(tenant_id, settings or RecommendSettings())
    try:
        with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
            policy = policy_of(uow)
            if not policy.topics or not uow.inbox.lock_processing(wait=False):
                return report
            now = clock.now()
            for case in cases_to_notify(uow, policy, now=now, limit=len(opened), ids=opened):
                _notify_one(uow, case, policy, now=now, templates=templates, report=report)
            uow.commit()
    except Exception:
        log.exception("notices for %d opened cases failed (tenant %s)", len(opened), tenant_id)
        report.count_failure()
    return report


def cases_to_notify(
    uow: UnitOfWork,
    policy: NoticePolicy,
    *,
    now: datetime,
    limit: int,
    ids: Sequence[str] | None = None,
) -> list[Case]:
    types = [str(t) for t in types_for(policy.topics)]
    noticed = exists().where(
        CustomerNotice.tenant_id == Case.tenant_id, CustomerNotice.case_id == Case.id
    )
    query = select(Case).where(
        Case.tenant_id == uow.tenant_id,
        Case.exception_type.in_(types),
        Case.status.not_in([str(s) for s in CLOSED_STATUSES]),
        Case.opened_at >= now - FRESH,
        ~noticed,
    )
    if ids is not None:
        query = query.where(Case.id.in_(list(ids)))
    return list(uow.session.scalars(query.order_by(Case.opened_at, Case.id).limit(limit)))


def _notify_one(
    uow: UnitOfWork,
    case: Case,
    policy: NoticePolicy,
    *,
    now: datetime,
    templates: TemplateSource,
    report: NoticeReport,
) -> None:
    try:
        with uow.session.begin_nested():
            outcome = notify_case(uow, case, policy, now=now, templates=templates)
    except Exception:
        # One case's failure (a tenant's broken template) must not hold back the others;
        # nothing of it is kept, and the next pass tries again.
        log.exception("notice for case %s failed (tenant %s)", case.id, uow.tenant_id)
        report.count_failure()
        return
    report.count(outcome)


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
    earlier = already_told(
        _told(uow, notice.customer_key, topic, now=now, policy=policy), now=now, policy=policy
    )
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
        uow, case, channel="email", subject=subject, body=body, actor=ACTOR, now=now, topic=topic
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
    until = quiet_until(last_sent_to(uow, notice.customer_key, now=now, policy=policy), policy)
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


def last_sent_to(
    uow: UnitOfWork, customer_key: str, *, now: datetime, policy: NoticePolicy
) -> datetime | None:
    """When a message (a notice, a choice link, a person's) last went out to this customer
    within the quiet period; None when none did."""
    since = now - timedelta(hours=policy.quiet_hours)
    sent = one_voice.messages_to(uow, customer_key, since=since)
    return sent[0].at if sent else None


def _told(
    uow: UnitOfWork, customer_key: str, topic: Topic, *, now: datetime, policy: NoticePolicy
) -> list[Told]:
    """Earlier notices about the topic, and messages about it sent by anyone else."""
    rows = uow.session.scalars(
        select(CustomerNotice).where(
            CustomerNotice.tenant_id == uow.tenant_id,
            CustomerNotice.customer_key == customer_key,
            CustomerNotice.topic == topic,
            CustomerNotice.outcome.in_([str(o) for o in TELLING]),
        )
    )
    told = [Told(n.id, n.case_id, n.order_ref, n.at, n.communication_id) for n in rows]
    noticed = {t.communication_id for t in told}
    since = now - timedelta(hours=policy.repeat_hours)
    return told + [
        Told(None, m.case_id, m.order_ref, m.at, m.communication_id)
        for m in one_voice.messages_to(uow, customer_key, since=since)
        if m.topic == topic and m.communication_id not in noticed
    ]


def _send_by_rule(
    uow: UnitOfWork, message: Communication, topic: Topic, *, now: datetime
) -> tuple[Outcome, str]:
    actor = rule_actor(topic)
    communications.approve(uow, message.id, expected_version=None, actor=actor, now=now)
    try:
        with uow.session.begin_nested():
            communications.mark_sent(
                uow, message.id, expected_version=None, actor=actor, now=now, voice_judged=True
            )
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
        until = quiet_until(last_sent_to(uow, notice.customer_key, now=now, policy=policy), policy)
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
