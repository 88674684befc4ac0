"""Simulated shoppers: names, contact details and addresses that look like a US store's.

Customers repeat (about one order in four comes from someone who bought before), so
identity resolution and "this VIP has had two bad orders" logic have something to find.
With ``duplicate_rate`` above zero, some returning shoppers come back under a second
account and some new ones share a household with an earlier customer (see
``duplicates``); ``Customer.person`` records who is really who.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace

from orderops.sim.catalog import REGIONS, City, Region
from orderops.sim.duplicates import housemate_of, variant_of
from orderops.sim.ids import IdFactory

FIRST_NAMES = (
    "Olivia", "Liam", "Emma", "Noah", "Ava", "Elijah", "Sophia", "James", "Isabella", "Lucas",
    "Mia", "Mateo", "Amelia", "Benjamin", "Harper", "Ethan", "Evelyn", "Aiden", "Priya", "Wei",
    "Fatima", "Diego", "Keisha", "Hiroshi", "Chloe", "Andre", "Nadia", "Omar", "Grace", "Carlos",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Garcia", "Miller", "Davis", "Rodriguez",
    "Martinez", "Hernandez", "Lopez", "Nguyen", "Patel", "Kim", "Chen", "Wilson", "Anderson",
    "Thomas", "Taylor", "Moore", "Jackson", "Okafor", "Lee", "Walker", "Hall", "Young", "Rivera",
)  # fmt: skip
STREETS = (
    "Maple Ave", "Oak St", "Washington Blvd", "Park Pl", "Cedar Ln", "Elm St", "Lakeview Dr",
    "Highland Ave", "Sunset Blvd", "Main St", "Church St", "Pine Ridge Rd", "Riverside Dr",
)  # fmt: skip
EMAIL_DOMAINS = ("gmail.com", "yahoo.com", "outlook.com", "icloud.com", "proton.me", "aol.com")

VIP_SHARE = 0.1
REPEAT_SHARE = 0.25
HOUSEMATE_SHARE = 0.5
"""New customers who are housemates of an earlier one, relative to the duplicate rate."""


@dataclass(frozen=True)
class PostalAddress:
    name: str
    line1: str
    line2: str | None
    city: str
    region: str
    postal_code: str
    country: str = "US"


@dataclass(frozen=True)
class Customer:
    ref: str
    name: str
    email: str
    phone: str
    tier: str
    region: str
    address: PostalAddress
    person: str | None = None
    """The ref of the person's first account when this is a second one; None otherwise."""

    @property
    def person_id(self) -> str:
        """Ground truth: equal for every account of one person."""
        return self.person or self.ref


class CustomerBook:
    """Creates new customers and picks returning ones, remembering who already exists.

    With ``duplicate_rate`` 0 (the default) no extra random draws are made, so runs
    without duplicates stay byte-identical to runs of earlier versions.
    """

    def __init__(self, rng: random.Random, ids: IdFactory, *, duplicate_rate: float = 0.0) -> None:
        self._rng = rng
        self._ids = ids
        self._duplicate_rate = duplicate_rate
        self._customers: list[Customer] = []
        self._emails: set[str] = set()
        self._people: dict[str, Customer] = {}
        """Each person's first account: variants and housemates start from true details."""
        self._households: dict[str, set[str]] = {}
        """First names already living behind one phone number: no two alike in a home."""

    def next_customer(self) -> tuple[Customer, bool]:
        """Return the customer of the next order and whether the shop sees them as new."""
        # A young shop has few customers to come back; the repeat share grows to its
        # steady value over the first couple of hundred customers.
        repeat = REPEAT_SHARE * min(1.0, len(self._customers) / 200)
        rate = self._duplicate_rate
        if self._rng.random() < repeat:
            returning = self._rng.choice(self._customers)
            if rate > 0 and self._rng.random() < rate:
                person = self._people[returning.person_id]
                variant = variant_of(
                    self._rng, person, ref=self._ids.customer_ref(), taken=self._emails
                )
                variant = replace(variant, person=returning.person_id)
                self._customers.append(variant)
                return variant, True
            return returning, False
        if rate > 0 and self._customers and self._rng.random() < rate * HOUSEMATE_SHARE:
            customer = self._housemate(self._people[self._rng.choice(self._customers).person_id])
        else:
            customer = self._new_customer()
        self._customers.append(customer)
        if rate > 0:
            self._people[customer.ref] = customer
            self._households.setdefault(customer.phone, set()).add(customer.name.split()[0])
        return customer, True

    def _housemate(self, of: Customer) -> Customer:
        home = self._households.setdefault(of.phone, set())
        first = self._rng.choice([n for n in FIRST_NAMES if n not in home])
        last = of.name.split()[-1]
        return housemate_of(
            of,
            ref=self._ids.customer_ref(),
            first_name=first,
            email=self._email(first, last),
        )

    def _new_customer(self) -> Customer:
        rng = self._rng
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        region = rng.choices(REGIONS, weights=[r.weight for r in REGIONS])[0]
        city = rng.choice(region.cities)
        name = f"{first} {last}"
        return Customer(
            ref=self._ids.customer_ref(),
            name=name,
            email=self._email(first, last),
            phone=self._phone(city),
            tier="vip" if rng.random() < VIP_SHARE else "standard",
            region=region.key,
            address=self._address(name, region, city),
        )

    def _email(self, first: str, last: str) -> str:
        rng = self._rng
        while True:
            local = rng.choice(
                (
                    f"{first}.{last}",
                    f"{first[0]}{last}",
                    f"{first}{last}{rng.randint(1, 99)}",
                    f"{first}_{last[0]}{rng.randint(70, 99)}",
                )
            ).lower()
            email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
            if email not in self._emails:
                self._emails.add(email)
                return email

    def _phone(self, city: City) -> str:
        exchange = f"{self._rng.randint(2, 9)}{self._rng.randint(0, 9)}{self._rng.randint(0, 9)}"
        return f"+1{city.area_code}{exchange}{self._rng.randint(0, 9999):04d}"

    def _address(self, name: str, region: Region, city: City) -> PostalAddress:
        rng = self._rng
        line2 = f"Apt {rng.randint(1, 40)}{rng.choice('ABCD')}" if rng.random() < 0.3 else None
        return PostalAddress(
            name=name,
            line1=f"{rng.randint(10, 9899)} {rng.choice(STREETS)}",
            line2=line2,
            city=city.name,
            region=city.state,
            postal_code=f"{city.zip3}{rng.randint(0, 99):02d}",
        )
