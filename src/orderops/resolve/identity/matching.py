"""Deciding whether two customer records are one person, and saying why.

Two kinds of evidence:

* **Exact keys** link on their own: the same normalised mailbox, or the same provider
  customer id. Nobody else reads your mail or logs into your account.
* **Scored features** add up, each with a weight that says how much it is worth (in the
  spirit of Fellegi-Sunter log-likelihood weights, set by hand and tested by tables):
  phone, name, address and email local part. A pair is the same person when the sum
  reaches ``MatchPolicy.threshold``. A shared phone alone cannot get there, because
  households share phones and addresses; the name has to agree as well.

Every decision carries its contributions, so a reviewer sees "phone same +4, name typo
+3.5, address same +3 = 10.5 >= 8" rather than a bare number.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from orderops.resolve.identity.normalise import (
    normalise_email,
    normalise_line1,
    normalise_name,
    normalise_phone,
    normalise_postal_code,
)


@dataclass(frozen=True)
class CustomerRecord:
    """One customer row as matching sees it: normalised, nothing else."""

    record_id: str
    email: str | None = None
    phone: str | None = None
    name: str | None = None
    line1: str | None = None
    postal_code: str | None = None
    provider_ids: frozenset[tuple[str, str]] = frozenset()

    @property
    def email_local(self) -> str | None:
        return self.email.split("@", 1)[0] if self.email else None


def make_record(
    record_id: str,
    *,
    email: str | None = None,
    phone: str | None = None,
    name: str | None = None,
    address: Mapping[str, Any] | None = None,
    provider_ids: Iterable[tuple[str, str]] = (),
) -> CustomerRecord:
    """Normalise raw fields; a national phone number is read in the address's country."""
    address = address or {}
    country = address.get("country")
    return CustomerRecord(
        record_id=record_id,
        email=normalise_email(email),
        phone=normalise_phone(phone, country=country if isinstance(country, str) else None),
        name=normalise_name(name),
        line1=normalise_line1(address.get("line1")),
        postal_code=normalise_postal_code(address.get("postal_code")),
        provider_ids=frozenset(provider_ids),
    )


@dataclass(frozen=True)
class MatchPolicy:
    """Thresholds and weights. Similarities are rapidfuzz scores from 0 to 100."""

    threshold: float = 8.0
    name_typo_min: float = 90.0
    """token_sort_ratio at or above which two different spellings count as one name."""
    name_different_below: float = 80.0
    """Below this the names are different people; between the two, "similar" (a sibling)."""
    line1_same_min: float = 90.0
    phone_same: float = 4.0
    phone_different: float = -2.0
    name_same: float = 5.0
    name_typo: float = 3.5
    name_similar: float = -3.0
    name_different: float = -6.0
    address_same: float = 3.0
    address_other_street: float = -1.0
    address_other_postal_code: float = -3.0
    email_local_same: float = 2.0


DEFAULT_POLICY = MatchPolicy()


@dataclass(frozen=True)
class Contribution:
    feature: str
    outcome: str
    weight: float

    def __str__(self) -> str:
        return f"{self.feature} {self.outcome} {self.weight:+g}"


@dataclass(frozen=True)
class MatchResult:
    left: str
    right: str
    score: float
    contributions: tuple[Contribution, ...]
    exact_key: str | None = None
    threshold: float = field(default=DEFAULT_POLICY.threshold)

    @property
    def matched(self) -> bool:
        return self.exact_key is not None or self.score >= self.threshold

    @property
    def method(self) -> str:
        return f"exact:{self.exact_key}" if self.exact_key else "probabilistic"

    def explain(self) -> str:
        parts = ", ".join(str(c) for c in self.contributions) or "no shared evidence"
        verdict = "match" if self.matched else "no match"
        key = f"; exact key {self.exact_key}" if self.exact_key else ""
        return f"{parts} = {self.score:g} (threshold {self.threshold:g}{key}): {verdict}"


