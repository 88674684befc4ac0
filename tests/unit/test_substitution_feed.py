"""The substitution finder reads the store's own product feed (a Shopify products payload,
a Shopify product CSV export, or our own CSV/JSON) and chooses on its attributes:
category, size, colour, price band and stock at the order's location."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from orderops.recommend.substitution import (
    CatalogueItem,
    InvalidCatalogue,
    derive_catalogue,
    find_substitute,
    load_catalogue,
)

FIXTURE = Path(__file__).parents[1] / "fixtures/shopify/webhook_examples_gadget"


def _product(product_id: int, title: str, kind: str, variants: list[tuple]) -> dict:  # type: ignore[type-arg]
    """A product as ``GET /admin/api/2024-10/products.json`` lists it."""
    return {
        "id": product_id,
        "title": title,
        "product_type": kind,
        "vendor": "Acme",
        "options": [{"name": "Size", "position": 1}, {"name": "Color", "position": 2}],
        "variants": [
            {
                "id": product_id * 10 + n,
                "sku": sku,
                "title": f"{size} / {colour}",
                "price": price,
                "option1": size,
                "option2": colour,
                "option3": None,
            }
            for n, (sku, size, colour, price) in enumerate(variants)
        ],
    }


FEED = {
    "products": [
        _product(
            1,
            "Classic Tee",
            "T-Shirts",
            [
                ("TEE-M-NAVY", "M", "Navy", "20.00"),
                ("TEE-M-BLACK", "M", "Black", "20.00"),
                ("TEE-L-NAVY", "L", "Navy", "20.00"),
            ],
        ),
        _product(
            2,
            "Organic Tee",
            "T-Shirts",
            [
                ("ORG-M-NAVY", "M", "Navy", "21.50"),
                ("ORG-M-RED", "M", "Red", "19.00"),
            ],
        ),
        _product(3, "Premium Tee", "T-Shirts", [("PRE-M-NAVY", "M", "Navy", "35.00")]),
        _product(4, "Hoodie", "Sweatshirts", [("HOOD-M-NAVY", "M", "Navy", "20.00")]),
    ]
}
STOCK = {
    ("TEE-M-NAVY", "wh-east"): 0,
    ("TEE-M-BLACK", "wh-east"): 3,
    ("TEE-L-NAVY", "wh-east"): 9,
    ("ORG-M-NAVY", "wh-east"): 5,
    ("ORG-M-NAVY", "wh-west"): 0,
    ("ORG-M-RED", "wh-east"): 5,
    ("PRE-M-NAVY", "wh-east"): 5,
    ("HOOD-M-NAVY", "wh-east"): 5,
}


def _catalogue() -> dict[str, CatalogueItem]:
    items = load_catalogue(json.dumps(FEED), media_type="application/json")
    return {item.sku: item for item in items}


def test_a_shopify_products_payload_gives_category_size_colour_price_and_product() -> None:
    tee = _catalogue()["TEE-M-NAVY"]
    assert tee.category == "T-Shirts"
    assert tee.attributes == {"size": "M", "colour": "Navy", "vendor": "Acme"}
    assert tee.price_minor == 2000
    assert tee.product == "1"
    assert tee.title == "Classic Tee - M / Navy"
    assert not tee.category_guessed


def test_shopifys_own_webhook_example_reads_unnamed_options_by_their_values() -> None:
    product = json.loads((FIXTURE / "products__create.2026-04.json").read_text())["response"]
    items = load_catalogue(json.dumps(product), media_type="application/json")
    assert [(i.sku, i.category, i.attributes.get("size"), i.price_minor) for i in items] == [
        ("shopify-variant-642667041472714000", "Shirts", "Small", 1999),
        ("shopify-variant-757650484644203900", "Shirts", "Medium", 1999),
    ]
    assert {i.product for i in items} == {"788032119674292900"}


def test_the_same_size_and_colour_in_stock_here_wins_and_the_finder_says_why() -> None:
    found = find_substitute(
        sku="TEE-M-NAVY", quantity=2, location="wh-east", catalogue=_catalogue(), stock=STOCK
    )
    assert found is not None
    # the other size is refused, the premium tee is over the 10% band, the hoodie is
    # another category; the organic tee is the same size and colour
    assert found.to_sku == "ORG-M-NAVY"
    assert found.unit_difference_minor == 150
    assert "shares size, colour" in found.explanation
    assert "5 in stock at wh-east" in found.explanation
    assert "1 another size" in found.explanation
    assert "1 over the price band" in found.explanation


def test_without_that_stock_at_the_location_a_sibling_of_another_colour_is_next() -> None:
    found = find_substitute(
        sku="TEE-M-NAVY",
        quantity=2,
        location="wh-west",
        catalogue=_catalogue(),
        stock={**STOCK, ("TEE-M-BLACK", "wh-west"): 4, ("ORG-M-RED", "wh-west"): 4},
    )
    assert found is not None
    assert found.to_sku == "TEE-M-BLACK"
    assert "another variant of the same product" in found.explanation


def test_another_size_is_never_a_substitute() -> None:
    only_large = {("TEE-L-NAVY", "wh-east"): 9}
    assert (
        find_substitute(
            sku="TEE-M-NAVY",
            quantity=1,
            location="wh-east",
            catalogue=_catalogue(),
            stock=only_large,
        )
        is None
    )


def test_a_zero_band_allows_only_items_no_dearer() -> None:
    found = find_substitute(
        sku="TEE-M-NAVY",
        quantity=1,
        location="wh-east",
        catalogue=_catalogue(),
        stock=STOCK,
        max_price_increase_pct=Decimal("0"),
    )
    assert found is not None
    assert found.unit_difference_minor <= 0


SHOPIFY_CSV = (
    "Handle,Title,Vendor,Type,Option1 Name,Option1 Value,Option2 Name,Option2 Value,"
    "Variant SKU,Variant Price\n"
    """classic-tee,Classic Tee,Acme,T-Shirts,Size,M,Color,Navy,TEE-M-NAVY,20.00
