"""Finding a substitute for a line that cannot ship: same category, close attributes, a
price in band, and stock at the location that will ship it. The finder explains itself.

The catalogue is what the desk already knows (SKUs, titles and prices from order lines;
stock from inventory positions) plus, optionally, a tenant's catalogue file with
categories and attributes (``load_catalogue``: CSV with columns ``sku, title, category,
price_minor`` and any ``attr_<name>`` columns, or JSON: a list of objects with the same
keys and an ``attributes`` mapping). Without a file, a SKU's category is its prefix
before the first dash (``APP-101`` -> ``APP``), the convention of most shops' SKUs.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from orderops.domain.errors import InvalidEvent


class InvalidCatalogue(InvalidEvent):
    """A tenant's catalogue file cannot be read; the message lists each problem."""

    code = "invalid-catalogue"

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


@dataclass(frozen=True, kw_only=True)
class CatalogueItem:
    sku: str
    title: str | None
    category: str
    price_minor: int
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, kw_only=True)
class Substitute:
    from_sku: str
    to_sku: str
    quantity: int
    location: str
    unit_difference_minor: int
    """Per unit: positive when the substitute is dearer (the retailer absorbs it). An
    action's ``price_difference_minor`` is for the whole line: ``line_difference_minor``."""
    available: int
    score: float
    explanation: str

    @property
    def dearer(self) -> bool:
        return self.unit_difference_minor > 0

    def line_difference_minor(self, quantity: int | None = None) -> int:
        """The difference for ``quantity`` units (default: the line's), what a substitute
        action's ``price_difference_minor`` carries and its refund or absorption moves."""
        return self.unit_difference_minor * (self.quantity if quantity is None else quantity)


def category_of(sku: str) -> str:
    return sku.split("-", 1)[0].upper() if "-" in sku else sku.upper()


def load_catalogue(text: str, *, media_type: str) -> list[CatalogueItem]:
    """Parse a tenant's catalogue file (``text/csv`` or ``application/json``)."""
    rows: list[dict[str, Any]]
    if media_type == "application/json":
        document = json.loads(text)
        if not isinstance(document, list):
            raise InvalidCatalogue(["(root): must be a list of items"])
        rows = [dict(item) for item in document]
    elif media_type == "text/csv":
        reader = csv.DictReader(io.StringIO(text))
        rows = []
        for row in reader:
            attributes = {k[5:]: v for k, v in row.items() if k.startswith("attr_") and v}
            rows.append(
                {
                    **{k: v for k, v in row.items() if not k.startswith("attr_")},
                    "attributes": attributes,
                }
            )
    else:
        raise InvalidCatalogue([f"(root): unsupported media type {media_type}"])
    items: list[CatalogueItem] = []
    problems: list[str] = []
    for index, row in enumerate(rows):
        try:
            items.append(
                CatalogueItem(
                    sku=str(row["sku"]),
                    title=row.get("title") or None,
                    category=str(row.get("category") or category_of(str(row["sku"]))),
                    price_minor=int(row["price_minor"]),
                    attributes={
                        str(k): str(v) for k, v in dict(row.get("attributes") or {}).items()
                    },
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(f"{index}: {exc.__class__.__name__}: {exc}")
    if problems:
        raise InvalidCatalogue(problems)
    return items


def derive_catalogue(
    known: Iterable[tuple[str, str | None, int]], extra: Iterable[CatalogueItem] = ()
) -> dict[str, CatalogueItem]:
    """(sku, title, unit price) seen on orders, overlaid by a tenant's catalogue items."""
    catalogue: dict[str, CatalogueItem] = {}
    for sku, title, price in known:
        catalogue.setdefault(
            sku, CatalogueItem(sku=sku, title=title, category=category_of(sku), price_minor=price)
        )
    for item in extra:
        catalogue[item.sku] = item
    return catalogue


def _attribute_overlap(a: Mapping[str, str], b: Mapping[str, str]) -> float:
    keys = set(a) | set(b)
    if not keys:
        return 0.0
    return sum(1 for k in keys if a.get(k) == b.get(k)) / len(keys)


def find_substitute(
    *,
    sku: str,
    quantity: int,
    location: str,
    catalogue: Mapping[str, CatalogueItem],
    stock: Mapping[tuple[str, str], int],
    max_price_increase_pct: Decimal = Decimal("10"),
    allowed_categories: Iterable[str] | None = None,
) -> Substitute | None:
    """The best in-stock substitute at ``location``, or None; the reason is in the result.

    Order of preference: more shared attributes, then the closest price (a cheaper item
    is as close as a dearer one, but a dearer one beyond the band is never offered).
    """
    original = catalogue.get(sku)
    if original is None:
        return None
    allowed = {c.upper() for c in allowed_categories} if allowed_categories else None
    if allowed is not None and original.category.upper() not in allowed:
        return None
    ceiling = original.price_minor * (1 + max_price_increase_pct / 100)
    best: tuple[float, CatalogueItem, int] | None = None
    considered = 0
    for item in catalogue.values():
        if item.sku == sku or item.category != original.category:
            continue
        considered += 1
        available = stock.get((item.sku, location), 0)
        if available < quantity or item.price_minor > ceiling:
            continue
        overlap = _attribute_overlap(original.attributes, item.attributes)
        distance = abs(item.price_minor - original.price_minor) / max(original.price_minor, 1)
        score = overlap - 0.5 * distance
        if best is None or (score, -item.price_minor) > (best[0], -best[1].price_minor):
            best = (score, item, available)
    if best is None:
        return None
    score, item, available = best
    difference = item.price_minor - original.price_minor
    direction = "dearer" if difference > 0 else "cheaper" if difference < 0 else "the same price"
    shared = [k for k in original.attributes if item.attributes.get(k) == original.attributes[k]]
    explanation = (
        f"{item.sku} ({item.title or 'untitled'}) is in category {item.category} like {sku}, "
        f"{available} in stock at {location} for {quantity} needed, "
        f"{abs(difference)} minor units {direction} per unit"
        + (f", shares {', '.join(shared)}" if shared else "")
        + f"; best of {considered} candidate(s) in the category"
    )
    return Substitute(
        from_sku=sku,
        to_sku=item.sku,
        quantity=quantity,
        location=location,
        unit_difference_minor=difference,
        available=available,
        score=round(score, 4),
        explanation=explanation,
    )
