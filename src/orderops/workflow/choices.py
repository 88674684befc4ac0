"""Offering a customer choices through a signed link, and acting on the one they pick.

``offer_choices`` (a reviewer, from the API, the console or the CLI) works the options out
of the tenant's policy and the order's facts (``domain/choices.py``), keeps them on an
offer row, withdraws any earlier open offer on the case, signs a link for it
(``domain/choice_links.py``), and drafts the customer message that carries the link
(``workflow/choice_messages.py``: fact-checked, sent by the tenant's rule or by a person,
one voice applying). Withdrawing an offer (a new one, or ``withdraw_offer``) calls off
its message if it has not gone yet. The customer's side (the page, the choice) is
``workflow/choice_answers.py``. The approval policy treats a customer's choice like any
other proposal, except that rules with ``customer_choice: true`` may approve it.

Every step is on the case's timeline and in the audit log: the offer, the first opening,
the choice, and each refused use of a link that verifies (expired, used, withdrawn, another
case's, an option not offered, a choice the order no longer takes). A forged or edited link
names no tenant one can believe, so it is only logged (without the token) and refused.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.bootstrap import App
from orderops.cases.cases import record
from orderops.decide.action_context import context_for
from orderops.decide.actions import PROPOSABLE, get_case
from orderops.domain.actions import ActionContext, InvalidAction, parse_params, plan
from orderops.domain.choice_links import ChoiceLink, ChoiceLinkKeys
from orderops.domain.choices import (
    DEFAULT_CHOICE_POLICY,
    Choice,
    OfferFacts,
    SubstituteFact,
    build_choices,
)
from orderops.domain.clock import Clock
from orderops.domain.errors import Forbidden, IllegalTransition, NotFound
from orderops.domain.exposure import RemedyPending, refuse_if_pending
from orderops.domain.roles import Permission, Role, allows
from orderops.domain.scopes import UNRESTRICTED, AccessScope
from orderops.recommend.facts import CaseFacts
from orderops.recommend.service import load_policy_or_none, substitute_for
from orderops.recommend.settings import RecommendSettings
from orderops.recommend.store_facts import case_facts
from orderops.storage.tables import Case, CustomerChoiceOffer, User
from orderops.storage.tables.queues import Communication
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.workflow.choice_messages import (
    OfferMessage,
    send_offer,
    templates_for,
    withdraw_message,
)

log = logging.getLogger(__name__)

OPEN, CHOSEN, WITHDRAWN = "open", "chosen", "withdrawn"
PUBLIC_PREFIX = "/choice"
"""Where the desk serves the customer's page (``console/choice_page.py``): no sign-in."""


@dataclass(frozen=True, kw_only=True)
class OfferView:
    id: str
    case_id: str
    order_ref: str
    exception_type: str
    status: str
    options: tuple[Choice, ...]
    language: str
    created_by: str
    created_at: datetime
    expires_at: datetime
    opened_at: datetime | None
    decided_at: datetime | None
    chosen_option: str | None
    action_id: str | None
    communication_id: str | None = None
    """The customer message carrying the link (none on offers from before 0036, or when
    the fact checker refused the draft)."""
    message_status: str | None = None


@dataclass(frozen=True, kw_only=True)
class OfferMade:
    offer: OfferView
    url: str
    """The link, for the case worker to see. Never stored: it is signed again from the row
    (the signature is deterministic) while the offer is open."""
    message: OfferMessage | None = None
    """What became of the message carrying it (only when the offer was just made)."""


@dataclass(frozen=True, kw_only=True)
class OffersPage:
    """A case's offers, oldest first, and the open one with its link (read at once)."""

    offers: list[OfferView]
    open: OfferMade | None


def view(row: CustomerChoiceOffer, message_status: str | None = None) -> OfferView:
    return OfferView(
        id=row.id,
        case_id=row.case_id,
        order_ref=row.order_ref,
        exception_type=row.exception_type,
        status=row.status,
        options=tuple(Choice.from_json(o) for o in row.options),
        language=row.language,
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        opened_at=row.opened_at,
        decided_at=row.decided_at,
        chosen_option=row.chosen_option,
        action_id=row.action_id,
        communication_id=row.communication_id,
        message_status=message_status,
    )


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}{PUBLIC_PREFIX}/{token}"


# --- the reviewer's side --------------------------------------------------------------


