"""Finding a substitute for a line that cannot ship: same category, the same size, the
closest colour and price (within the policy's band), and stock at the location that will
ship it. The finder explains itself.

The catalogue is what the desk already knows (SKUs, titles and prices from order lines;
stock from inventory positions) overlaid by the store's own product feed, read by
``load_catalogue`` in any of these shapes:

- a Shopify products payload (``GET /admin/api/<version>/products.json``: ``{"products":
  [...]}``, a list of products, or one product as the ``products/create|update`` webhook
  sends it): one item per variant, category from ``product_type`` (else the product's
  ``category`` name, else its first tag), size and colour from the variant's options
  named by ``options`` (``Size``, ``Color``/``Colour``; unnamed options are recognised by
  their values: ``S``, ``XL``, ``42`` are sizes, ``Navy`` a colour), price from the
  variant, and the product's id so that another variant of the same product is
  preferred;
- a Shopify product CSV export (``Handle``, ``Title``, ``Type``, ``Option1 Name``,
  ``Option1 Value``, ..., ``Variant SKU``, ``Variant Price``; a product's later rows
  carry only the variant columns);
- our own CSV (``sku, title, category, price_minor`` and ``attr_<name>`` columns) or JSON
  (a list of objects with those keys and an ``attributes`` mapping).

Without a feed, a SKU's category is its prefix before the first dash (``APP-101`` ->
``APP``): a guess the explanation says it made.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from orderops.domain.errors import InvalidEvent
from orderops.ingest.adapters.shopify_fields import variant_sku
from orderops.recommend.facts import CaseFacts


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
    """Lower-case names; ``size`` and ``colour`` are the ones the finder weighs most."""
    product: str | None = None
    """The product this item is a variant of (another variant of it is preferred)."""
    category_guessed: bool = False
    """True when no feed named the category (``category_of``: the SKU's prefix)."""


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


# --- reading a feed ---------------------------------------------------------------------

ATTRIBUTE_NAMES = {"color": "colour", "colour": "colour", "farbe": "colour", "cor": "colour"}
ATTRIBUTE_NAMES |= {"size": "size", "talla": "size", "tamanho": "size", "größe": "size"}
SIZE = re.compile(
    r"^(?:x{0,3}s|m|x{0,4}l|\d?xl|xxs|small|medium|large|extra[ -]large|one[ -]size|os"
    r"|\d{1,3}(?:[.,]5)?|\d{1,2}/\d{1,2}|eu ?\d{2}|us ?\d{1,2}(?:\.5)?|uk ?\d{1,2}(?:\.5)?)$",
    re.IGNORECASE,
)
"""Values of an unnamed option that are sizes (letter sizes, numbers, EU/US/UK shoe sizes)."""
COLOURS = frozenset(
    [
        "black",
        "white",
        "grey",
        "gray",
        "silver",
        "red",
        "maroon",
        "burgundy",
        "pink",
        "rose",
        "orange",
        "coral",
        "yellow",
        "gold",
        "mustard",
        "green",
        "olive",
        "khaki",
        "mint",
        "teal",
        "turquoise",
        "blue",
        "navy",
        "sky",
        "indigo",
        "purple",
        "violet",
        "lilac",
        "brown",
        "tan",
        "camel",
        "beige",
        "cream",
        "ivory",
        "charcoal",
        "natural",
        "multi",
    ]
)
"""Words of an unnamed option's value that make it a colour (``Navy Blue``, ``Heather Grey``)."""
DEFAULT_VARIANT_TITLE = "Default Title"
SHOPIFY_CSV = {"handle", "variant sku", "variant price"}


def _attribute_name(name: str | None, value: str) -> str | None:
    """``size``/``colour`` for those options (by name, else by value), else the name."""
    if name:
        key = name.strip().lower()
        return ATTRIBUTE_NAMES.get(key, key)
    if SIZE.match(value.strip()):
        return "size"
    if any(word in COLOURS for word in re.split(r"[\s/-]+", value.strip().lower())):
        return "colour"
    return None


def _minor(price: Any, where: str) -> int:
    """A feed's price (``"19.99"``, major units) in minor units (two decimals)."""
    try:
        return int((Decimal(str(price)) * 100).to_integral_value())
    except (InvalidOperation, ValueError) as exc:
        raise ValueError(f"{where}: price {price!r} is not a number") from exc


def _shopify_category(product: Mapping[str, Any]) -> str | None:
    kind = str(product.get("product_type") or "").strip()
    if kind:
        return kind
    category = product.get("category")
    if isinstance(category, Mapping) and category.get("name"):
        return str(category["name"])
    tags = [t.strip() for t in str(product.get("tags") or "").split(",") if t.strip()]
    return tags[0] if tags else None


def _variant_title(product: str | None, variant: str | None) -> str | None:
    if not variant or variant == DEFAULT_VARIANT_TITLE:
        return product
    return f"{product} - {variant}" if product else variant


def _item(
    *,
    sku: str,
    title: str | None,
    category: str | None,
    price_minor: int,
    options: Iterable[tuple[str | None, str | None]],
    product: str | None,
    vendor: str | None = None,
) -> CatalogueItem:
    attributes: dict[str, str] = {}
    for name, value in options:
        if value and value != DEFAULT_VARIANT_TITLE:
            key = _attribute_name(name, value)
            if key:
                attributes.setdefault(key, value.strip())
    if vendor:
        attributes.setdefault("vendor", vendor)
    return CatalogueItem(
        sku=sku,
        title=title,
        category=category or category_of(sku),
        price_minor=price_minor,
        attributes=attributes,
        product=product,
        category_guessed=not category,
    )


def shopify_products(products: Iterable[Any]) -> tuple[list[CatalogueItem], list[str]]:
    """Items from Shopify product objects (one per variant) and the problems found."""
    items: list[CatalogueItem] = []
    problems: list[str] = []
    for index, product in enumerate(products):
        if not isinstance(product, Mapping) or not isinstance(product.get("variants"), list):
            problems.append(f"products[{index}]: not a product with a variants list")
            continue
        names = {
            int(o.get("position") or n + 1): o.get("name")
            for n, o in enumerate(product.get("options") or [])
            if isinstance(o, Mapping)
        }
        for v, variant in enumerate(product["variants"]):
            where = f"products[{index}].variants[{v}]"
            try:
                sku = variant_sku(variant.get("sku"), str(variant["id"]))
                assert sku is not None
                items.append(
                    _item(
                        sku=sku,
                        title=_variant_title(product.get("title"), variant.get("title")),
                        category=_shopify_category(product),
                        price_minor=_minor(variant.get("price"), where),
                        options=[(names.get(n), variant.get(f"option{n}")) for n in (1, 2, 3)],
                        product=str(product.get("id") or product.get("handle") or index),
                        vendor=product.get("vendor") or None,
                    )
                )
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                problems.append(f"{where}: {exc.__class__.__name__}: {exc}")
    return items, problems


def shopify_csv(rows: Iterable[Mapping[str, str]]) -> tuple[list[CatalogueItem], list[str]]:
    """Items from a Shopify product CSV export: a product's first row names it, the rows
    after it (same ``Handle``) carry only their variant's columns."""
    items: list[CatalogueItem] = []
    problems: list[str] = []
    products: dict[str, dict[str, str]] = {}
    for index, raw in enumerate(rows):
        row = {str(k).strip().lower(): (v or "").strip() for k, v in raw.items() if k}
        handle = row.get("handle", "")
        first = products.setdefault(handle, row)
        if not row.get("variant price") and not row.get("variant sku"):
            continue  # an image row
        where = f"row {index + 2}"
        try:
            sku = row.get("variant sku") or f"{handle}-{index}"
            options = [
                (first.get(f"option{n} name"), row.get(f"option{n} value")) for n in (1, 2, 3)
            ]
            values = [v for _, v in options if v]
            category = first.get("type") or first.get("product category") or None
            items.append(
                _item(
                    sku=sku,
                    title=_variant_title(first.get("title") or None, " / ".join(values) or None),
                    category=category.split(">")[-1].strip() if category else None,
                    price_minor=_minor(row["variant price"], where),
                    options=options,
                    product=handle or None,
                    vendor=first.get("vendor") or None,
                )
            )
        except (KeyError, ValueError) as exc:
            problems.append(f"{where}: {exc.__class__.__name__}: {exc}")
    return items, problems


def load_catalogue(text: str, *, media_type: str) -> list[CatalogueItem]:
    """Parse a tenant's product feed (``text/csv`` or ``application/json``; the shapes are
    in this module's docstring)."""
    rows: list[dict[str, Any]]
    if media_type == "application/json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InvalidCatalogue([f"(root): not JSON: {exc}"]) from exc
        if isinstance(document, Mapping) and isinstance(document.get("products"), list):
            return _checked(*shopify_products(document["products"]))
        if isinstance(document, Mapping) and "variants" in document:
            return _checked(*shopify_products([document]))
        if not isinstance(document, list):
            raise InvalidCatalogue(["(root): must be a list of items or Shopify products"])
        if document and all(isinstance(d, Mapping) and "variants" in d for d in document):
            return _checked(*shopify_products(document))
        rows = [dict(item) for item in document]
    elif media_type == "text/csv":
        reader = csv.DictReader(io.StringIO(text))
        header = {str(h).strip().lower() for h in reader.fieldnames or []}
        if header >= SHOPIFY_CSV:
            return _checked(*shopify_csv(reader))
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
            named = row.get("category")
            items.append(
                CatalogueItem(
                    sku=str(row["sku"]),
                    title=row.get("title") or None,
                    category=str(named or category_of(str(row["sku"]))),
                    price_minor=int(row["price_minor"]),
                    attributes={
                        ATTRIBUTE_NAMES.get(str(k).lower(), str(k).lower()): str(v)
                        for k, v in dict(row.get("attributes") or {}).items()
                    },
                    product=row.get("product") or None,
                    category_guessed=not named,
                )
            )
        except (KeyError, ValueError, TypeError) as exc:
            problems.append(f"{index}: {exc.__class__.__name__}: {exc}")
    return _checked(items, problems)


def _checked(items: list[CatalogueItem], problems: list[str]) -> list[CatalogueItem]:
    if problems:
        raise InvalidCatalogue(problems)
    return items


def derive_catalogue(
    known: Iterable[tuple[str, str | None, int]], extra: Iterable[CatalogueItem] = ()
) -> dict[str, CatalogueItem]:
    """(sku, title, unit price) seen on orders, overlaid by the store's feed items."""
    catalogue: dict[str, CatalogueItem] = {}
    for sku, title, price in known:
        catalogue.setdefault(
            sku,
            CatalogueItem(
                sku=sku,
                title=title,
                category=category_of(sku),
                price_minor=price,
                category_guessed=True,
            ),
        )
    for item in extra:
        catalogue[item.sku] = item
    return catalogue


# --- choosing ---------------------------------------------------------------------------

WEIGHTS = {"size": 0.4, "colour": 0.25, "product": 0.15, "other": 0.2}
"""What a candidate's score is made of, before the price distance is taken off: the same
size matters most (a different size is no substitute at all), then colour, then being
another variant of the same product, then the other attributes shared."""
PRICE_WEIGHT = 0.5


def _same(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.strip().lower() == b.strip().lower()


def _others_shared(a: Mapping[str, str], b: Mapping[str, str]) -> tuple[float, list[str]]:
    keys = (set(a) | set(b)) - {"size", "colour"}
    shared = sorted(k for k in keys if _same(a.get(k), b.get(k)))
    return (len(shared) / len(keys) if keys else 0.0), shared


def _score(original: CatalogueItem, item: CatalogueItem) -> tuple[float, list[str]]:
    a, b = original.attributes, item.attributes
    overlap, shared = _others_shared(a, b)
    score = WEIGHTS["other"] * overlap
    named = [key for key in ("size", "colour") if _same(a.get(key), b.get(key))]
    score += sum(WEIGHTS[key] for key in named)
    shared = named + shared
    if original.product and original.product == item.product:
        score += WEIGHTS["product"]
    distance = abs(item.price_minor - original.price_minor) / max(original.price_minor, 1)
    return score - PRICE_WEIGHT * distance, shared


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

    A candidate is in the same category, not of another size (when both name one), in
    stock at ``location`` for the whole quantity, and not dearer than the band allows.
    Among those: the same size, then colour, then another variant of the same product,
    then other shared attributes, less the price distance (a cheaper item is as far as
    a dearer one); ties go to the cheaper item.
    """
    original = catalogue.get(sku)
    if original is None:
        return None
    allowed = {c.upper() for c in allowed_categories} if allowed_categories else None
    if allowed is not None and original.category.upper() not in allowed:
        return None
    ceiling = original.price_minor * (1 + max_price_increase_pct / 100)
    best: tuple[float, CatalogueItem, int, list[str]] | None = None
    considered = 0
    refused = {"another size": 0, "no stock there": 0, "over the price band": 0}
    size = original.attributes.get("size")
    for item in catalogue.values():
        if item.sku == sku or item.category.strip().lower() != original.category.strip().lower():
            continue
        considered += 1
        other_size = item.attributes.get("size")
        if size and other_size and not _same(size, other_size):
            refused["another size"] += 1
            continue
        available = stock.get((item.sku, location), 0)
        if available < quantity:
            refused["no stock there"] += 1
            continue
        if item.price_minor > ceiling:
            refused["over the price band"] += 1
            continue
        score, shared = _score(original, item)
        if best is None or (score, -item.price_minor) > (best[0], -best[1].price_minor):
            best = (score, item, available, shared)
    if best is None:
        return None
    score, item, available, shared = best
    difference = item.price_minor - original.price_minor
    direction = "dearer" if difference > 0 else "cheaper" if difference < 0 else "the same price"
    band = (
        f"within the {max_price_increase_pct}% price band"
        if difference > 0
        else "in the price band"
    )
    others = ", ".join(f"{n} {why}" for why, n in refused.items() if n)
    sibling = item.product is not None and item.product == original.product
    explanation = (
        f"{item.sku} ({item.title or 'untitled'}) is in category {item.category} like {sku}"
        + (" (category guessed from the SKU prefix)" if original.category_guessed else "")
        + f", {available} in stock at {location} for {quantity} needed, "
        f"{abs(difference)} minor units {direction} per unit ({band})"
        + (f", shares {', '.join(shared)}" if shared else "")
        + (", another variant of the same product" if sibling else "")
        + f"; best of {considered} candidate(s) in the category"
        + (f" (left out: {others})" if others else "")
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


def first_substitute(
    facts: CaseFacts,
    catalogue: Mapping[str, CatalogueItem],
    *,
    max_price_increase_pct: Decimal = Decimal("10"),
    allowed_categories: Iterable[str] | None = None,
) -> Substitute | None:
    """The best substitute for the first line its shipping location cannot fill."""
    for line in facts.lines:
        location = line.location or facts.location
        if location is None or facts.stock.get((line.sku, location), 0) >= line.quantity:
            continue
        found = find_substitute(
            sku=line.sku,
            quantity=line.quantity,
            location=location,
            catalogue=catalogue,
            stock=facts.stock,
            max_price_increase_pct=max_price_increase_pct,
            allowed_categories=allowed_categories,
        )
        if found is not None:
            return found
    return None
