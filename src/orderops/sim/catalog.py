"""The simulated retailer's fixed world: products, warehouses, regions, lanes and carriers.

Static tables rather than generated ones, so a reviewer reading a demo case sees a
plausible store ("Merino Crew Socks" shipped from Columbus by UPS Ground) and a
changed seed reshuffles orders without reshuffling the shop itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


@dataclass(frozen=True)
class Product:
    sku: str
    title: str
    category: str
    price_minor: int
    popularity: float


_CATEGORIES: dict[str, tuple[str, tuple[tuple[str, int], ...]]] = {
    "apparel": (
        "APP",
        (
            ("Organic Cotton Tee", 2400),
            ("Merino Crew Socks", 1800),
            ("Heavyweight Hoodie", 6800),
            ("Chino Shorts", 4800),
            ("Linen Button-Down Shirt", 7400),
            ("Rain Shell Jacket", 12900),
            ("Fleece Quarter-Zip", 7900),
            ("Slim Selvedge Jeans", 9800),
            ("Knit Beanie", 2200),
            ("Performance Polo", 5400),
        ),
    ),
    "footwear": (
        "FTW",
        (
            ("Canvas Low-Top Sneaker", 6500),
            ("Trail Running Shoe", 13500),
            ("Leather Chelsea Boot", 18900),
            ("Recovery Slide", 4500),
            ("Wool Runner", 9800),
            ("Waterproof Hiking Boot", 17500),
            ("Suede Loafer", 12500),
            ("Court Classic Sneaker", 8500),
            ("Insulated Winter Boot", 15900),
            ("Everyday Sandal", 5500),
        ),
    ),
    "home": (
        "HOM",
        (
            ("Percale Sheet Set Queen", 14900),
            ("Waffle Bath Towel", 3400),
            ("Linen Throw Blanket", 8900),
            ("Down Alternative Pillow", 5900),
            ("Ceramic Table Lamp", 11900),
            ("Wool Area Rug 5x8", 34900),
            ("Scented Soy Candle", 2800),
            ("Blackout Curtain Panel", 4600),
            ("Bamboo Storage Basket", 3900),
            ("Oak Picture Frame 8x10", 3200),
        ),
    ),
    "kitchen": (
        "KIT",
        (
            ("Cast Iron Skillet 10in", 4900),
            ("Chef Knife 8in", 8900),
            ("Pour-Over Coffee Kit", 5400),
            ("Stoneware Dinner Plate Set", 7200),
            ("Glass Meal Prep Containers", 3600),
            ("Enameled Dutch Oven", 19900),
            ("Walnut Cutting Board", 6400),
            ("Insulated Water Bottle", 3500),
            ("Electric Kettle", 7900),
            ("Stainless Mixing Bowls", 4200),
        ),
    ),
    "electronics": (
        "ELE",
        (
            ("USB-C Charging Cable 2m", 1900),
            ("Wireless Earbuds", 12900),
            ("Portable Power Bank 20000mAh", 5900),
            ("Bluetooth Speaker", 8900),
            ("Laptop Sleeve 14in", 4400),
            ("Smart Plug 2-Pack", 2900),
            ("Mechanical Keyboard", 13900),
            ("Phone Stand Aluminium", 2700),
            ("Noise-Cancelling Headphones", 29900),
            ("65W GaN Charger", 4900),
        ),
    ),
    "outdoor": (
        "OUT",
        (
            ("Ultralight Daypack 20L", 8900),
            ("Camp Hammock", 6900),
            ("Insulated Tumbler", 2900),
            ("Trekking Poles Pair", 11900),
            ("Down Sleeping Bag", 27900),
            ("Headlamp 400 Lumen", 3900),
            ("Camp Stove", 5900),
            ("Packable Rain Poncho", 2500),
            ("Two-Person Tent", 32900),
            ("Folding Camp Chair", 6400),
        ),
    ),
}


def _build_catalogue() -> tuple[Product, ...]:
    products: list[Product] = []
    for category, (prefix, items) in _CATEGORIES.items():
        for rank, (title, price) in enumerate(items):
            # Cheaper, earlier items sell more; a gentle long tail like any real shop.
            popularity = 1.0 / (rank + 2) * (1.5 if price < 5000 else 1.0)
            products.append(
                Product(f"{prefix}-{rank + 101:03d}", title, category, price, popularity)
            )
    return tuple(products)


CATALOGUE: tuple[Product, ...] = _build_catalogue()


@dataclass(frozen=True)
class City:
    name: str
    state: str
    zip3: str
    area_code: str


@dataclass(frozen=True)
class Region:
    key: str
    weight: float
    cities: tuple[City, ...]


REGIONS: tuple[Region, ...] = (
    Region(
        "northeast",
        0.22,
        (
            City("Brooklyn", "NY", "112", "718"),
            City("Boston", "MA", "021", "617"),
            City("Philadelphia", "PA", "191", "215"),
            City("Hartford", "CT", "061", "860"),
            City("Newark", "NJ", "071", "973"),
        ),
    ),
    Region(
        "southeast",
        0.22,
        (
            City("Atlanta", "GA", "303", "404"),
            City("Miami", "FL", "331", "305"),
            City("Charlotte", "NC", "282", "704"),
            City("Nashville", "TN", "372", "615"),
            City("Orlando", "FL", "328", "407"),
        ),
    ),
    Region(
        "midwest",
        0.20,
        (
            City("Chicago", "IL", "606", "312"),
            City("Minneapolis", "MN", "554", "612"),
            City("Detroit", "MI", "482", "313"),
            City("Columbus", "OH", "432", "614"),
            City("Kansas City", "MO", "641", "816"),
        ),
    ),
    Region(
        "south_central",
        0.14,
        (
            City("Austin", "TX", "787", "512"),
            City("Houston", "TX", "770", "713"),
            City("Dallas", "TX", "752", "214"),
            City("Phoenix", "AZ", "850", "602"),
            City("Denver", "CO", "802", "303"),
        ),
    ),
    Region(
        "west",
        0.22,
        (
            City("Los Angeles", "CA", "900", "213"),
            City("San Francisco", "CA", "941", "415"),
            City("Seattle", "WA", "981", "206"),
            City("Portland", "OR", "972", "503"),
            City("San Diego", "CA", "921", "619"),
        ),
    ),
)


@dataclass(frozen=True)
class Warehouse:
    code: str
    city: str
    state: str
    nearest_region: str


WAREHOUSES: tuple[Warehouse, ...] = (
    Warehouse("wh-east", "Edison", "NJ", "northeast"),
    Warehouse("wh-central", "Columbus", "OH", "midwest"),
    Warehouse("wh-west", "Reno", "NV", "west"),
)

PRIMARY_WAREHOUSE: dict[str, str] = {
    "northeast": "wh-east",
    "southeast": "wh-east",
    "midwest": "wh-central",
    "south_central": "wh-central",
    "west": "wh-west",
}
"""Where a region's orders are normally picked; the rest come from another site with stock."""

