"""Why an approval or rejection was refused, as named errors the API maps to statuses.

403 when the person may never take this decision (their own proposal, a role the policy
does not accept); 409 when the action's state forbids it now (already decided, expired).
"""

from __future__ import annotations

from orderops.domain.errors import Forbidden, IllegalTransition


class SelfApproval(Forbidden):
    """Maker-checker: whoever proposed an action can never approve it."""

    code = "self-approval"


class ApproverNotQualified(Forbidden):
    """The policy needs an approver class this person's role does not cover."""

    code = "approver-not-qualified"


class AlreadyDecided(IllegalTransition):
    """This person already decided on this action; a second approval never counts twice."""

    code = "already-decided"


class ApprovalExpired(IllegalTransition):
    """The approval request passed its expiry; propose the action again to decide it."""

    code = "approval-expired"


class EffectAlreadyQueued(IllegalTransition):
    """An effect with the action's idempotency key is already queued: it was decided before."""

    code = "duplicate-effect"
