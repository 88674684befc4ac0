"""The alias store: every name a provider gives an entity, and the entity it names.

An entity registers its names when it is projected (an order its ref, number, checkout
token; a payment its PaymentIntent and charges; a shipment its tracking code), so a
record that arrives later naming it any of those ways finds it. Keys are stored
normalised (``domain.aliases.normalise``): "#1001" and "1001", "1Z 999" and "1z999" meet.

Registering is idempotent (the database's unique key decides) and answers with the keys
that are new, because a new key is what a waiting record may be waiting for.

While a chunk is processed, what a key names is read once and kept with the chunk's rows
(``KNOWN``): every alias of the tenant is written here, so the kept answer is kept up to
date, and a name registered again is not written again.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from orderops.domain.aliases import Entity, UnknownKeyKind, alias_key, kind_of, normalise
from orderops.domain.errors import InvalidEvent
from orderops.domain.events import ExternalKey
from orderops.storage.repositories.alias_rows import add_aliases
from orderops.storage.repositories.loaded import LoadedRows
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import Customer, Payment, Shipment, SupportTicket

KEY_MAX = 200
"""The longest key the alias table holds (``entity_aliases.key``)."""

Target = tuple[str, str]
"""(entity_type, entity_ref): what an alias names."""

KNOWN = "aliases"
"""The chunk's memo: (kind, normalised key) -> the entities it names, sorted."""
ENTITY_KEYS = "entity_keys"
"""The chunk's memo: entity -> every alias key naming it (``keys_of``)."""
INSERTED = "inserted_aliases"
"""The chunk's memo: entity -> the alias keys this chunk stored for it."""

ROW_OF: dict[str, type[Any]] = {
    Entity.PAYMENT: Payment,
    Entity.SHIPMENT: Shipment,
    Entity.TICKET: SupportTicket,
    Entity.CUSTOMER: Customer,
}
"""Entities named by their row's id: one this chunk inserted has no alias from before it."""

RENAMEABLE = frozenset({Entity.SKU})
"""Entities whose provider ids may move to another entity of the kind: a variant or an
inventory item whose SKU was edited now names the new SKU, not both."""


def known_kind(kind: str) -> Entity:
    """The entity a key kind names; an unknown kind is the sender's mistake, said plainly."""
    try:
        return kind_of(kind).entity
    except UnknownKeyKind as exc:
        raise InvalidEvent(f"{exc} (resolve knows the kinds in domain.aliases.KEY_KINDS)") from None


def key_of(kind: str, value: str) -> str | None:
    """``kind:normalised``, or None for a value with nothing left to compare (or one too
    long for any key column)."""
    known_kind(kind)
    normal = normalise(kind, value)
    return alias_key(kind, value) if normal is not None and len(normal) <= KEY_MAX else None