def offer_choices(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    case_id: str,
    principal: Principal,
    clock: Clock,
    keys: ChoiceLinkKeys,
    base_url: str,
    settings: RecommendSettings | None = None,
) -> OfferMade:
    """A new offer on the case, its link and the message carrying it to the customer; an
    earlier open offer is withdrawn (its message too, if it has not gone)."""
    now = clock.now()
    settings = settings or RecommendSettings()
    with UnitOfWork(sessions, tenant_id=tenant_id, scope=principal.scope) as uow:
        case = get_case(uow, case_id)
        if case.status not in PROPOSABLE:
            raise IllegalTransition(f"a case in status {case.status} takes no new proposals")
        policy = load_policy_or_none(uow)
        choice_policy = (policy.customer_choices if policy else None) or DEFAULT_CHOICE_POLICY
        rules = choice_policy.rules_for(case.exception_type)
        facts = case_facts(uow, case, now=now)
        context = context_for(uow, case)
        offer_facts = _offer_facts(uow, case, facts, context, settings)
        choices = tuple(
            c for c in build_choices(rules, offer_facts) if _fits(c, context, case.exception_type)
        )
        if not choices:
            raise InvalidAction(
                f"no option the policy allows on a {case.exception_type} case fits order "
                f"{case.order_ref} now (remedies pending or already committed on it)"
            )
        withdrawn = _withdraw_open(uow, case, actor=principal.identity, now=now)
        row = CustomerChoiceOffer(
            tenant_id=tenant_id,
            case_id=case.id,
            order_ref=case.order_ref,
            exception_type=case.exception_type,
            status=OPEN,
            options=[c.as_json() for c in choices],
            display=_display(facts),
            language=facts.customer_language,
            created_by=principal.identity,
            created_at=now,
            expires_at=now + timedelta(hours=rules.link_hours),
        )
        uow.session.add(row)
        uow.session.flush()
        record(
            uow,
            case,
            at=now,
            actor=principal.identity,
            kind="customer_choice_offered",
            summary=f"{principal.name} offered the customer a choice: "
            + ", ".join(str(c.option) for c in choices),
            data={
                "offer_id": row.id,
                "options": row.options,
                "expires_at": row.expires_at.isoformat(),
                "language": row.language,
                "withdrawn": withdrawn,
            },
        )
        url = _signed_url(row, keys, base_url)
        message = send_offer(
            uow,
            case,
            row,
            url=url,
            facts=facts,
            now=now,
            templates=templates_for(tenant_id, settings),
        )
        uow.commit()
        return OfferMade(offer=view(row, message.status), url=url, message=message)


def withdraw_offer(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    case_id: str,
    principal: Principal,
    clock: Clock,
) -> list[str]:
    """Withdraw the case's open offer: its link stops working and its message, if it has
    not gone yet, is called off. The offers withdrawn (none when none was open)."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id, scope=principal.scope) as uow:
        case = get_case(uow, case_id)
        withdrawn = _withdraw_open(uow, case, actor=principal.identity, now=now)
        if withdrawn:
            record(
                uow,
                case,
                at=now,
                actor=principal.identity,
                kind="customer_choice_withdrawn",
                summary=f"{principal.name} withdrew the customer's choice link",
                data={"withdrawn": withdrawn},
            )
        uow.commit()
        return withdrawn


def _withdraw_open(uow: UnitOfWork, case: Case, *, actor: str, now: datetime) -> list[str]:
    rows = uow.session.scalars(
        select(CustomerChoiceOffer)
        .where(
            CustomerChoiceOffer.tenant_id == uow.tenant_id,
            CustomerChoiceOffer.case_id == case.id,
            CustomerChoiceOffer.status == OPEN,
        )
        .order_by(CustomerChoiceOffer.created_at, CustomerChoiceOffer.id)
        .with_for_update()
    ).all()
    for row in rows:
        row.status, row.decided_at = WITHDRAWN, now
        withdraw_message(uow, row, actor=actor, now=now)
    return [row.id for row in rows]


def offers_page(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    case_id: str,
    keys: ChoiceLinkKeys,
    base_url: str,
    scope: AccessScope = UNRESTRICTED,
) -> OffersPage:
    """The case's offers with their messages' statuses, and the open one's link to show;
    one read of the case, its offers and their messages."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False, scope=scope) as uow:
        offers = _offers_of(uow, get_case(uow, case_id))
        rows = [row for row, _ in offers]
        newest_open = next((r for r in reversed(rows) if r.status == OPEN), None)
        views = [view(row, status) for row, status in offers]
        made = None
        if newest_open is not None:
            shown = views[rows.index(newest_open)]
            made = OfferMade(offer=shown, url=_signed_url(newest_open, keys, base_url))
        return OffersPage(offers=views, open=made)


