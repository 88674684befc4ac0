"""The fact checker every draft passes, whoever wrote it: a template, a model or a person.

A draft is read into claims (``claim_parsing``: amounts in any notation, currency or in
words, percentages, days, order and tracking numbers, SKUs, and the actions it says were
or will be taken) and each claim is held against the case (``claim_checks``): its facts
and the actions approved for it. Anything unsupported blocks the draft, and each problem
names the claim so the author can fix that line. Links, instruction-like text and other
customers' emails or phones are refused as before.

The regular-expression checker this replaced is kept as ``claim_patterns.check_text``,
the baseline ``orderops eval redteam`` measures beside this one.
"""

from __future__ import annotations

from orderops.recommend.claim_checks import check_claims
from orderops.recommend.claim_parsing import read_claims
from orderops.recommend.claim_patterns import parse_amount
from orderops.recommend.claims import CheckResult, KnownFacts, Problem

__all__ = ["CheckResult", "KnownFacts", "Problem", "check_text", "parse_amount"]


def check_text(text: str, known: KnownFacts) -> CheckResult:
    """Every problem in ``text``; an empty result means every claim in it is backed."""
    return CheckResult(check_claims(read_claims(text, today=known.today), known))
