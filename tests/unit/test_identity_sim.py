"""The simulator's duplicate customers and their ground truth."""

from __future__ import annotations

import random
from collections import defaultdict
from pathlib import Path

import pytest

from orderops.resolve.identity.normalise import normalise_phone
from orderops.sim import SimConfig, SimResult, read_identities, simulate, write_sim
from orderops.sim.duplicates import reformat_phone, typo

RATE = 0.15


@pytest.fixture(scope="module")
def with_duplicates() -> SimResult:
    return simulate(SimConfig(seed=5, duplicate_customer_rate=RATE))


def _customers(result: SimResult) -> dict[str, dict[str, object]]:
    found: dict[str, dict[str, object]] = {}
    for event in result.events:
        if event["type"] == "customer.upserted":
            found[event["data"]["customer_ref"]] = event["data"]
    return found


def _people(result: SimResult) -> dict[str, list[str]]:
    people: dict[str, list[str]] = defaultdict(list)
    for ref, person in result.identities.items():
        people[person].append(ref)
    return people


def test_without_duplicates_every_ref_is_its_own_person() -> None:
    result = simulate(SimConfig(seed=5))
    assert result.identities
    assert all(ref == person for ref, person in result.identities.items())


def test_the_duplicate_rate_leaves_other_facts_alone_when_zero() -> None:
    assert (
        simulate(SimConfig(seed=5, duplicate_customer_rate=0.0)).events
        == simulate(SimConfig(seed=5)).events
    )


def test_the_rate_must_be_a_share() -> None:
    with pytest.raises(ValueError, match="duplicate_customer_rate"):
        SimConfig(duplicate_customer_rate=1.5)


def test_some_people_come_back_under_a_second_account(with_duplicates: SimResult) -> None:
    returning = [refs for refs in _people(with_duplicates).values() if len(refs) > 1]
    assert len(returning) >= 10


def test_every_customer_in_the_events_has_a_truth(with_duplicates: SimResult) -> None:
    assert set(_customers(with_duplicates)) == set(with_duplicates.identities)


def test_a_second_account_is_the_same_person_written_differently(
    with_duplicates: SimResult,
) -> None:
    customers = _customers(with_duplicates)
    differences: dict[str, int] = defaultdict(int)
    for refs in _people(with_duplicates).values():
        if len(refs) < 2:
            continue
        first, *others = (customers[ref] for ref in refs)
        phones = {normalise_phone(str(customers[ref]["phone"])) for ref in refs}
        postal = {customers[ref]["address"]["postal_code"] for ref in refs}  # type: ignore[index]
        assert len(phones) == 1
        assert len(postal) == 1
        for other in others:
            for key in ("name", "email", "phone"):
                differences[key] += other[key] != first[key]
    assert min(differences[key] for key in ("name", "email", "phone")) >= 3, differences


def test_housemates_share_a_phone_but_are_different_people(with_duplicates: SimResult) -> None:
    customers = _customers(with_duplicates)
    by_phone: dict[str | None, set[str]] = defaultdict(set)
    for ref, data in customers.items():
        by_phone[normalise_phone(str(data["phone"]))].add(with_duplicates.identities[ref])
    shared = [people for people in by_phone.values() if len(people) > 1]
    assert shared, "the run should contain at least one household of two people"


def test_identities_are_written_and_read_back(with_duplicates: SimResult, tmp_path: Path) -> None:
    write_sim(with_duplicates, tmp_path)
    assert read_identities(tmp_path / "identities.jsonl") == with_duplicates.identities


@pytest.mark.parametrize("seed", range(20))
def test_a_typo_changes_one_letter_and_keeps_the_words(seed: int) -> None:
    name = "Fatima Jackson"
    slipped = typo(random.Random(seed), name)
    assert slipped != name
    assert len(slipped.split()) == 2
    assert abs(len(slipped) - len(name)) <= 1


@pytest.mark.parametrize("seed", range(12))
def test_a_reformatted_phone_is_the_same_number(seed: int) -> None:
    written = reformat_phone(random.Random(seed), "+14155550123")
    assert written != "+14155550123"
    assert normalise_phone(written) == "+14155550123"