class AliasStore:
    """Register and look up aliases in the caller's transaction."""

    def __init__(self, repo: ResolveRepository, loaded: LoadedRows | None = None) -> None:
        self._repo = repo
        self._loaded = loaded if loaded is not None and loaded.tenant_id == repo.tenant_id else None

    def _memo(self, name: str) -> dict[Any, Any] | None:
        """The chunk's memo ``name`` (forgotten with the chunk's answers on a rollback)."""
        if self._loaded is None:
            return None
        memo: dict[Any, Any] = self._loaded.values().setdefault(name, {})
        return memo

    def _known(self) -> dict[tuple[str, str], list[Target]] | None:
        return self._memo(KNOWN)

    def learn(
        self,
        named: dict[tuple[str, str], list[Target]],
        keys: dict[Target, set[str]] | None = None,
    ) -> None:
        """What these (kind, normalised key) name, and every key of these entities, read
        in full (a chunk's prefetch)."""
        if (known := self._known()) is not None:
            known.update(named)
        if keys and (entity_keys := self._memo(ENTITY_KEYS)) is not None:
            entity_keys.update(keys)

    def _stored(self, target: Target, keys: Iterable[tuple[str, str]]) -> None:
        """Keep the entity's memo of its keys whole after its names were stored."""
        entity_keys, inserted = self._memo(ENTITY_KEYS), self._memo(INSERTED)
        if entity_keys is None or inserted is None:
            return
        added = {f"{kind}:{key}" for kind, key in keys}
        inserted.setdefault(target, set()).update(added)
        if target in entity_keys:
            entity_keys[target] |= added

    def _dropped(self, kind: str, key: str, keep: Target) -> None:
        for name in (ENTITY_KEYS, INSERTED):
            for target, keys in (self._memo(name) or {}).items():
                if target != keep:
                    keys.discard(f"{kind}:{key}")

    def register(
        self,
        kind: str,
        value: str,
        entity_type: str,
        entity_ref: str,
        source: str,
        inbox_id: str | None,
        now: datetime,
    ) -> list[str]:
        """Record that ``kind`` ``value`` names the entity; the alias keys newly registered.

        The alias names the entity it is registered on, even when its kind usually names
        another type (a Shopify order lists its transactions among its names): a record
        quoting that key is followed to this entity, and from it to its order.
        """
        return self.register_all(
            [(kind, value)],
            entity_type=entity_type,
            entity_ref=entity_ref,
            source=source,
            inbox_id=inbox_id,
            now=now,
        )

    def register_all(
        self,
        names: Iterable[tuple[str, str]],
        *,
        entity_type: str,
        entity_ref: str,
        source: str,
        inbox_id: str | None,
        now: datetime,
    ) -> list[str]:
        """Register each (kind, value) (see ``register``), in one statement; the new alias
        keys, in the order given."""
        target = (entity_type, entity_ref)
        known = self._known()
        wanted: dict[tuple[str, str], list[Target] | None] = {}
        for kind, value in names:
            entity = known_kind(kind)
            key = normalise(kind, value)
            if key is None or len(key) > KEY_MAX:
                continue  # nothing to compare, or longer than any real key (a 320-char email)
            named = known.get((kind, key)) if known is not None else None
            if entity in RENAMEABLE and (named is None or any(t != target for t in named)):
                self._repo.drop_aliases(kind, key, keep=target)
                self._dropped(kind, key, target)
                if named is not None:
                    named[:] = [t for t in named if t == target]
            if named is not None and target in named:
                continue  # already registered: the insert would find it there
            wanted.setdefault((kind, key), named)
        new = self._insert(list(wanted), target, source=source, inbox_id=inbox_id, now=now)
        for named in wanted.values():
            if named is not None and target not in named:
                named.append(target)
                named.sort()
        self._stored(target, new)
        return [f"{kind}:{key}" for kind, key in wanted if (kind, key) in new]

    def _insert(
        self,
        keys: list[tuple[str, str]],
        target: Target,
        *,
        source: str,
        inbox_id: str | None,
        now: datetime,
    ) -> set[tuple[str, str]]:
        """Store the names (the database decides which are new); the new ones. A chunk
        stores an entity's names in one statement."""
        entity_type, entity_ref = target
        if self._loaded is not None:
            return add_aliases(
                self._loaded.session,
                self._repo.tenant_id,
                keys,
                entity_type=entity_type,
                entity_ref=entity_ref,
                source=source,
                inbox_id=inbox_id,
                now=now,
            )
        return {
            (kind, key)
            for kind, key in keys
            if self._repo.add_alias(
                kind=kind,
                key=key,
                entity_type=entity_type,
                entity_ref=entity_ref,
                source=source,
                inbox_id=inbox_id,
                now=now,
            )
        }

    def lookup(self, kind: str, value: str) -> list[Target]:
        """The entities ``kind`` ``value`` names: none yet, one, or (a non-exclusive kind
        such as an order number) several."""
        known_kind(kind)
        key = normalise(kind, value)
        if key is None or len(key) > KEY_MAX:
            return []
        known = self._known()
        if known is not None and (named := known.get((kind, key))) is not None:
            return list(named)
        targets = [(row.entity_type, row.entity_ref) for row in self._repo.aliases(kind, key)]
        if known is not None:
            known[(kind, key)] = list(targets)
        return targets

    def keys_of(self, entity_type: str, entity_ref: str) -> list[str]:
        """Every alias key naming the entity (records waiting on any of them may now go)."""
        target = (entity_type, entity_ref)
        entity_keys = self._memo(ENTITY_KEYS)
        if entity_keys is not None and target in entity_keys:
            return sorted(entity_keys[target], key=_kind_and_key)
        model = ROW_OF.get(entity_type)
        if (
            self._loaded is not None
            and model is not None
            and self._loaded.created(model, entity_ref)
        ):
            found = sorted((self._memo(INSERTED) or {}).get(target, set()), key=_kind_and_key)
        else:
            rows = self._repo.aliases_of(entity_type, entity_ref)
            found = [f"{row.kind}:{row.key}" for row in rows]
        if entity_keys is not None:
            entity_keys[target] = set(found)
        return found


