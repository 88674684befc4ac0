"""The pattern checker the claim checker replaced, kept as its baseline.

Every amount, date, order number, tracking number, SKU, email and phone number in a draft
must be one of the case's own, found by regular expressions; a refund or credit named with
no such action is refused. It misses what patterns cannot read (money in words, "25
dollars", percentages, "we have cancelled", "ships today"): ``orderops eval redteam``
measures it beside the claim checker on the same drafts. The regular expressions for
links, emails, phones, instructions and identifiers are shared with the claim reader.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import date

from orderops.recommend.claims import CheckResult, KnownFacts, Problem
from orderops.recommend.formatting import MONTHS_EN

_AMOUNT = re.compile(
    r"(?P<pre>US\$|[$€£]|\b(?:USD|EUR|GBP)\b)\s?(?P<a>\d[\d.,]*\d|\d)"
    r"|(?P<b>\d[\d.,]*\d|\d)\s?(?P<post>US\$|[$€£]|\b(?:USD|EUR|GBP)\b)"
)
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})-(\d{2})\b")
_NUMERIC_DATE = re.compile(r"\b(\d{1,2})[./](\d{1,2})[./](\d{4})\b")
_EN_DATE = re.compile(r"\b(" + "|".join(MONTHS_EN) + r")\s+(\d{1,2}),?\s+(\d{4})\b")
_DAY_MONTH_DATE = re.compile(r"\b(\d{1,2})\.?\s+(" + "|".join(MONTHS_EN) + r")\s+(\d{4})\b")
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
PHONE = re.compile(r"(?<![\w-])\+?\d[\d\s().-]{7,}\d(?![\w-])")
URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)
IDENTIFIER = re.compile(r"#?[A-Za-z0-9][A-Za-z0-9_-]*\d[A-Za-z0-9_-]*|#[A-Za-z0-9_-]+")
INSTRUCTIONS = re.compile(
    r"\b(?:ignor\w*|disregard\w*|forget)\s+(?:\w+\s+){0,3}"
    r"(?:rules|instructions|policy|policies|reglas|instrucciones|regras|instruções"
    r"|regeln|anweisungen)"
    r"|system prompt|you are now|as an ai\b|developer mode|jailbreak",
    re.IGNORECASE,
)
_REFUND_WORDS = re.compile(r"refund|reembols|estorno|rückerstatt|erstatte", re.IGNORECASE)
_CREDIT_WORDS = re.compile(r"store credit|crédito|guthaben|gutschrift", re.IGNORECASE)


def parse_amount(text: str) -> int | None:
    """``1,234.56``, ``1.234,56``, ``12,34``, ``12.34``, ``12`` -> minor units."""
    digits = text.strip()
    last_sep = max(digits.rfind("."), digits.rfind(","))
    if last_sep >= 0 and len(digits) - last_sep - 1 == 2:
        whole = re.sub(r"[.,]", "", digits[:last_sep])
        cents = digits[last_sep + 1 :]
    else:
        whole, cents = re.sub(r"[.,]", "", digits), "00"
    if not whole.isdigit() or not cents.isdigit():
        return None
    return int(whole) * 100 + int(cents)


def _month(name: str) -> int:
    return MONTHS_EN.index(name) + 1


def _dates(text: str) -> list[tuple[str, date | None]]:
    found: list[tuple[str, date | None]] = []

    def safe(y: int, m: int, d: int) -> date | None:
        try:
            return date(y, m, d)
        except ValueError:
            return None

    for m in _ISO_DATE.finditer(text):
        found.append((m.group(0), safe(int(m.group(1)), int(m.group(2)), int(m.group(3)))))
    for m in _NUMERIC_DATE.finditer(text):
        found.append((m.group(0), safe(int(m.group(3)), int(m.group(2)), int(m.group(1)))))
    for m in _EN_DATE.finditer(text):
        found.append((m.group(0), safe(int(m.group(3)), _month(m.group(1)), int(m.group(2)))))
    for m in _DAY_MONTH_DATE.finditer(text):
        found.append((m.group(0), safe(int(m.group(3)), _month(m.group(2)), int(m.group(1)))))
    return found


def _blank(text: str, spans: Iterable[tuple[int, int]]) -> str:
    chars = list(text)
    for start, end in spans:
        for i in range(start, end):
            chars[i] = " "
    return "".join(chars)


def digits(value: str) -> str:
    return re.sub(r"\D", "", value)


def check_text(text: str, known: KnownFacts) -> CheckResult:
    """Every problem in ``text``; an empty result means every fact in it is the case's."""
    problems: list[Problem] = []
    spans: list[tuple[int, int]] = []
    for m in INSTRUCTIONS.finditer(text):
        problems.append(
            Problem("instruction", m.group(0), f"instruction-like text: {m.group(0)!r}")
        )
    for m in URL.finditer(text):
        spans.append(m.span())
        problems.append(Problem("link", m.group(0), f"links are not allowed: {m.group(0)}"))
    for m in EMAIL.finditer(text):
        spans.append(m.span())
        if m.group(0).lower() not in known.emails:
            problems.append(
                Problem("email", m.group(0), f"email {m.group(0)} is not this customer's")
            )
    for m in _AMOUNT.finditer(text):
        spans.append(m.span())
        raw = m.group("a") or m.group("b") or ""
        minor = parse_amount(raw)
        if minor is None or minor not in known.amounts_minor:
            problems.append(
                Problem("amount", m.group(0), f"amount {m.group(0)} is not one of the case's")
            )
            continue
        problem = _purpose_problem(_sentence(text, m.start()), m.group(0), minor, known)
        if problem is not None:
            problems.append(problem)
    date_text = _blank(text, spans)
    for raw, value in _dates(date_text):
        start = date_text.find(raw)
        spans.append((start, start + len(raw)))
        if value is None or value not in known.dates:
            problems.append(Problem("date", raw, f"date {raw} is not one of the case's"))
    rest = _blank(text, spans)
    phones = {digits(p) for p in known.phones}
    for m in PHONE.finditer(rest):
        candidate = m.group(0)
        if len(digits(candidate)) >= 9 and not is_identifier(candidate.strip(), known):
            spans.append(m.span())
            if digits(candidate) not in phones:
                problems.append(
                    Problem(
                        "phone",
                        candidate.strip(),
                        f"phone number {candidate.strip()} is not this customer's",
                    )
                )
    rest = _blank(text, spans)
    for m in IDENTIFIER.finditer(rest):
        token = m.group(0).rstrip("-_")
        if not is_identifier(token, known) and looks_like_reference(token):
            problems.append(
                Problem(
                    kind_of(token),
                    token,
                    f"{kind_of(token).replace('_', ' ')} {token} is not this case's",
                )
            )
    if _REFUND_WORDS.search(text) and not known.promises_refund:
        problems.append(
            Problem("promise", "refund", "mentions a refund the recommendation does not give")
        )
    if _CREDIT_WORDS.search(text) and not known.promises_credit:
        problems.append(
            Problem("promise", "credit", "mentions a credit the recommendation does not give")
        )
    return CheckResult(tuple(problems))


