"""Resolve: rewrite an event's references to canonical ones before it is projected.

For each record that belongs to an order (a payment, shipment, ticket, fraud signal,
refund, held fulfillment order) the order is, in this order of trust:

1. the record's own ``order_ref`` (canonical: nothing to link);
2. the order a person linked the record to (manual, or an accepted suggestion);
3. the first of its ``order_keys`` that names exactly one order, directly or through the
   payment, shipment or ticket it names (a new link, with the key and the chain followed);
4. the order it is already on (an earlier event's key, or its stored row);
5. otherwise: a question for a reviewer when a key names several orders, a wait when a
   key names nothing yet, or no order at all for records that may stand alone.

Stock levels keyed by a provider's item id get their SKU; an ``alias.observed`` gets the
entity its key names. Resolution only reads: ``settle`` writes the link, revokes what it
replaces, and opens or supersedes the suggestion, after the projection stored the record.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from orderops.domain.aliases import Entity
from orderops.domain.errors import InvalidEvent
from orderops.domain.events import (
    AliasData,
    EventType,
    ExternalKey,
    FraudSignalData,
    FulfillmentHoldData,
    InventoryLevelData,
    OrderCancelledData,
    PaymentData,
    RefundData,
    ShipmentData,
    TicketData,
)
from orderops.ingest.envelope import CanonicalEvent
from orderops.resolve.aliases import AliasStore, Target, key_of, system_of
from orderops.resolve.follow import Decision, search
from orderops.resolve.links import (
    RESOLVE_ACTOR,
    LinkMethod,
    RecordType,
    add_link,
    links_for_record,
    record_ref,
    revoke_link,
)
from orderops.resolve.reads import hold as hold_of
from orderops.resolve.reads import record_links
from orderops.resolve.reads import refund as refund_of
from orderops.resolve.shipping import find_shipment
from orderops.resolve.suggestions import suggest, supersede
from orderops.resolve.tickets import decide_ticket
from orderops.storage.repositories.loaded import loaded_rows
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import RecordLink
from orderops.storage.uow import UnitOfWork

PERSON_METHODS = frozenset({LinkMethod.MANUAL, LinkMethod.SUGGESTION})
"""Links a person made: resolve follows them and never revokes them."""

Record = tuple[RecordType, str]


@dataclass(frozen=True)
class Resolution:
    event: CanonicalEvent
    """The event with canonical references (the order ref or SKU resolve found)."""
    record: Record | None = None
    decision: Decision = field(default_factory=Decision)
    target: Target | None = None
    """The entity an ``alias.observed`` names (None: several, so nothing is learnt)."""

    @property
    def waits(self) -> tuple[str, ...] | None:
        return self.decision.waits


def resolve(uow: UnitOfWork, event: CanonicalEvent) -> Resolution:
    """Find what the event is about. Reads only; raises InvalidEvent for unusable keys."""
    store = AliasStore(ResolveRepository(uow.session, uow.tenant_id), loaded_rows(uow.session))
    data, source = event.payload, event.envelope.source
    match event.type:
        case EventType.ORDER_CANCELLED:
            assert isinstance(data, OrderCancelledData)
            if uow.commerce.order_by_ref(data.order_ref) is None:
                return Resolution(
                    event, decision=Decision(waits=_keys(("order.ref", data.order_ref)))
                )
            return Resolution(event)
        case EventType.PAYMENT_UPDATED:
            assert isinstance(data, PaymentData)
            payment = uow.commerce.payment(data.provider, data.payment_ref)
            record = (RecordType.PAYMENT, record_ref(data.provider, data.payment_ref))
            return _record(
                uow,
                store,
                event,
                record,
                data.order_ref,
                data.order_keys,
                own=payment.order_ref if payment is not None else None,
                own_keys=_keys(("payment.ref", data.payment_ref)),
            )
        case EventType.SHIPMENT_CREATED:
            assert isinstance(data, ShipmentData)
            shipment = find_shipment(uow, store, data.carrier, data.tracking_number)
            stored = shipment or data
            record = (RecordType.SHIPMENT, record_ref(stored.carrier, stored.tracking_number))
            return _record(
                uow,
                store,
                event,
                record,
                data.order_ref,
                data.order_keys,
                own=shipment.order_ref if shipment is not None else None,
                own_keys=_keys(("tracking", data.tracking_number)),
            )
        case EventType.TICKET_UPDATED:
            assert isinstance(data, TicketData)
            return _ticket(uow, store, event, data)
        case EventType.FRAUD_SIGNAL:
            assert isinstance(data, FraudSignalData)
            ref = data.signal_ref or event.envelope.id
            record = (RecordType.FRAUD_SIGNAL, record_ref(system_of(source), ref))
            return _record(
                uow, store, event, record, data.order_ref, data.order_keys, needs_order=True
            )
        case EventType.ORDER_REFUND:
            assert isinstance(data, RefundData)
            system = system_of(source)
            refund = refund_of(uow, system, data.refund_ref)
            record = (RecordType.REFUND, record_ref(system, data.refund_ref))
            return _record(
                uow,
                store,
                event,
                record,
                data.order_ref,
                data.order_keys,
                own=refund.order_ref if refund is not None else None,
                needs_order=True,
            )
        case EventType.FULFILLMENT_HOLD:
            assert isinstance(data, FulfillmentHoldData)
            hold = hold_of(uow, system_of(source), data.fulfillment_order_ref)
            record = (RecordType.HOLD, record_ref(system_of(source), data.fulfillment_order_ref))
            return _record(
                uow,
                store,
                event,
                record,
                data.order_ref,
                data.order_keys,
                own=hold.order_ref if hold is not None else None,
                needs_order=True,
            )
        case EventType.INVENTORY_LEVEL:
            assert isinstance(data, InventoryLevelData)
            return _stock(store, event, data)
        case EventType.ALIAS_OBSERVED:
            assert isinstance(data, AliasData)
            return _alias(store, event, data)
    return Resolution(event)


def _record(
    uow: UnitOfWork,
    store: AliasStore,
    event: CanonicalEvent,
    record: Record,
    order_ref: str | None,
    keys: Sequence[ExternalKey],
    *,
    own: str | None = None,
    own_keys: tuple[str, ...] = (),
    needs_order: bool = False,
) -> Resolution:
    """The order of a record (see the module's list), and what to do when there is none."""
    if order_ref:
        return Resolution(event, record, Decision(order_ref=order_ref, settled=True))
    links = links_for_record(uow, *record)
    if (person := _by_person(links)) is not None:
        return _to(event, record, Decision(order_ref=person.order_ref))
    found = search(uow, store, keys)
    if found.found is not None and found.found.order_ref in _refused(uow, record):
        return Resolution(event, record)
    if found.found is not None:
        decision = Decision(order_ref=found.found.order_ref, link=found.found, settled=True)
        return _to(event, record, decision)
    earlier = links[0].order_ref if links else own
    if earlier:
        return _to(event, record, Decision(order_ref=earlier))
    if found.candidates:
        reason = f"{found.ambiguous_key} names {len(found.candidates)} orders"
        waits = () if needs_order else None  # a record that cannot stand alone waits for a person
        return Resolution(
            event, record, Decision(candidates=found.candidates, reason=reason, waits=waits)
        )
    if found.waits:
        return Resolution(event, record, Decision(waits=found.waits + own_keys))
    if needs_order:
        raise InvalidEvent(f"{record[0]} {record[1]} names no order: give order_ref or order_keys")
    return Resolution(event, record)


def _ticket(
    uow: UnitOfWork, store: AliasStore, event: CanonicalEvent, data: TicketData
) -> Resolution:
    record = (RecordType.TICKET, record_ref(data.source, data.ticket_ref))
    if data.order_ref:
        return Resolution(event, record, Decision(order_ref=data.order_ref, settled=True))
    links = links_for_record(uow, *record)
    if (person := _by_person(links)) is not None:
        return _to(event, record, Decision(order_ref=person.order_ref))
    ticket = uow.commerce.ticket(data.source, data.ticket_ref)
    own = links[0].order_ref if links else (ticket.order_ref if ticket is not None else None)
    decision = decide_ticket(uow, store, data, at=event.envelope.time, own=own)
    if decision.order_ref is not None and decision.order_ref in _refused(uow, record):
        return Resolution(event, record)
    return _to(event, record, decision)


def _stock(store: AliasStore, event: CanonicalEvent, data: InventoryLevelData) -> Resolution:
    if data.sku is not None or data.item_key is None:
        return Resolution(event)
    key = data.item_key
    skus = sorted(ref for kind, ref in store.lookup(key.kind, key.value) if kind == Entity.SKU)
    if not skus:
        alias = key_of(key.kind, key.value)
        if alias is None:
            raise InvalidEvent(f"stock level item key {key.kind} {key.value!r} is blank")
        return Resolution(event, decision=Decision(waits=(alias,)))
    payload = data.model_copy(update={"sku": skus[0]})
    return Resolution(event.model_copy(update={"payload": payload}))


def _alias(store: AliasStore, event: CanonicalEvent, data: AliasData) -> Resolution:
    targets = store.lookup(data.entity.kind, data.entity.value)
    if not targets:
        alias = key_of(data.entity.kind, data.entity.value)
        if alias is None:
            raise InvalidEvent(f"alias.observed names a blank {data.entity.kind}")
        return Resolution(event, decision=Decision(waits=(alias,)))
    return Resolution(event, target=targets[0] if len(targets) == 1 else None)


def settle(
    uow: UnitOfWork, resolution: Resolution, *, inbox_id: str, now: datetime
) -> RecordLink | None:
    """Write what resolving decided, once the record is stored: its link (revoking the
    links resolve made to another order), its suggestion, or the end of its suggestion."""
    if resolution.record is None:
        return None
    record_type, ref = resolution.record
    decision = resolution.decision
    if decision.candidates:
        suggest(
            uow,
            record_type=record_type,
            record_ref=ref,
            candidates=decision.candidates,
            reason=decision.reason,
            inbox_id=inbox_id,
            now=now,
        )
        return None
    order_ref = decision.order_ref
    if order_ref is None or not (decision.settled or decision.link):
        return None
    for old in links_for_record(uow, record_type, ref):
        if old.order_ref != order_ref and old.method not in PERSON_METHODS:
            why = decision.link.evidence if decision.link else f"its own order ref {order_ref}"
            revoke_link(uow, old, actor=RESOLVE_ACTOR, reason=f"superseded: {why}", now=now)
    written = None
    if decision.link is not None:
        link = decision.link
        written = add_link(
            uow,
            record_type=record_type,
            record_ref=ref,
            order_ref=order_ref,
            method=link.method,
            key_kind=link.key_kind,
            key=link.key,
            evidence=link.evidence,
            actor=RESOLVE_ACTOR,
            now=now,
            inbox_id=inbox_id,
        )
    supersede(uow, record_type=record_type, record_ref=ref, order_ref=order_ref, now=now)
    return written


def _refused(uow: UnitOfWork, record: Record) -> frozenset[str]:
    """Orders a person took this record away from: resolve never links it back there by
    the same keys (the person saw the key and judged it wrong); only a person can."""
    history = record_links(uow, *record)
    return frozenset(
        link.order_ref
        for link in history
        if link.revoked_at is not None and link.revoked_by not in (None, RESOLVE_ACTOR)
    )


def _by_person(links: Sequence[RecordLink]) -> RecordLink | None:
    return next((link for link in reversed(links) if link.method in PERSON_METHODS), None)


def _to(event: CanonicalEvent, record: Record, decision: Decision) -> Resolution:
    """The event with the order ref the decision found written into it."""
    if decision.order_ref is not None:
        payload = event.payload.model_copy(update={"order_ref": decision.order_ref})
        event = event.model_copy(update={"payload": payload})
    return Resolution(event, record, decision)


def _keys(*pairs: tuple[str, str]) -> tuple[str, ...]:
    return tuple(alias for kind, value in pairs if (alias := key_of(kind, value)) is not None)