def _kind_and_key(alias: str) -> tuple[str, str]:
    """``kind:key`` as the (kind, key) it is ordered by (kinds hold no colon)."""
    kind, _, key = alias.partition(":")
    return kind, key


Names = list[tuple[str, str]]
"""(kind, value as sent) pairs: the names an entity registers."""

SOURCE_ID_KINDS = {"shopify": "shopify.customer", "stripe": "stripe.customer"}
"""The key kind of a customer's id in the system that sent it."""


def pairs(keys: Iterable[ExternalKey]) -> Names:
    return [(key.kind, key.value) for key in keys]


# The names each entity registers besides the aliases its event lists. Entity refs: an
# order's canonical ref, a SKU itself, else the row id (payments, shipments, tickets,
# customers), which is bounded where "provider:ref" would not fit the column.


def order_names(order_ref: str, number: str | None, source: str) -> Names:
    names = [("order.ref", order_ref)]
    if is_shopify(source):
        names.append(("shopify.order", order_ref))
    if number:
        names += [("order.number", number), ("order.name", number)]
    return names


def payment_names(provider: str, payment_ref: str) -> Names:
    names = [("payment.ref", payment_ref)]
    if provider_of(provider) == "stripe":
        names.append(("stripe.payment_intent", payment_ref))
    return names


def shipment_names(tracking_number: str, shipment_ref: str | None, source: str) -> Names:
    names = [("tracking", tracking_number)]
    if shipment_ref:
        own = "shopify.fulfillment" if is_shopify(source) else "carrier.shipment"
        names.append((own, shipment_ref))
    return names


def customer_names(customer_ref: str, source: str, email: str | None) -> Names:
    names = [("customer.ref", customer_ref)]
    if (own := SOURCE_ID_KINDS.get(provider_of(source))) is not None:
        names.append((own, customer_ref))
    if email:
        names.append(("email", email))
    return names


def ticket_names(source: str, ticket_ref: str) -> Names:
    return [("zendesk.ticket", ticket_ref)] if provider_of(source) == "zendesk" else []


def provider_of(source: str) -> str:
    """The system an envelope source names: "shopify" for "shopify", "sim://shopify"."""
    return source.split("://", 1)[-1].split("/", 1)[0].lower()


SYSTEM_MAX = 40


def system_of(source: str) -> str:
    """How a record names the system it came from in ``source:ref`` (at most 40
    characters, so ``system:ref`` fits the link and suggestion columns)."""
    return provider_of(source)[:SYSTEM_MAX] or source[:SYSTEM_MAX]


def is_shopify(source: str) -> bool:
    name = provider_of(source)
    return name == "shopify" or name.endswith(".myshopify.com")
