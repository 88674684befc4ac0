"""Following a record's keys to its order, with the evidence of how.

A key names an entity through the alias store; an order key names the order itself, a
payment, shipment or ticket key names that entity, whose order it then is ("stripe.charge
ch_1 -> payment pi_1 -> order 1001"). The answer for a list of keys is one of: one order
(the first key that names exactly one), several (a non-exclusive key such as an order
number shared by two orders: a reviewer chooses), or none yet (the aliases to wait on).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from orderops.domain.aliases import Entity
from orderops.domain.events import ExternalKey
from orderops.resolve.aliases import AliasStore, Target, key_of, known_kind
from orderops.resolve.links import LinkMethod
from orderops.storage.tables import Order
from orderops.storage.uow import UnitOfWork

MENTION_KINDS = frozenset({"order.number", "order.name"})
"""Keys a person types (a ticket's "#1538"): a link by one of them is a mention."""

ORDER_LEADING = frozenset({Entity.ORDER, Entity.PAYMENT, Entity.SHIPMENT, Entity.TICKET})
"""Entities a key can lead to an order through; a customer or SKU key names no order."""


@dataclass(frozen=True)
class Link:
    """A record tied to an order by something other than its own canonical order ref."""

    order_ref: str
    method: LinkMethod
    key_kind: str | None
    key: str | None
    """The normalised key that matched (None for a link by email)."""
    evidence: str


@dataclass(frozen=True)
class Candidate:
    order_ref: str
    number: str | None
    evidence: str
    key_kind: str | None = None
    key: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "order_ref": self.order_ref,
            "number": self.number,
            "evidence": self.evidence,
            "key_kind": self.key_kind,
            "key": self.key,
        }


@dataclass(frozen=True)
class Search:
    """What a record's keys say about its order."""

    found: Link | None = None
    candidates: tuple[Candidate, ...] = ()
    """Set when no key names one order and a key names several."""
    ambiguous_key: str | None = None
    waits: tuple[str, ...] = ()
    """Aliases that name nothing yet (or an entity with no order yet)."""


@dataclass(frozen=True)
class Decision:
    """Where a record goes: an order (maybe with a new link), a suggestion, or a wait."""

    order_ref: str | None = None
    link: Link | None = None
    candidates: tuple[Candidate, ...] = ()
    reason: str = ""
    """Why the candidates are a question (the suggestion's reason)."""
    waits: tuple[str, ...] | None = None
    """Not None: the record waits (for these aliases; empty: for a person)."""
    settled: bool = False
    """True when the record's order was proved now (its ref or a key), so an open
    suggestion about it is superseded."""


def search(uow: UnitOfWork, store: AliasStore, keys: Sequence[ExternalKey]) -> Search:
    """Try the keys in the order given; the first naming exactly one order wins."""
    candidates: tuple[Candidate, ...] = ()
    ambiguous_key: str | None = None
    waits: list[str] = []
    for key in keys:
        entity = known_kind(key.kind)
        alias = key_of(key.kind, key.value)
        if alias is None or entity not in ORDER_LEADING:
            continue
        hits = _orders_named(uow, store.lookup(key.kind, key.value))
        label = f"{key.kind} {key.value.strip()}"
        if not hits:
            waits.append(alias)
        elif len(hits) == 1:
            ((order_ref, via),) = hits.items()
            method = LinkMethod.MENTION if key.kind in MENTION_KINDS else LinkMethod.ALIAS
            normalised = alias.split(":", 1)[1]
            evidence = " -> ".join(["linked by " + label, *via])
            return Search(found=Link(order_ref, method, key.kind, normalised, evidence))
        elif not candidates:
            ambiguous_key = label
            normalised = alias.split(":", 1)[1]
            candidates = tuple(
                Candidate(
                    order_ref=ref,
                    number=_number(uow, ref),
                    evidence=" -> ".join([f"{label} names it", *via]),
                    key_kind=key.kind,
                    key=normalised,
                )
                for ref, via in sorted(hits.items())
            )
    return Search(candidates=candidates, ambiguous_key=ambiguous_key, waits=tuple(waits))


def _orders_named(uow: UnitOfWork, targets: Iterable[Target]) -> dict[str, tuple[str, ...]]:
    """Order ref -> the entities followed to reach it, for each target that has an order."""
    found: dict[str, tuple[str, ...]] = {}
    for entity_type, entity_ref in targets:
        step = follow(uow, entity_type, entity_ref)
        if step is not None and step[0] not in found:
            found[step[0]] = step[1]
    return found


def follow(
    uow: UnitOfWork, entity_type: str, entity_ref: str
) -> tuple[str, tuple[str, ...]] | None:
    """The order an entity belongs to and the steps taken, or None when it has none yet."""
    repo = uow.commerce
    if entity_type == Entity.ORDER:
        return entity_ref, ()
    if entity_type == Entity.PAYMENT:
        payment = repo.payment_by_id(entity_ref)
        if payment is not None and payment.order_ref:
            return payment.order_ref, (f"payment {payment.payment_ref}",)
    elif entity_type == Entity.SHIPMENT:
        shipment = repo.shipment_by_id(entity_ref)
        if shipment is not None and shipment.order_ref:
            return shipment.order_ref, (f"shipment {shipment.tracking_number}",)
    elif entity_type == Entity.TICKET:
        ticket = repo.ticket_by_id(entity_ref)
        if ticket is not None and ticket.order_ref:
            return ticket.order_ref, (f"ticket {ticket.ticket_ref}",)
    return None


def candidate_of(order: Order, evidence: str) -> Candidate:
    return Candidate(order_ref=order.order_ref, number=order.number, evidence=evidence)


def _number(uow: UnitOfWork, order_ref: str) -> str | None:
    order = uow.commerce.order_by_ref(order_ref)
    return order.number if order is not None else None