def _sentence(text: str, at: int) -> str:
    start = max(text.rfind(".", 0, max(at - 1, 0)), text.rfind("\n", 0, at), text.rfind("!", 0, at))
    ends = [i for i in (text.find(". ", at), text.find("\n", at), text.find("!", at)) if i >= 0]
    return text[start + 1 : min(ends) if ends else len(text)]


def _purpose_problem(sentence: str, raw: str, minor: int, known: KnownFacts) -> Problem | None:
    """An amount in a sentence about a credit (or a refund) must be that credit (refund)."""
    credit = bool(_CREDIT_WORDS.search(sentence))
    refund = bool(_REFUND_WORDS.search(sentence))
    if credit and not refund and known.credit_amounts and minor not in known.credit_amounts:
        return Problem("amount", raw, f"amount {raw} is not the credit the recommendation gives")
    if refund and not credit and known.refund_amounts and minor not in known.refund_amounts:
        return Problem("amount", raw, f"amount {raw} is not the refund the recommendation gives")
    return None


def is_identifier(token: str, known: KnownFacts) -> bool:
    bare = token.lstrip("#")
    return (
        bare in known.order_ids
        or token in known.order_ids
        or bare in known.tracking_numbers
        or bare in known.skus
        or bare in known.other_ids
    )


def looks_like_reference(token: str) -> bool:
    """Digits inside a word of four or more characters: a number someone could act on."""
    bare = token.lstrip("#")
    return token.startswith("#") or (len(bare) >= 4 and any(c.isdigit() for c in bare))


def kind_of(token: str) -> str:
    bare = token.lstrip("#")
    if token.startswith("#") or bare.isdigit():
        return "order_number"
    if re.fullmatch(r"[A-Z]{2,6}-\d+[A-Z0-9-]*", bare):
        return "sku"
    return "tracking_number"