GROUND_TRANSIT_DAYS: dict[tuple[str, str], tuple[int, int, int]] = {
    ("wh-east", "northeast"): (1, 2, 3),
    ("wh-east", "southeast"): (2, 3, 4),
    ("wh-east", "midwest"): (2, 3, 4),
    ("wh-east", "south_central"): (3, 4, 5),
    ("wh-east", "west"): (4, 5, 6),
    ("wh-central", "northeast"): (2, 3, 4),
    ("wh-central", "southeast"): (2, 3, 4),
    ("wh-central", "midwest"): (1, 2, 3),
    ("wh-central", "south_central"): (2, 3, 4),
    ("wh-central", "west"): (3, 4, 5),
    ("wh-west", "northeast"): (4, 5, 6),
    ("wh-west", "southeast"): (4, 5, 6),
    ("wh-west", "midwest"): (3, 4, 5),
    ("wh-west", "south_central"): (2, 3, 4),
    ("wh-west", "west"): (1, 2, 3),
}
"""Lane transit time (min, most likely, max) in days for ground services."""

HUBS: dict[str, str] = {
    "northeast": "Secaucus, NJ",
    "southeast": "Atlanta, GA",
    "midwest": "Chicago, IL",
    "south_central": "Dallas, TX",
    "west": "Ontario, CA",
}
"""The sort hub a region's parcels pass through; it names in-transit scans."""


class ServiceLevel(StrEnum):
    STANDARD = "standard"
    EXPEDITED = "expedited"
    EXPRESS = "express"


PROMISE_DAYS: dict[ServiceLevel, int] = {
    ServiceLevel.STANDARD: 5,
    ServiceLevel.EXPEDITED: 3,
    ServiceLevel.EXPRESS: 2,
}

SHIPPING_FEE_MINOR: dict[ServiceLevel, int] = {
    ServiceLevel.STANDARD: 599,
    ServiceLevel.EXPEDITED: 1299,
    ServiceLevel.EXPRESS: 2499,
}
FREE_SHIPPING_FROM_MINOR = 7500
"""Standard shipping is free from this subtotal, as in most shops."""

CARRIER_SERVICES: dict[ServiceLevel, tuple[tuple[str, str, float], ...]] = {
    ServiceLevel.STANDARD: (
        ("USPS", "GroundAdvantage", 0.40),
        ("UPS", "Ground", 0.30),
        ("FedEx", "FEDEX_GROUND", 0.25),
        ("DHL", "DHLeCommerceGround", 0.05),
    ),
    ServiceLevel.EXPEDITED: (
        ("UPS", "2ndDayAir", 0.45),
        ("FedEx", "FEDEX_2_DAY", 0.35),
        ("USPS", "Priority", 0.20),
    ),
    ServiceLevel.EXPRESS: (
        ("UPS", "NextDayAirSaver", 0.40),
        ("FedEx", "STANDARD_OVERNIGHT", 0.35),
        ("USPS", "Express", 0.15),
        ("DHL", "ExpressWorldwide", 0.10),
    ),
}
"""Carrier and EasyPost-style service name per service level, with their share."""
