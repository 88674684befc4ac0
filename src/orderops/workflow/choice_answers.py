"""The customer's side of a choice link: opening the page, and the choice it makes.

``open_offer`` is the public page reading the offer; ``choose`` proposes the chosen option
as an action on the case, by the customer, in the same transaction that uses up the link,
so a second use (even a concurrent one: the offer row is locked) finds it used and changes
nothing. Every refused use of a link that verifies (expired, used, withdrawn, another
case's, an option not offered, a choice the order no longer takes) is on the case's
timeline; a forged or edited link names no tenant one can believe, so it is only logged
(without the token) and refused. The reviewer's side is ``workflow/choices.py``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from orderops.cases.cases import record
from orderops.decide.actions import get_case, propose_in
from orderops.domain.choice_links import ChoiceLink, ChoiceLinkKeys, ChoiceLinkRefused
from orderops.domain.choices import Choice, ChoiceOption
from orderops.domain.clock import Clock
from orderops.domain.errors import OrderOpsError
from orderops.domain.roles import Role
from orderops.evidence.store import BlobStore
from orderops.storage.tables import Case, CustomerChoiceOffer
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.workflow.choices import CHOSEN, WITHDRAWN, view

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class OfferPage:
    """What the public page may show: the order as the offer described it, the options."""

    offer_id: str
    language: str
    display: dict[str, Any]
    options: tuple[Choice, ...]
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class ChoiceMade:
    option: ChoiceOption
    action_id: str
    action_status: str
    language: str
    display: dict[str, Any]


def verified(keys: ChoiceLinkKeys, token: str) -> ChoiceLink:
    """The link a token carries, or the refusal (logged without the token)."""
    try:
        return keys.verify(token)
    except ChoiceLinkRefused:
        log.warning("choice link refused: not signed by this desk (%d characters)", len(token))
        raise


def open_offer(sessions: sessionmaker[Session], *, link: ChoiceLink, clock: Clock) -> OfferPage:
    """The page behind a verified link; its first opening is recorded on the case."""
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=link.tenant_id) as uow:
        row = _usable(uow, link, now=now, lock=False)
        if row.opened_at is None:
            row.opened_at = now
            record(
                uow,
                _case_of(uow, row),
                at=now,
                actor=customer_actor(row),
                kind="customer_choice_opened",
                summary="The customer opened the choice link",
                data={"offer_id": row.id},
            )
        uow.commit()
        return OfferPage(
            offer_id=row.id,
            language=row.language,
            display=dict(row.display),
            options=tuple(Choice.from_json(o) for o in row.options),
            expires_at=row.expires_at,
        )


def choose(
    sessions: sessionmaker[Session],
    *,
    link: ChoiceLink,
    option: str,
    clock: Clock,
    evidence: BlobStore,
) -> ChoiceMade:
    """Propose the chosen option as the customer, and use the link up, in one commit."""
    now = clock.now()
    try:
        with UnitOfWork(sessions, tenant_id=link.tenant_id) as uow:
            row = _usable(uow, link, now=now, lock=True)
            chosen = next((c for c in view(row).options if c.option == option), None)
            if chosen is None:
                # as printable text: what was posted may hold anything, NUL included
                shown = option[:64].encode("unicode_escape").decode("ascii")
                _refuse(uow, row, now=now, reason="unknown_option", detail=shown)
                uow.commit()
                raise ChoiceLinkRefused(
                    "that option was not offered", reason="unknown_option", language=row.language
                )
            principal = Principal(
                tenant_id=link.tenant_id,
                role=Role.VIEWER,  # unused by proposing; the customer holds no desk role
                name="The customer (choice link)",
                subject=customer_actor(row),
            )
            action = propose_in(
                uow,
                case_id=row.case_id,
                kind=chosen.kind,
                params=chosen.params,
                principal=principal,
                now=now,
                evidence=evidence,
                note=f"chosen through link {row.id}",
                customer_choice=True,
            )
            row.status, row.decided_at = CHOSEN, now
            row.chosen_option, row.action_id = str(chosen.option), action.id
            record(
                uow,
                _case_of(uow, row),
                at=now,
                actor=customer_actor(row),
                kind="customer_choice_made",
                summary=f"The customer chose {chosen.option}; {chosen.kind} is {action.status}",
                data={
                    "offer_id": row.id,
                    "option": str(chosen.option),
                    "action_id": action.id,
                    "action_status": action.status,
                },
            )
            uow.commit()
            return ChoiceMade(
                option=chosen.option,
                action_id=action.id,
                action_status=action.status,
                language=row.language,
                display=dict(row.display),
            )
    except ChoiceLinkRefused:
        raise
    except OrderOpsError as exc:
        # The order no longer takes it (a remedy committed since, the case closed): nothing
        # was proposed and the link stays usable; the refusal is recorded on its own.
        with UnitOfWork(sessions, tenant_id=link.tenant_id) as uow:
            offer = _offer(uow, link.offer_id, lock=True)
            if offer is not None:
                _refuse(uow, offer, now=now, reason="not_possible", detail=exc.message)
            uow.commit()
        raise ChoiceLinkRefused(
            "the shop cannot carry out that choice any more", reason="not_possible"
        ) from exc


def customer_actor(row: CustomerChoiceOffer) -> str:
    """Who acts when the customer does: the link, a stable id on timelines and audits."""
    return f"customer-link:{row.id}"


def _offer(uow: UnitOfWork, offer_id: str, *, lock: bool) -> CustomerChoiceOffer | None:
    query = select(CustomerChoiceOffer).where(
        CustomerChoiceOffer.tenant_id == uow.tenant_id, CustomerChoiceOffer.id == offer_id
    )
    return uow.session.scalar(query.with_for_update() if lock else query)


def _usable(uow: UnitOfWork, link: ChoiceLink, *, now: datetime, lock: bool) -> CustomerChoiceOffer:
    """The offer the link names, if it may still be used; each refusal is recorded (and
    committed) before it is raised, so the caller's rollback does not lose it."""
    row = _offer(uow, link.offer_id, lock=lock)
    if row is None:
        log.warning("choice link refused: no offer %s in tenant %s", link.offer_id, link.tenant_id)
        raise ChoiceLinkRefused("this link is not one the shop sent", reason="not_found")
    refusal: ChoiceLinkRefused | None = None
    if row.case_id != link.case_id:
        refusal = ChoiceLinkRefused(
            "this link is not one the shop sent", reason="wrong_case", language=row.language
        )
    elif now >= min(row.expires_at, link.expires_at):
        refusal = ChoiceLinkRefused(
            "this link has expired", reason="expired", language=row.language
        )
    elif row.status == CHOSEN:
        refusal = ChoiceLinkRefused(
            "a choice was already made with this link", reason="used", language=row.language
        )
    elif row.status == WITHDRAWN:
        refusal = ChoiceLinkRefused(
            "the shop replaced this link", reason="withdrawn", language=row.language
        )
    if refusal is not None:
        _refuse(uow, row, now=now, reason=refusal.reason, detail=refusal.message)
        uow.commit()
        raise refusal
    return row


def _refuse(
    uow: UnitOfWork, row: CustomerChoiceOffer, *, now: datetime, reason: str, detail: str
) -> None:
    record(
        uow,
        _case_of(uow, row),
        at=now,
        actor=customer_actor(row),
        kind="customer_choice_refused",
        summary=f"A use of the choice link was refused ({reason})",
        data={"offer_id": row.id, "reason": reason, "detail": detail},
    )


def _case_of(uow: UnitOfWork, row: CustomerChoiceOffer) -> Case:
    return get_case(uow, row.case_id)