def _offers_of(uow: UnitOfWork, case: Case) -> list[tuple[CustomerChoiceOffer, str | None]]:
    """The case's offers, oldest first, each with its message's status."""
    rows = uow.session.execute(
        select(CustomerChoiceOffer, Communication.status)
        .outerjoin(
            Communication,
            (Communication.tenant_id == CustomerChoiceOffer.tenant_id)
            & (Communication.id == CustomerChoiceOffer.communication_id),
        )
        .where(
            CustomerChoiceOffer.tenant_id == uow.tenant_id,
            CustomerChoiceOffer.case_id == case.id,
        )
        .order_by(CustomerChoiceOffer.created_at, CustomerChoiceOffer.id)
    ).all()
    return [(row, status) for row, status in rows]


def _signed_url(row: CustomerChoiceOffer, keys: ChoiceLinkKeys, base_url: str) -> str:
    link = ChoiceLink(
        tenant_id=row.tenant_id, case_id=row.case_id, offer_id=row.id, expires_at=row.expires_at
    )
    return link_url(base_url, keys.sign(link))


def _offer_facts(
    uow: UnitOfWork,
    case: Case,
    facts: CaseFacts,
    context: ActionContext,
    settings: RecommendSettings,
) -> OfferFacts:
    refundable = [p.refundable_minor for p in context.payments]
    found = substitute_for(uow, facts, settings)
    substitute = (
        SubstituteFact(
            from_sku=found.from_sku,
            to_sku=found.to_sku,
            quantity=found.quantity,
            unit_difference_minor=found.unit_difference_minor,
        )
        if found is not None
        else None
    )
    return OfferFacts(
        exception_type=case.exception_type,
        order_total_minor=context.order_total_minor,
        refundable_minor=max(refundable, default=0),
        cancel_refund_minor=sum(refundable),
        substitute=substitute,
    )


def _fits(choice: Choice, context: ActionContext, exception_type: str) -> bool:
    """Whether the order takes the option now: it plans (amounts within what is left on
    the ledger) and no remedy of its kind already awaits approval on the order."""
    try:
        refuse_if_pending(parse_params(choice.kind, choice.params)[0], context)
        plan(choice.kind, choice.params, context)
    except (InvalidAction, RemedyPending) as exc:
        log.info("choice %s left out on a %s case: %s", choice.option, exception_type, exc)
        return False
    return True


def _display(facts: CaseFacts) -> dict[str, Any]:
    """The order as the customer's page shows it: number, items, the promised date. No
    address, payment or other customer detail: the link may be forwarded."""
    return {
        "order": facts.label,
        "currency": facts.currency,
        "exception_type": str(facts.exception_type),
        "promised_by": facts.promised_by.date().isoformat() if facts.promised_by else None,
        "lines": [
            {"sku": line.sku, "title": line.title, "quantity": line.quantity}
            for line in facts.lines
        ],
    }


def list_offers(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    case_id: str,
    scope: AccessScope = UNRESTRICTED,
) -> list[OfferView]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False, scope=scope) as uow:
        return [view(row, status) for row, status in _offers_of(uow, get_case(uow, case_id))]


def offer_as(
    app: App, principal: Principal, case_id: str, settings: RecommendSettings | None = None
) -> OfferMade:
    """``offer_choices`` with the app's key and the desk's public address (the console's
    base URL, ``ORDEROPS_RECOMMEND_CONSOLE_BASE_URL``): what the API, the console and the
    CLI call."""
    settings = settings or RecommendSettings()
    return offer_choices(
        app.sessions,
        tenant_id=principal.tenant_id,
        case_id=case_id,
        principal=principal,
        clock=app.clock,
        keys=ChoiceLinkKeys(app.settings.secret_key),
        base_url=settings.console_base_url,
        settings=settings,
    )


def reviewer(sessions: sessionmaker[Session], *, tenant_id: str, user_id: str) -> Principal:
    """The person a command-line offer is made as: an active user of the tenant whose role
    works cases (the API route's rule), else NotFound / Forbidden."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        user = uow.session.scalar(
            select(User).where(User.tenant_id == tenant_id, User.id == user_id)
        )
        if user is None:
            raise NotFound(f"no user {user_id} in tenant {tenant_id}")
        if user.disabled_at is not None or not allows(Role(user.role), Permission.CASES_WORK):
            raise Forbidden(f"user {user_id} ({user.role}) may not offer customer choices")
        return Principal(
            tenant_id=tenant_id,
            role=Role(user.role),
            name=user.display_name,
            subject=f"user:{user.id}",
        )
