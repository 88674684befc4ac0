"""Normalisation: equal contact details written differently compare equal, and only
the rules a provider documents are applied (Gmail dots and +tags, nobody else's)."""

from __future__ import annotations

import pytest

from orderops.resolve.identity.normalise import (
    normalise_email,
    normalise_line1,
    normalise_name,
    normalise_phone,
    normalise_postal_code,
    soundex,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane.Doe@Example.com", "jane.doe@example.com"),
        ("  jane.doe@example.com \n", "jane.doe@example.com"),
        ("jane.doe+news@example.com", "jane.doe+news@example.com"),  # only Gmail drops +tags
        ("Jane.Doe+shop@gmail.com", "janedoe@gmail.com"),
        ("j.a.n.e.doe@GMAIL.COM", "janedoe@gmail.com"),
        ("jane.doe@googlemail.com", "janedoe@gmail.com"),
        ("jane.doe@outlook.com", "jane.doe@outlook.com"),  # dots matter outside Gmail
        ("+tag@gmail.com", None),
        ("not-an-email", None),
        ("jane@localhost", None),
        ("", None),
        (None, None),
    ],
)
def test_emails_normalise_to_the_mailbox_they_reach(raw: str | None, expected: str | None) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize(
    ("raw", "country", "expected"),
    [
        ("+14155550123", None, "+14155550123"),
        ("(415) 555-0123", None, "+14155550123"),
        ("415.555.0123", None, "+14155550123"),
        ("415-555-0123", "US", "+14155550123"),
        ("+1 415 555 0123", None, "+14155550123"),
        ("1-415-555-0123", None, "+14155550123"),
        ("4155550123", None, "+14155550123"),
        ("020 7946 0958", "GB", "+442079460958"),  # national format read in the address's country
        ("+44 20 7946 0958", "US", "+442079460958"),  # an international number ignores the region
        ("030 123456", "DE", "+4930123456"),
        ("555", None, None),
        ("call me maybe", None, None),
        ("", None, None),
        (None, None, None),
    ],
)
def test_phones_normalise_to_e164(
    raw: str | None, country: str | None, expected: str | None
) -> None:
    assert normalise_phone(raw, country=country) == expected


def test_the_same_national_number_differs_by_country() -> None:
    assert normalise_phone("020 7946 0958", country="GB") != normalise_phone(
        "020 7946 0958", country="US"
    )


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Jane Doe", "jane doe"),
        ("  JANE   DOE ", "jane doe"),
        ("José Núñez", "jose nunez"),
        ("Mary O'Neil-Smith", "mary o'neil-smith"),
        ("Doe, Jane", "doe jane"),
        ("Dr. Jane Doe", "dr jane doe"),
        ("   ", None),
        (None, None),
    ],
)
def test_names_fold_case_accents_and_punctuation(raw: str | None, expected: str | None) -> None:
    assert normalise_name(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("12 Maple Avenue", "12 maple ave"),
        ("12 maple ave.", "12 maple ave"),
        ("400 North Washington Boulevard", "400 n washington blvd"),
        ("7 Elm Street, Apartment 4", "7 elm st apt 4"),
        (None, None),
    ],
)
def test_street_lines_use_usps_abbreviations(raw: str | None, expected: str | None) -> None:
    assert normalise_line1(raw) == expected


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("94110", "94110"), ("94110-1234", "94110"), ("sw1a 1aa", "SW1A1AA"), (None, None)],
)
def test_postal_codes(raw: str | None, expected: str | None) -> None:
    assert normalise_postal_code(raw) == expected


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("Robert", "R163"),
        ("Rupert", "R163"),
        ("Ashcraft", "A261"),
        ("Tymczak", "T522"),
        ("Pfister", "P236"),
        ("Lee", "L000"),
        ("Smith", "S530"),
        ("Smyth", "S530"),
        ("", ""),
    ],
)
def test_soundex_matches_the_published_examples(word: str, expected: str) -> None:
    assert soundex(word) == expected
