"""Reading a draft into claims: amounts, percentages, days, identifiers and actions.

The reader knows the four drafting languages at once (a reviewer may mix them, a model
may answer in the wrong one). Each value is read once: what a pattern consumed is blanked
before the next looks, so "$130.99" is one amount, not also a reference "130". Actions
are read per sentence with their tense, negation and scope, so "we have not refunded"
claims nothing, "your whole order ships today" promises shipping the whole order today.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from babel.numbers import NumberFormatError, parse_decimal

from orderops.recommend import claim_lexicon as lex
from orderops.recommend.claim_patterns import (
    EMAIL,
    IDENTIFIER,
    INSTRUCTIONS,
    PHONE,
    URL,
    digits,
    kind_of,
    looks_like_reference,
)
from orderops.recommend.claims import Action, Claim, ClaimKind, Tense

NUM = r"\d{1,3}(?:[.,]\d{3})+(?:[.,]\d{1,2})?(?!\d)|\d+(?:[.,]\d{1,2})?(?!\d)"
_CANCEL_VERB = re.compile(r"cancel|anul|storn", re.IGNORECASE)
_CLAUSE_BREAK = re.compile(r"[,;:()]")
_STATUS_ONLY = frozenset({Action.REFUND, Action.CREDIT})
_SCOPED = frozenset({Action.REFUND, Action.CANCEL, Action.SHIP, Action.RESHIP})


def parse_number(raw: str) -> Decimal | None:
    """``1,234.56``, ``1.234,56``, ``130,99``, ``5,000`` -> a number (babel per notation).

    One or two digits after the last separator make it the decimal mark; three make it
    a thousands separator, as both notations group by three.
    """
    last = max(raw.rfind("."), raw.rfind(","))
    if last < 0:
        return Decimal(raw)
    if len(raw) - last - 1 == 3:
        return Decimal(re.sub(r"[.,]", "", raw))
    locale = "de" if raw[last] == "," else "en"
    try:
        return parse_decimal(raw, locale=locale, strict=False)
    except (NumberFormatError, InvalidOperation):
        return None


def _minor(value: Decimal | None) -> int | None:
    return None if value is None else int((value * 100).to_integral_value())


@cache
def _money_patterns() -> tuple[re.Pattern[str], ...]:
    symbols = sorted(lex.currency_symbols(), key=len, reverse=True)
    sym = "|".join(rf"\b{re.escape(s)}\b" if s.isalpha() else re.escape(s) for s in symbols)
    words = "|".join(f"(?:{w})" for w in lex.CURRENCY_WORDS)
    return tuple(
        re.compile(p, re.IGNORECASE)
        for p in (
            rf"(?P<sym>{sym})\s?(?P<num>{NUM})",
            rf"(?P<num>{NUM})\s?(?P<sym>{sym})",
            rf"(?P<num>{NUM})\s?(?P<word>{words})\b",
            rf"\b(?P<words>{lex.NUMBER_PHRASE})\s+(?P<word>{words})\b",
            rf"(?P<num>\d+)\s?(?P<cents>{lex.CENT_WORDS})\b",
            rf"\b(?P<words>{lex.NUMBER_PHRASE})\s+(?P<cents>{lex.CENT_WORDS})\b",
        )
    )


def _currency_of_word(word: str) -> str | None:
    return next(
        (code for pattern, code in lex.CURRENCY_WORDS.items() if re.fullmatch(pattern, word, re.I)),
        None,
    )


@cache
def _date_patterns() -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    months = "|".join(re.escape(m) for m in sorted(lex.month_numbers(), key=len, reverse=True))
    return (
        re.compile(
            rf"\b(?P<mon>{months})\.?\s+(?P<d>\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(?P<y>\d{{4}}))?",
            re.IGNORECASE,
        ),
        re.compile(
            rf"\b(?P<d>\d{{1,2}})(?:\.|º|°|st|nd|rd|th)?\s+(?:de\s+)?(?P<mon>{months})\b\.?"
            rf"(?:,?\s+(?:de\s+)?(?P<y>\d{{4}}))?",
            re.IGNORECASE,
        ),
        re.compile(
            r"\b(?:" + "|".join(sorted(lex.weekday_numbers(), key=len, reverse=True)) + r")\b",
            re.IGNORECASE,
        ),
    )


_ISO = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_NUMERIC = re.compile(r"\b(\d{1,2})([./])(\d{1,2})[./](\d{4})\b")
_PERCENT = re.compile(rf"(?P<num>{NUM})(?:{lex.PERCENT_WORDS})", re.IGNORECASE)
_PERCENT_WORDS = re.compile(
    rf"\b(?P<words>{lex.NUMBER_PHRASE})\s?(?:{lex.PERCENT_WORDS})", re.IGNORECASE
)
_HALF = re.compile(lex.HALF_WORDS, re.IGNORECASE)
_RELATIVE = re.compile(
    r"\b(?:"
    + "|".join(re.escape(w) for w in sorted(lex.RELATIVE_DAYS, key=len, reverse=True))
    + r")\b",
    re.IGNORECASE,
)
_ORDER_REF = re.compile(
    rf"\b(?:{lex.ORDER_WORDS})\b(?:\s+(?:no\.?|number|nr\.?|n[º°o]\.?|n[úu]mero|nummer))?"
    r"\s*:?\s*#?\s?(?P<a>\d{3,}[\w-]*)|#\s?(?P<b>[A-Za-z0-9][\w-]*)",
    re.IGNORECASE,
)


@cache
def _sentence_ends() -> re.Pattern[str]:
    """After . ! ? and a space, or at a line break; not in "am 12. Juni" (a German date)."""
    months = "|".join(re.escape(m) for m in sorted(lex.month_numbers(), key=len, reverse=True))
    return re.compile(rf"(?<=[.!?])\s+(?=\S)(?!(?:{months})\b)|\n+", re.IGNORECASE)


def _safe_date(y: int, m: int, d: int) -> date | None:
    try:
        return date(y, m, d)
    except ValueError:
        return None


def _nearest_year(month: int, day: int, today: date | None) -> date | None:
    """A day named without its year: the one nearest today (or None without a today)."""
    if today is None:
        return None
    options = [_safe_date(today.year + k, month, day) for k in (-1, 0, 1)]
    valid = [o for o in options if o is not None]
    return min(valid, key=lambda o: abs((o - today).days)) if valid else None


class _Reader:
    def __init__(self, text: str, today: date | None) -> None:
        self.text = text
        self.work = list(text)
        self.today = today
        self.claims: list[Claim] = []
        self.bounds = [m.end() for m in _sentence_ends().finditer(text)]

    def sentence_of(self, at: int) -> int:
        return sum(1 for b in self.bounds if b <= at)

    def rest(self) -> str:
        return "".join(self.work)

    def take(
        self, m: re.Match[str], kind: ClaimKind, *, shown: str | None = None, **values: Any
    ) -> None:
        start, end = m.span()
        for i in range(start, end):
            self.work[i] = " "
        text = shown or m.group(0).strip()
        self.claims.append(
            Claim(kind=kind, text=text, at=start, sentence=self.sentence_of(start), **values)
        )

    def sentences(self) -> Iterator[tuple[int, int, str]]:
        starts = [0, *self.bounds]
        ends = [*self.bounds, len(self.text)]
        for index, (start, end) in enumerate(zip(starts, ends, strict=True)):
            yield index, start, self.text[start:end]


def read_claims(text: str, *, today: date | None = None) -> tuple[Claim, ...]:
    """Every claim in ``text``, in reading order per kind."""
    r = _Reader(text, today)
    for m in INSTRUCTIONS.finditer(text):
        r.claims.append(
            Claim(
                kind=ClaimKind.INSTRUCTION,
                text=m.group(0),
                at=m.start(),
                sentence=r.sentence_of(m.start()),
            )
        )
    for pattern, kind in ((URL, ClaimKind.LINK), (EMAIL, ClaimKind.EMAIL)):
        for m in list(pattern.finditer(r.rest())):
            r.take(m, kind, value=m.group(0).lower())
    _read_money(r)
    _read_percents(r)
    _read_dates(r)
    for m in list(_ORDER_REF.finditer(r.rest())):
        value = (m.group("a") or m.group("b")).rstrip("-_")
        written = m.group(0)
        shown = written[written.index("#") :] if "#" in written else value
        r.take(m, ClaimKind.ORDER, shown=shown.rstrip("-_"), value=value)
    for m in list(PHONE.finditer(r.rest())):
        if len(digits(m.group(0))) >= 9:
            r.take(m, ClaimKind.PHONE, value=digits(m.group(0)))
    for m in list(IDENTIFIER.finditer(r.rest())):
        token = m.group(0).rstrip("-_")
        if looks_like_reference(token):
            kind = {"order_number": ClaimKind.ORDER, "sku": ClaimKind.SKU}.get(
                kind_of(token), ClaimKind.TRACKING
            )
            r.take(m, kind, value=token.lstrip("#"))
    _read_actions(r)
    return tuple(r.claims)


def _read_money(r: _Reader) -> None:
    for pattern in _money_patterns():
        for m in list(pattern.finditer(r.rest())):
            groups = m.groupdict()
            if groups.get("words"):
                number = lex.words_to_number(groups["words"])
                value = None if number is None else Decimal(number)
            else:
                value = parse_number(groups["num"])
            if value is None:
                continue
            if groups.get("cents"):
                r.take(m, ClaimKind.MONEY, amount_minor=int(value), currency=None)
                continue
            symbol = groups.get("sym")
            currency = (
                lex.currency_symbols().get(symbol) or lex.currency_symbols().get(symbol.upper())
                if symbol
                else _currency_of_word(groups["word"])
            )
            r.take(m, ClaimKind.MONEY, amount_minor=_minor(value), currency=currency)


def _read_percents(r: _Reader) -> None:
    for m in list(_PERCENT.finditer(r.rest())):
        value = parse_number(m.group("num"))
        if value is not None:
            r.take(m, ClaimKind.PERCENT, percent=float(value))
    for m in list(_PERCENT_WORDS.finditer(r.rest())):
        number = lex.words_to_number(m.group("words"))
        if number is not None:
            r.take(m, ClaimKind.PERCENT, percent=float(number))
    for m in list(_HALF.finditer(r.rest())):
        r.take(m, ClaimKind.PERCENT, percent=50.0)


def _read_dates(r: _Reader) -> None:
    for m in list(_ISO.finditer(r.rest())):
        r.take(m, ClaimKind.DATE, day=_safe_date(int(m[1]), int(m[2]), int(m[3])))
    for m in list(_NUMERIC.finditer(r.rest())):
        a, b, year = int(m[1]), int(m[3]), int(m[4])
        month_first = m[2] == "/" and b > 12
        day = _safe_date(year, a, b) if month_first else _safe_date(year, b, a)
        r.take(m, ClaimKind.DATE, day=day)
    month_day, day_month, weekdays = _date_patterns()
    for pattern in (month_day, day_month):
        for m in list(pattern.finditer(r.rest())):
            month = lex.month_numbers()[m.group("mon").lower().rstrip(".")]
            d = int(m.group("d"))
            day = (
                _safe_date(int(m.group("y")), month, d)
                if m.group("y")
                else _nearest_year(month, d, r.today)
            )
            r.take(m, ClaimKind.DATE, day=day)
    dated = {c.sentence for c in r.claims if c.kind is ClaimKind.DATE}
    offset = (lambda n: r.today + timedelta(days=n)) if r.today else (lambda n: None)
    for m in list(_RELATIVE.finditer(r.rest())):
        shift = lex.RELATIVE_DAYS[m.group(0).lower()]
        r.take(m, ClaimKind.DATE, day=offset(shift), relative=True)
    for m in list(lex.IN_DAYS.finditer(r.rest())):
        exact = m.group("m") is None and m.group("unit").lower()[0] in "dt"
        r.take(m, ClaimKind.DATE, day=offset(int(m.group("n"))) if exact else None, relative=True)
    for m in list(lex.VAGUE_TIMES.finditer(r.rest())):
        r.take(m, ClaimKind.DATE, day=None, relative=True)
    for m in list(weekdays.finditer(r.rest())):
        if r.sentence_of(m.start()) in dated:
            continue
        weekday = lex.weekday_numbers()[m.group(0).lower()]
        day = None
        if r.today is not None:
            day = r.today + timedelta(days=(weekday - r.today.weekday()) % 7)
        r.take(m, ClaimKind.DATE, day=day, relative=True)


def _read_actions(r: _Reader) -> None:
    for index, start, sentence in r.sentences():
        found: dict[tuple[Action, Tense], Claim] = {}
        for action, mention, done in lex.ACTION_WORDS:
            for m in mention.finditer(sentence):
                before = sentence[: m.start()]
                breaks = [b.end() for b in _CLAUSE_BREAK.finditer(before)]
                clause = before[breaks[-1] if breaks else 0 :]
                if lex.NEGATION.search(clause) or lex.NOT_A_PROMISE.search(clause):
                    continue
                if lex.FUTURE.search(clause):
                    tense = Tense.PROMISED
                elif done.search(m.group(0)) or lex.PERFECT.search(clause):
                    tense = Tense.DONE
                else:
                    tense = Tense.PROMISED
                promised_ship = action is Action.SHIP and tense is Tense.PROMISED
                if promised_ship and lex.CONDITIONAL.search(sentence):
                    continue
                if (
                    action is Action.SHIP
                    and lex.SEND_VERBS.match(m.group(0))
                    and lex.MESSAGE_WORDS.search(sentence)
                ):
                    continue  # "le enviaremos un correo": a message, not a parcel
                found.setdefault(
                    (action, tense),
                    Claim(
                        kind=ClaimKind.ACTION,
                        text=m.group(0),
                        at=start + m.start(),
                        sentence=index,
                        action=action,
                        tense=tense,
                        whole=action in _SCOPED and _whole(action, sentence, m),
                    ),
                )
        if not found:
            implied = _implied_delivery(r, index, start, sentence)
            if implied is not None:
                found[(Action.DELIVER, Tense.PROMISED)] = implied
        actions = {a for a, _ in found}
        for (action, _tense), claim in found.items():
            if action is Action.SHIP and actions & _STATUS_ONLY:
                continue  # "a refund of $5 is on its way": the refund travels, not a parcel
            r.claims.append(claim)


def _implied_delivery(r: _Reader, index: int, start: int, sentence: str) -> Claim | None:
    """A parcel and a day still ahead in one sentence, and no verb read: a delivery promise."""
    parcel = lex.PARCEL_WORDS.search(sentence)
    if parcel is None or lex.MESSAGE_WORDS.search(sentence):
        return None
    ahead = [
        c
        for c in r.claims
        if c.kind is ClaimKind.DATE
        and c.sentence == index
        and c.relative
        and (c.day is None or r.today is None or c.day >= r.today)
    ]
    if not ahead:
        return None
    return Claim(
        kind=ClaimKind.ACTION,
        text=parcel.group(0),
        at=start + parcel.start(),
        sentence=index,
        action=Action.DELIVER,
        tense=Tense.PROMISED,
    )


def _whole(action: Action, sentence: str, m: re.Match[str]) -> bool:
    """Said of the whole order: "in full", "whole order", or "cancelled order #1538"."""
    if lex.WHOLE_WORDS.search(sentence):
        return True
    if action is not Action.CANCEL or not _CANCEL_VERB.match(m.group(0)):
        return False
    near = sentence[max(0, m.start() - 30) : m.end() + 30]
    names_order = re.search(rf"\b(?:{lex.ORDER_WORDS})\b", near, re.IGNORECASE)
    return (
        bool(names_order)
        and not lex.ITEM_WORDS.search(sentence)
        and not lex.PART_OF_ORDER.search(sentence)
    )
