"""Duplicate customers with ground truth: the same person under a second account, and
different people under one roof.

Real stores see both. A returning shopper checks out as a guest with a work email, types
their name in a hurry, gives the phone as ``(415) 555-0123`` instead of ``+14155550123``,
and the shop creates a new customer id. And a household shares a phone and an address
while being two people, which is the trap a matcher must not fall into. The simulator
knows which is which, so identity resolution can be measured against the truth.
"""

from __future__ import annotations

import random
from dataclasses import replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from orderops.sim.people import Customer, PostalAddress

PHONE_FORMATS = (
    "({area}) {exchange}-{line}",
    "{area}.{exchange}.{line}",
    "{area}-{exchange}-{line}",
    "+1 {area} {exchange} {line}",
    "1-{area}-{exchange}-{line}",
    "{area}{exchange}{line}",
)
OTHER_DOMAINS = ("gmail.com", "outlook.com", "work-mail.com", "hey.com", "fastmail.com")
LONG_STREET_WORDS = {"Ave": "Avenue", "St": "Street", "Blvd": "Boulevard", "Dr": "Drive"}


def variant_of(rng: random.Random, customer: Customer, *, ref: str, taken: set[str]) -> Customer:
    """The same person under a new provider id, with some details written differently."""
    name = customer.name
    if rng.random() < 0.5:
        name = typo(rng, name)
    if rng.random() < 0.3:
        name = rng.choice((name.upper(), name.lower()))
    phone = customer.phone
    if rng.random() < 0.6:
        phone = reformat_phone(rng, phone)
    email = customer.email
    if rng.random() < 0.7:
        email = second_email(rng, customer, taken)
    elif rng.random() < 0.5:
        email = email.upper()
    address = customer.address
    if rng.random() < 0.3:
        address = _spelled_out(address)
    return replace(
        customer, ref=ref, name=name, email=email, phone=phone, address=replace(address, name=name)
    )


def housemate_of(customer: Customer, *, ref: str, first_name: str, email: str) -> Customer:
    """A different person sharing the customer's surname, phone and address (``person`` is
    cleared: a housemate is nobody's second account)."""
    last = customer.name.split()[-1]
    name = f"{first_name} {last}"
    return replace(
        customer,
        ref=ref,
        name=name,
        email=email,
        address=replace(customer.address, name=name),
        person=None,
    )


def typo(rng: random.Random, name: str) -> str:
    """One slip of the keyboard: a swapped, dropped or doubled letter inside a word."""
    positions = [i for i, c in enumerate(name) if c.isalpha() and i + 1 < len(name)]
    if not positions:
        return name
    at = rng.choice(positions)
    kind = rng.choice(("swap", "drop", "double"))
    if kind == "swap" and name[at + 1].isalpha():
        return name[:at] + name[at + 1] + name[at] + name[at + 2 :]
    if kind == "drop" and sum(c.isalpha() for c in name) > 4:
        return name[:at] + name[at + 1 :]
    return name[:at] + name[at] + name[at:]


def reformat_phone(rng: random.Random, phone: str) -> str:
    """An E.164 US number written the way people type it."""
    digits = phone.removeprefix("+1")
    pattern = rng.choice(PHONE_FORMATS)
    return pattern.format(area=digits[:3], exchange=digits[3:6], line=digits[6:])


def second_email(rng: random.Random, customer: Customer, taken: set[str]) -> str:
    """Another address of the same person: a Gmail alias, the same handle elsewhere, or new."""
    local, domain = customer.email.split("@", 1)
    first, last = customer.name.lower().split()[0], customer.name.lower().split()[-1]
    while True:
        kind = rng.random()
        if domain == "gmail.com" and kind < 0.3:
            candidate = f"{local}+shop{rng.randint(1, 9)}@{domain}"
        elif kind < 0.6:
            candidate = f"{local}@{rng.choice([d for d in OTHER_DOMAINS if d != domain])}"
        else:
            candidate = f"{first[0]}.{last}{rng.randint(100, 999)}@{rng.choice(OTHER_DOMAINS)}"
        if candidate not in taken:
            taken.add(candidate)
            return candidate


def _spelled_out(address: PostalAddress) -> PostalAddress:
    number, _, street = address.line1.partition(" ")
    words = [LONG_STREET_WORDS.get(word, word) for word in street.split()]
    return replace(address, line1=" ".join([number, *words]), line2=None)
