"""The pure scope model: reading scopes, narrowing them, matching places, deriving places."""

from __future__ import annotations

import pytest

from orderops.domain.scopes import (
    UNRESTRICTED,
    AccessScope,
    BrandRules,
    Dimension,
    InvalidScope,
    ScopeValues,
    from_request,
    order_scope,
    parse,
)

DE_ACME = ScopeValues(brand="acme", store="acme.shop", channel="web", region="DE")


def test_a_command_line_scope_names_dimensions_and_values_in_one_spelling() -> None:
    scope = parse(["region=de, at", "brand=Acme", "region=CH"])

    assert scope.to_json() == {"brand": ["acme"], "region": ["AT", "CH", "DE"]}
    assert scope == from_request({"region": ["AT", "CH", "DE"], "brand": ["ACME"]})


@pytest.mark.parametrize(
    ("given", "says"),
    [
        (["country=DE"], "not a scope dimension"),
        (["region"], "dimension=value"),
        (["region="], "at least one value"),
        (["region=,"], "at least one value"),
        (["store=" + "x" * 65], "not a value"),
    ],
)
def test_an_unreadable_scope_is_refused_saying_why(given: list[str], says: str) -> None:
    with pytest.raises(InvalidScope, match=says):
        parse(given)


def test_a_stored_scope_that_is_not_a_list_of_values_is_refused() -> None:
    with pytest.raises(InvalidScope, match="list of values"):
        AccessScope.from_json({"region": "DE"})
    assert AccessScope.from_json(None) == UNRESTRICTED == AccessScope.from_json({})


@pytest.mark.parametrize(
    ("scope", "admitted"),
    [
        ([], True),
        (["region=DE"], True),
        (["region=FR,DE", "brand=acme"], True),
        (["region=FR"], False),
        (["region=DE", "brand=bolt"], False),
        (["channel=pos"], False),
    ],
)
def test_an_object_is_in_scope_when_every_restricted_dimension_admits_it(
    scope: list[str], admitted: bool
) -> None:
    assert parse(scope).admits(DE_ACME) is admitted


def test_an_object_that_does_not_say_where_it_sits_is_only_for_the_unrestricted_dimension() -> None:
    nowhere = ScopeValues(brand="acme")

    assert parse(["brand=acme"]).admits(nowhere)
    assert not parse(["region=DE"]).admits(nowhere)


def test_a_key_sees_the_intersection_of_its_users_scope_and_its_own() -> None:
    user = parse(["region=DE,AT"])
    key = parse(["region=AT,FR", "brand=acme"])

    both = user.intersect(key)

    assert both.to_json() == {"brand": ["acme"], "region": ["AT"]}
    assert user.intersect(UNRESTRICTED) == user == UNRESTRICTED.intersect(user)


def test_two_restrictions_that_share_no_value_leave_nothing_to_see() -> None:
    none = parse(["region=DE"]).intersect(parse(["region=FR"]))

    assert none.allowed(Dimension.REGION) == frozenset()
    assert not none.admits(DE_ACME)
    assert not none.unrestricted


def test_a_scope_is_within_another_only_if_it_sees_nothing_more() -> None:
    outer = parse(["region=DE,AT"])

    assert parse(["region=DE", "brand=acme"]).within(outer)
    assert not parse(["brand=acme"]).within(outer)
    assert not parse(["region=DE,FR"]).within(outer)
    assert parse(["region=FR"]).within(UNRESTRICTED)
    assert not UNRESTRICTED.within(outer)


def test_an_order_sits_at_its_store_channel_country_and_the_brand_its_rules_give() -> None:
    rules = BrandRules(by_store={"acme.shop": "acme"}, by_tag={"outlet": "bolt"})

    placed = order_scope(
        store="ACME.shop", channel="Web", country="de", tags=["summer"], brands=rules
    )
    tagged = order_scope(
        store="acme.shop", channel=None, country="Germany", tags=["Outlet"], brands=rules
    )

    assert placed == DE_ACME
    assert (tagged.brand, tagged.region, tagged.channel) == ("bolt", None, None)


def test_a_scope_describes_itself_for_people() -> None:
    assert parse(["region=DE,AT", "brand=acme"]).describe() == "brand=acme; region=AT,DE"
    assert UNRESTRICTED.describe() == "unrestricted"
