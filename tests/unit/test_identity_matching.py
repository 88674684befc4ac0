"""Matching: which pairs are one person at the thresholds, why, and how clustering and
blocking turn pairs into people without comparing everyone with everyone."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from orderops.resolve.identity.clustering import (
    assign_golden_ids,
    blocking_keys,
    candidate_pairs,
    pairwise_scores,
    resolve,
)
from orderops.resolve.identity.matching import (
    DEFAULT_POLICY,
    CustomerRecord,
    compare,
    make_record,
    name_outcome,
)

HOME = {"line1": "12 Maple Ave", "postal_code": "94110", "city": "San Francisco", "country": "US"}
ELSEWHERE = {"line1": "880 Oak St", "postal_code": "10001", "city": "New York", "country": "US"}


def person(record_id: str, **fields: Any) -> CustomerRecord:
    base: dict[str, Any] = {
        "email": "jane.doe@example.com",
        "phone": "+14155550123",
        "name": "Jane Doe",
        "address": HOME,
    }
    return make_record(record_id, **{**base, **fields})


OTHER_STREET = {**HOME, "line1": "48 Maple Ave"}
SPELLED_OUT = {**HOME, "line1": "12 Maple Avenue"}
MATCH_TABLE = [
    # (case, left overrides, right overrides, same person?)
    ("same email, other case", {}, {"email": "JANE.DOE@EXAMPLE.COM", "name": "J Doe"}, True),
    ("gmail alias", {"email": "jane.doe@gmail.com"}, {"email": "janedoe+x@gmail.com"}, True),
    ("typo in name, second email", {}, {"name": "Jnae Doe", "email": "jd@work.com"}, True),
    (
        "dropped letter, phone formatted",
        {},
        {"name": "Jane Do", "email": "jd@work.com", "phone": "(415) 555-0123"},
        True,
    ),
    (
        "name in capitals, avenue spelled out",
        {},
        {"name": "JANE DOE", "email": "j@w.com", "address": SPELLED_OUT},
        True,
    ),
    ("same name and address, no phone", {"phone": None}, {"phone": None, "email": "j@w.com"}, True),
    (
        "same handle at another provider",
        {},
        {"email": "jane.doe@outlook.com", "name": "Jane Deo"},
        True,
    ),
    (
        "different people, same name, different city",
        {},
        {"email": "jane.doe77@yahoo.com", "phone": "+12125550199", "address": ELSEWHERE},
        False,
    ),
    ("shared family phone and home", {}, {"name": "John Doe", "email": "john@example.com"}, False),
    (
        "family member with a similar name",
        {"name": "Olivia Smith"},
        {"name": "Liam Smith", "email": "liam@example.com"},
        False,
    ),
    (
        "same name, same street block, other phone",
        {},
        {"email": "other@example.com", "phone": "+14155559999", "address": OTHER_STREET},
        False,
    ),
    (
        "only a shared phone",
        {"name": None, "address": None},
        {"name": None, "address": None, "email": "x@y.com"},
        False,
    ),
]


@pytest.mark.parametrize(
    ("left", "right", "same"),
    [pytest.param(left, right, same, id=case) for case, left, right, same in MATCH_TABLE],
)
def test_match_decisions_at_the_thresholds(
    left: dict[str, Any], right: dict[str, Any], same: bool
) -> None:
    result = compare(person("a", **left), person("b", **right))
    assert result.matched is same, result.explain()


def test_the_score_is_the_sum_of_its_explained_contributions() -> None:
    result = compare(person("a"), person("b", name="Jnae Doe", email="jd@work.com"))
    features = {c.feature: (c.outcome, c.weight) for c in result.contributions}
    assert features == {
        "phone": ("same", DEFAULT_POLICY.phone_same),
        "name": ("typo", DEFAULT_POLICY.name_typo),
        "address": ("same", DEFAULT_POLICY.address_same),
    }
    assert result.score == sum(c.weight for c in result.contributions)
    assert result.method == "probabilistic"
    assert "phone same +4" in result.explain()
    assert result.explain().endswith(": match")


def test_an_exact_key_links_whatever_the_score() -> None:
    result = compare(
        person("a", name="Jane Doe"), person("b", name="Completely Other", address=ELSEWHERE)
    )
    assert result.score < DEFAULT_POLICY.threshold
    assert (result.matched, result.method) == (True, "exact:email")


def test_a_shared_provider_id_is_an_exact_key() -> None:
    left = make_record("a", name="Jane Doe", provider_ids=[("shopify", "42")])
    right = make_record("b", name="J. D.", provider_ids=[("shopify", "42"), ("stripe", "cus_1")])
    assert compare(left, right).method == "exact:provider_id"


@pytest.mark.parametrize(
    ("left", "right", "outcome"),
    [
        ("jane doe", "jane doe", "same"),
        ("jane doe", "doe jane", "typo"),  # token order does not matter
        ("fatima jackson", "fatima ajckson", "typo"),  # a swap that reorders sorted tokens
        ("wei kim", "wie kim", "typo"),  # one transposition in a short name
        ("olivia smith", "liam smith", "similar"),
        ("ava lee", "eva lee", "typo"),  # one edit: indistinguishable from a typo
        ("ava lee", "mia lee", "different"),
        ("jane doe", "john smith", "different"),
    ],
)
def test_name_outcomes(left: str, right: str, outcome: str) -> None:
    assert name_outcome(left, right) == outcome


def test_blocking_keys_cover_postal_code_phone_suffix_name_and_email() -> None:
    keys = blocking_keys(person("a"))
    assert keys == {
        "postal:94110",
        "phone:5550123",
        "name:D000-J500",
        "email:jane.doe",
    }


def _crowd(count: int) -> list[CustomerRecord]:
    """``count`` distinct people spread over postal codes, names and phones."""
    firsts = ["Ann", "Bob", "Cara", "Dev", "Eli", "Fay", "Gus", "Hana", "Ivo", "Jo"]
    lasts = ["Ames", "Brook", "Cole", "Dunn", "Egan", "Ford", "Gray", "Hale", "Irwin", "Judd"]
    people = []
    for index, (first, last) in enumerate(
        itertools.islice(itertools.product(firsts, lasts), count)
    ):
        people.append(
            make_record(
                f"r{index:03d}",
                email=f"{first}.{last}{index}@example.com",
                phone=f"+1415555{index:04d}",
                name=f"{first} {last}",
                address={"line1": f"{index} Main St", "postal_code": f"{94000 + index}"},
            )
        )
    return people


def test_blocking_compares_far_fewer_pairs_than_everyone_with_everyone() -> None:
    crowd = _crowd(100)
    pairs, stats = candidate_pairs(crowd)
    assert stats.all_pairs == 4950
    assert len(pairs) == stats.candidate_pairs < stats.all_pairs // 20


def test_a_block_larger_than_the_cap_is_skipped_and_counted() -> None:
    names = ["Ann Ames", "Bob Brook", "Cara Cole", "Dev Dunn", "Eli Egan"]
    same_zip = [
        make_record(f"r{i}", name=name, address={"postal_code": "00000"})
        for i, name in enumerate(names)
    ]
    pairs, stats = candidate_pairs(same_zip, max_block=4)
    assert stats.skipped_blocks == 1
    assert pairs == set()


def test_resolution_clusters_duplicates_transitively_and_leaves_the_rest_alone() -> None:
    crowd = _crowd(30)
    typo = make_record(
        "dup-1",
        email="someone.else@work.com",
        phone="(415) 555-0007",
        name=crowd[7].name.upper() if crowd[7].name else None,
        address={"line1": "7 Main Street", "postal_code": "94007"},
    )
    alias = make_record("dup-2", email=crowd[7].email, name="Somebody")
    result = resolve([*crowd, typo, alias])
    cluster = next(c for c in result.clusters if "r007" in c)
    assert cluster == {"r007", "dup-1", "dup-2"}
    assert len(result.clusters) == 30
    assert result.links["dup-2"].method == "exact:email"
    assert result.links["dup-1"].method == "probabilistic"
    assert result.links["r000"].method == "singleton"


def test_golden_ids_are_kept_where_the_clusters_allow() -> None:
    current = {"a": "g1", "b": "g1", "c": "g2", "d": "g2", "e": "g2"}
    fresh = iter(["new1", "new2"])
    clusters = [frozenset({"a", "b", "c"}), frozenset({"d", "e"}), frozenset({"f"})]
    assigned = assign_golden_ids(clusters, current, lambda: next(fresh))
    # The larger cluster takes its members' majority id; the smaller keeps g2; f is new.
    assert assigned == {"a": "g1", "b": "g1", "c": "g1", "d": "g2", "e": "g2", "f": "new1"}


def test_golden_ids_are_not_shared_by_two_clusters() -> None:
    current = {"a": "g1", "b": "g1"}
    fresh = iter(["new1"])
    assigned = assign_golden_ids([frozenset({"a"}), frozenset({"b"})], current, lambda: next(fresh))
    assert sorted(assigned.values()) == ["g1", "new1"]


def test_pairwise_scores_count_pairs_from_group_sizes() -> None:
    truth = {"a": "p1", "b": "p1", "c": "p1", "d": "p2", "e": "p3"}
    predicted = {"a": "g1", "b": "g1", "c": "g2", "d": "g2", "e": "g3"}
    # predicted pairs: ab, cd; true pairs: ab, ac, bc; right: ab
    assert pairwise_scores(predicted, truth) == (1, 2, 3)
