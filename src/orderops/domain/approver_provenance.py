"""Whose identity is it? The provenance rule behind maker-checker.

Maker-checker compares identities, so it is only as strong as the line between them. An
admin who creates a user, gives it an approving role, resets its password or issues it a
key holds a second identity of their own: approving with it is approving oneself. Within
the approval policy's provenance window, an identity that the proposer acted on like this
cannot approve the proposer's actions. Revoking a key takes power away, so it does not
count. Approvers are people: service identities and keys with no person behind them
never approve.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from orderops.domain.errors import Forbidden


class IdentityActKind(StrEnum):
    CREATED = "created"
    ROLE_CHANGED = "role_changed"
    PASSWORD_SET = "password_set"
    KEY_ISSUED = "key_issued"
    KEY_REVOKED = "key_revoked"
    KEY_ROTATED = "key_rotated"


HANDS_OVER = frozenset(
    {
        IdentityActKind.CREATED,
        IdentityActKind.ROLE_CHANGED,
        IdentityActKind.PASSWORD_SET,
        IdentityActKind.KEY_ISSUED,
    }
)
"""Acts after which the actor may hold, or have shaped, the identity's power to approve.

Rotating a key is not one of them by itself: the successor it issues is (``key_issued``,
recorded with the rotation), so the rotator is kept from approving as that identity
through the issue, and the rotation act only says which key was replaced, and by whom."""

_WORDS = {
    IdentityActKind.CREATED: "created",
    IdentityActKind.ROLE_CHANGED: "role changed",
    IdentityActKind.PASSWORD_SET: "password reset",
    IdentityActKind.KEY_ISSUED: "key issued",
    IdentityActKind.KEY_REVOKED: "key revoked",
    IdentityActKind.KEY_ROTATED: "key rotated",
}


class ApproverNotAPerson(Forbidden):
    """A service identity or a key without a person behind it tried to approve."""

    code = "approver-not-a-person"


class ApproverMadeByProposer(Forbidden):
    """The approver's identity was made or changed by the proposer within the window."""

    code = "approver-made-by-proposer"


@dataclass(frozen=True, kw_only=True)
class IdentityAct:
    act: IdentityActKind
    actor: str
    at: datetime
    user_id: str | None
    key_id: str | None = None

    def describe(self) -> str:
        """How a refusal names the act: "created by user:ab12 at 2026-11-20T12:00:00+00:00"."""
        key = f" (key {self.key_id})" if self.key_id else ""
        return f"{_WORDS[self.act]} by {self.actor} at {self.at.isoformat(timespec='seconds')}{key}"


def disqualifying(
    acts: Iterable[IdentityAct], *, proposer: str, now: datetime, window: timedelta
) -> list[IdentityAct]:
    """The proposer's acts on the approver's identity that fall within the window."""
    if window <= timedelta(0):
        return []
    since = now - window
    return sorted(
        (a for a in acts if a.actor == proposer and a.act in HANDS_OVER and a.at > since),
        key=lambda a: a.at,
    )


def refusal(
    *, approver: str, proposer: str, subject: str, acts: list[IdentityAct], window: timedelta
) -> ApproverMadeByProposer:
    """The error that says who, what, by whom and when, so the refused person can act on it."""
    days = window.days
    return ApproverMadeByProposer(
        f"{approver} cannot approve {subject}: its proposer {proposer} made this identity "
        f"theirs within the approval policy's {days}-day provenance window ("
        + "; ".join(a.describe() for a in acts)
        + "); another person must approve"
    )