def compare(
    left: CustomerRecord, right: CustomerRecord, policy: MatchPolicy = DEFAULT_POLICY
) -> MatchResult:
    """Score one pair; features missing on either side contribute nothing."""
    contributions = [
        c
        for c in (
            _phone(left, right, policy),
            _name(left, right, policy),
            _address(left, right, policy),
            _email_local(left, right, policy),
        )
        if c is not None
    ]
    exact_key = None
    if left.email and left.email == right.email:
        exact_key = "email"
    elif left.provider_ids & right.provider_ids:
        exact_key = "provider_id"
    return MatchResult(
        left=left.record_id,
        right=right.record_id,
        score=round(sum(c.weight for c in contributions), 6),
        contributions=tuple(contributions),
        exact_key=exact_key,
        threshold=policy.threshold,
    )


def name_outcome(left: str, right: str, policy: MatchPolicy = DEFAULT_POLICY) -> str:
    """``same``, ``typo``, ``similar`` or ``different``.

    A typo is a high similarity, or the same tokens with one edit between them in all
    (``wei kim`` / ``wie kim`` scores only 71 on the ratio, yet is one transposition).
    """
    if left == right:
        return "same"
    # Sorting tokens forgives "Smith, Jane"; the plain ratio forgives a typo that moves a
    # token in the sort ("jackson" / "ajckson").
    ratio = max(fuzz.token_sort_ratio(left, right), fuzz.ratio(left, right))
    if ratio >= policy.name_typo_min or _one_edit_per_token(left, right):
        return "typo"
    if ratio >= policy.name_different_below:
        return "similar"
    return "different"


def _one_edit_per_token(left: str, right: str) -> bool:
    """One edit in total, with tokens paired as written or as sorted."""
    left_tokens, right_tokens = left.split(), right.split()
    if len(left_tokens) != len(right_tokens) or any(len(t) < 3 for t in left_tokens):
        return False
    for a, b in ((left_tokens, right_tokens), (sorted(left_tokens), sorted(right_tokens))):
        if sum(OSA.distance(x, y) for x, y in zip(a, b, strict=True)) == 1:
            return True
    return False


def _phone(left: CustomerRecord, right: CustomerRecord, policy: MatchPolicy) -> Contribution | None:
    if not (left.phone and right.phone):
        return None
    if left.phone == right.phone:
        return Contribution("phone", "same", policy.phone_same)
    return Contribution("phone", "different", policy.phone_different)


def _name(left: CustomerRecord, right: CustomerRecord, policy: MatchPolicy) -> Contribution | None:
    if not (left.name and right.name):
        return None
    outcome = name_outcome(left.name, right.name, policy)
    weights = {
        "same": policy.name_same,
        "typo": policy.name_typo,
        "similar": policy.name_similar,
        "different": policy.name_different,
    }
    return Contribution("name", outcome, weights[outcome])


def _address(
    left: CustomerRecord, right: CustomerRecord, policy: MatchPolicy
) -> Contribution | None:
    if not (left.postal_code and right.postal_code):
        return None
    if left.postal_code != right.postal_code:
        return Contribution("address", "other postal code", policy.address_other_postal_code)
    if left.line1 and right.line1:
        if fuzz.ratio(left.line1, right.line1) >= policy.line1_same_min:
            return Contribution("address", "same", policy.address_same)
        return Contribution("address", "other street", policy.address_other_street)
    return None


def _email_local(
    left: CustomerRecord, right: CustomerRecord, policy: MatchPolicy
) -> Contribution | None:
    both = left.email and right.email and left.email != right.email
    if both and left.email_local == right.email_local:
        return Contribution("email local part", "same", policy.email_local_same)
    return None


__all__ = [
    "DEFAULT_POLICY",
    "Contribution",
    "CustomerRecord",
    "MatchPolicy",
    "MatchResult",
    "compare",
    "make_record",
    "name_outcome",
]
