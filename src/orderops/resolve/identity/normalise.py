"""Normalising contact details so that equal things compare equal.

Matching is only as good as its keys: ``Jane.Doe+shop@GoogleMail.com`` and
``janedoe@gmail.com`` reach the same inbox, ``(415) 555-0123`` and ``+1 415 555 0123``
ring the same phone. Every rule here is one a provider documents (Gmail ignores dots
and ``+tags``; other providers do not promise that, so their addresses keep them).
"""

from __future__ import annotations

import re
import unicodedata

import phonenumbers

GMAIL_DOMAINS = frozenset({"gmail.com", "googlemail.com"})
DEFAULT_REGION = "US"

_SPACES = re.compile(r"\s+")
_NOT_NAME = re.compile(r"[^a-z\s'-]")
_NOT_ADDRESS = re.compile(r"[^a-z0-9\s]")
_STREET_WORDS = {
    "street": "st",
    "avenue": "ave",
    "boulevard": "blvd",
    "drive": "dr",
    "lane": "ln",
    "road": "rd",
    "place": "pl",
    "court": "ct",
    "apartment": "apt",
    "suite": "ste",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}
"""USPS standard suffix abbreviations (Publication 28), the spellings people vary most."""


def fold(text: str) -> str:
    """Lowercase without accents, so ``José`` and ``JOSE`` compare equal."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def normalise_email(email: str | None) -> str | None:
    """The mailbox an address reaches: lowercase; for Gmail, no dots and no ``+tag``."""
    if email is None:
        return None
    cleaned = email.strip().lower()
    local, at, domain = cleaned.rpartition("@")
    if not at or not local or "." not in domain:
        return None
    if domain in GMAIL_DOMAINS:
        local = local.split("+", 1)[0].replace(".", "")
        domain = "gmail.com"
    return f"{local}@{domain}" if local else None


def email_local_part(email: str | None) -> str | None:
    """The normalised part before ``@``: people reuse it across providers."""
    normal = normalise_email(email)
    return normal.split("@", 1)[0] if normal else None


def normalise_phone(phone: str | None, *, country: str | None = None) -> str | None:
    """E.164 (``+14155550123``), reading national formats as the customer's country.

    Returns None for text that is not a possible number, so junk never becomes a key.
    """
    if phone is None or not phone.strip():
        return None
    region = (country or DEFAULT_REGION).upper()
    try:
        parsed = phonenumbers.parse(phone, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(parsed):
        return None
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_name(name: str | None) -> str | None:
    """Folded, punctuation-free, single-spaced: ``  O'NEIL,  Mary `` -> ``o'neil mary``."""
    if name is None:
        return None
    cleaned = _SPACES.sub(" ", _NOT_NAME.sub(" ", fold(name))).strip()
    return cleaned or None


def normalise_line1(line1: str | None) -> str | None:
    """Street line with USPS abbreviations, so ``12 Maple Avenue`` equals ``12 maple ave.``."""
    if line1 is None:
        return None
    words = _NOT_ADDRESS.sub(" ", fold(line1)).split()
    cleaned = " ".join(_STREET_WORDS.get(word, word) for word in words)
    return cleaned or None


def normalise_postal_code(postal_code: str | None) -> str | None:
    """Uppercase without spaces; US ZIP+4 cut to the five-digit ZIP both forms share."""
    if postal_code is None:
        return None
    cleaned = re.sub(r"[\s-]", "", postal_code.upper())
    if len(cleaned) == 9 and cleaned.isdigit():
        cleaned = cleaned[:5]
    return cleaned or None


_SOUNDEX_CODES = {
    **dict.fromkeys("bfpv", "1"),
    **dict.fromkeys("cgjkqsxz", "2"),
    **dict.fromkeys("dt", "3"),
    "l": "4",
    **dict.fromkeys("mn", "5"),
    "r": "6",
}


def soundex(word: str) -> str:
    """American Soundex (``Robert`` -> ``R163``): a blocking key that survives most typos."""
    letters = [c for c in fold(word) if "a" <= c <= "z"]
    if not letters:
        return ""
    code = letters[0].upper()
    previous = _SOUNDEX_CODES.get(letters[0], "")
    for letter in letters[1:]:
        digit = _SOUNDEX_CODES.get(letter, "")
        if digit and digit != previous:
            code += digit
        if letter not in "hw":
            previous = digit
    return (code + "000")[:4]