classic-tee,,,,,M,,Black,TEE-M-BLACK,20.00
classic-tee,,,,,,,,,
organic-tee,Organic Tee,Acme,T-Shirts,Size,M,Color,Navy,ORG-M-NAVY,21.50
"""
)


def test_a_shopify_csv_export_carries_the_products_first_row_to_its_variants() -> None:
    items = {i.sku: i for i in load_catalogue(SHOPIFY_CSV, media_type="text/csv")}
    assert sorted(items) == ["ORG-M-NAVY", "TEE-M-BLACK", "TEE-M-NAVY"]  # no image row
    black = items["TEE-M-BLACK"]
    assert (black.category, black.product, black.price_minor) == ("T-Shirts", "classic-tee", 2000)
    assert black.attributes["size"] == "M"
    assert black.attributes["colour"] == "Black"
    assert black.title == "Classic Tee - M / Black"


def test_a_feed_with_bad_rows_is_refused_with_every_problem() -> None:
    bad = {"products": [{"id": 9, "variants": [{"id": 1, "price": "cheap"}]}, {"id": 10}]}
    with pytest.raises(InvalidCatalogue) as raised:
        load_catalogue(json.dumps(bad), media_type="application/json")
    assert any("variants[0]" in p and "cheap" in p for p in raised.value.problems)
    assert any("products[1]" in p for p in raised.value.problems)


def test_without_a_feed_the_category_is_a_guess_and_the_explanation_says_so() -> None:
    catalogue = derive_catalogue([("APP-1", "Tee", 2000), ("APP-2", "Tee", 2000)])
    found = find_substitute(
        sku="APP-1", quantity=1, location="wh", catalogue=catalogue, stock={("APP-2", "wh"): 1}
    )
    assert found is not None
    assert "category guessed from the SKU prefix" in found.explanation
