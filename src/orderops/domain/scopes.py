"""Scopes below the tenant: which brands, stores, sales channels and regions a person sees.

A retailer with several brands or regions limits a reviewer to theirs. Every order sits
at one point of four dimensions (``ScopeValues``: brand, store, channel, region) and its
cases sit where it does. A principal holds an ``AccessScope``: per dimension, the values
it may see; a dimension it does not name is unrestricted. An object is in scope when,
for every restricted dimension, its value is one of the allowed ones, so an object that
has no value on a restricted dimension (an order without a shipping country, for a
person limited to region DE) is out of scope: it is tenant-wide work, for the unscoped.

Scopes narrow and never widen: a key acting as a user sees the intersection of both,
and two restrictions of one dimension that share no value leave nothing to see (an
empty allowed set denies everything, which is why a *stored* empty list is not kept:
stored scopes only ever name non-empty sets).

Brands are not sent by stores; ``BrandRules`` derives them from the store an order came
from or from its tags, per tenant.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from orderops.domain.errors import InvalidEvent


class Dimension(StrEnum):
    BRAND = "brand"
    STORE = "store"
    CHANNEL = "channel"
    REGION = "region"


VALUE_MAX = 64
"""Longest value of any dimension (a shop domain fits; the columns are this wide)."""
_VALUE = re.compile(r"^[^\s,=][^,=]*$")


class InvalidScope(InvalidEvent):
    """A scope given by a person (``region=DE,AT``) that cannot be read; says why."""

    code = "invalid-scope"


def normalise(dimension: Dimension, value: str) -> str:
    """One spelling per value: regions are ISO codes in upper case, the rest lower case
    (shop domains and channel names are case-insensitive where they come from)."""
    text = value.strip()
    return text.upper() if dimension is Dimension.REGION else text.lower()


@dataclass(frozen=True)
class ScopeValues:
    """Where one order, and so each of its cases, sits; None: the order does not say."""

    brand: str | None = None
    store: str | None = None
    channel: str | None = None
    region: str | None = None

    def of(self, dimension: Dimension) -> str | None:
        value: str | None = getattr(self, dimension.value)
        return value

    def as_dict(self) -> dict[str, str | None]:
        return {d.value: self.of(d) for d in Dimension}

    @classmethod
    def of_row(cls, row: Any) -> ScopeValues:
        """Read from anything with the four attributes (an order or a case row)."""
        return cls(**{d.value: getattr(row, d.value) for d in Dimension})

    def place(self, row: Any) -> None:
        """Write onto anything with the four attributes (a new case takes its order's)."""
        for dimension in Dimension:
            setattr(row, dimension.value, self.of(dimension))


@dataclass(frozen=True)
class AccessScope:
    """Per restricted dimension, the values that may be seen (absent: unrestricted)."""

    limits: tuple[tuple[Dimension, frozenset[str]], ...] = ()
    """Sorted by dimension, so equal scopes are equal values (and hash alike)."""

    @classmethod
    def of(cls, limits: Mapping[Dimension, Iterable[str]]) -> AccessScope:
        return cls(
            tuple(
                sorted(
                    (
                        (d, frozenset(normalise(d, v) for v in values))
                        for d, values in limits.items()
                    ),
                    key=lambda item: item[0].value,
                )
            )
        )

    @property
    def unrestricted(self) -> bool:
        return not self.limits

    def allowed(self, dimension: Dimension) -> frozenset[str] | None:
        """The values of ``dimension`` in scope; None when it is not restricted."""
        return dict(self.limits).get(dimension)

    def intersect(self, other: AccessScope) -> AccessScope:
        """What both allow: a key acting as a user sees no more than either."""
        merged = dict(self.limits)
        for dimension, values in other.limits:
            mine = merged.get(dimension)
            merged[dimension] = values if mine is None else mine & values
        return AccessScope.of(merged)

    def admits(self, values: ScopeValues) -> bool:
        """Is an object sitting at ``values`` in scope?"""
        for dimension, allowed in self.limits:
            value = values.of(dimension)
            if value is None or value not in allowed:
                return False
        return True

    def within(self, outer: AccessScope) -> bool:
        """Does this scope see nothing ``outer`` does not? (A scoped administrator may
        hand out only scopes within their own.)"""
        for dimension, allowed in outer.limits:
            mine = self.allowed(dimension)
            if mine is None or not mine <= allowed:
                return False
        return True

    def to_json(self) -> dict[str, list[str]]:
        """As stored (and shown by the API): ``{"region": ["AT", "DE"]}``."""
        return {d.value: sorted(values) for d, values in self.limits}

    @classmethod
    def from_json(cls, raw: Mapping[str, Any] | None) -> AccessScope:
        """A stored scope. Unknown dimensions and empty lists are refused on the way in
        (``parse``, ``from_request``), so here they can only be damage: refused loudly
        rather than read as "unrestricted"."""
        if not raw:
            return UNRESTRICTED
        return from_request(raw)

    def describe(self) -> str:
        """``brand=acme; region=AT,DE``, or ``unrestricted``."""
        if self.unrestricted:
            return "unrestricted"
        return "; ".join(f"{d.value}={','.join(sorted(v))}" for d, v in self.limits)


UNRESTRICTED = AccessScope()


def parse(items: Sequence[str]) -> AccessScope:
    """``["region=DE,AT", "brand=acme"]`` as given on the command line; a dimension named
    twice allows the values of both."""
    limits: dict[Dimension, set[str]] = {}
    for item in items:
        name, sep, values = item.partition("=")
        if not sep:
            raise InvalidScope(f"{item!r}: give a scope as dimension=value[,value...]")
        dimension = _dimension(name)
        limits.setdefault(dimension, set()).update(_values(dimension, values.split(",")))
    return AccessScope.of(limits)


def from_request(raw: Mapping[str, Any]) -> AccessScope:
    """``{"region": ["DE", "AT"], "brand": ["acme"]}`` from an API body or a stored row."""
    limits: dict[Dimension, set[str]] = {}
    for name, values in raw.items():
        dimension = _dimension(name)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise InvalidScope(f"{name}: must be a list of values")
        limits[dimension] = _values(dimension, values)
    return AccessScope.of(limits)


def _dimension(name: str) -> Dimension:
    try:
        return Dimension(name.strip().lower())
    except ValueError:
        known = ", ".join(d.value for d in Dimension)
        raise InvalidScope(f"{name!r} is not a scope dimension (known: {known})") from None


def _values(dimension: Dimension, raw: Iterable[str]) -> set[str]:
    values = {normalise(dimension, v) for v in raw if v.strip()}
    if not values:
        raise InvalidScope(
            f"{dimension.value}: name at least one value (leave the dimension out for all)"
        )
    for value in values:
        if len(value) > VALUE_MAX or not _VALUE.match(value):
            raise InvalidScope(f"{dimension.value}: {value!r} is not a value")
    return values


@dataclass(frozen=True)
class BrandRules:
    """A tenant's brands: by the store an order came from, or by one of its tags.

    A tag names a brand more precisely than a store that sells several, so the first of
    the order's tags with a rule wins, then the store's rule."""

    by_store: Mapping[str, str] = field(default_factory=dict)
    by_tag: Mapping[str, str] = field(default_factory=dict)

    def brand_of(self, *, store: str | None, tags: Sequence[str]) -> str | None:
        for tag in tags:
            brand = self.by_tag.get(tag.strip().lower())
            if brand is not None:
                return brand
        return self.by_store.get(store) if store is not None else None


NO_BRANDS = BrandRules()


def order_scope(
    *,
    store: str | None,
    channel: str | None,
    country: str | None,
    tags: Sequence[str],
    brands: BrandRules,
) -> ScopeValues:
    """Where an order sits, from what its store sent: the shop it came from, its sales
    channel, its shipping country (an ISO code; anything else is no region) and the
    brand the tenant's rules give it."""
    store = _clean(Dimension.STORE, store)
    region = _clean(Dimension.REGION, country)
    return ScopeValues(
        brand=brands.brand_of(store=store, tags=tags),
        store=store,
        channel=_clean(Dimension.CHANNEL, channel),
        region=region if region is not None and re.fullmatch(r"[A-Z]{2}", region) else None,
    )


def _clean(dimension: Dimension, value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    return normalise(dimension, value)[:VALUE_MAX]
