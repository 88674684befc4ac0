"""Identity errors, as subclasses of the domain's so the API maps them (404, 409)."""

from __future__ import annotations

from orderops.domain.errors import IllegalTransition, NotFound


class GoldenNotFound(NotFound):
    """No customer of this tenant is linked to the golden id (or it never existed)."""

    code = "golden-not-found"


class MergeRefused(IllegalTransition):
    """A merge that cannot be made: a golden id with itself, or an empty side."""

    code = "identity-merge-refused"


class SplitConflict(IllegalTransition):
    """The merge cannot be undone exactly: it is not a merge, was split already, or its
    customers were relinked since (undo the later change first)."""

    code = "identity-split-conflict"
