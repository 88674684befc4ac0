"""A process-wide signal that the inbox has new rows, so an in-process worker starts now.

Accepting only stores (the request answers before anything is processed), so the time
from "accepted" to "case visible" is the worker's wait plus its work. A worker in the
same process (``orderops serve``, the demo) wakes on this signal at once; workers in
other processes poll the inbox at ``ORDEROPS_INBOX_POLL_SECONDS``. The signal carries no
data: the inbox rows are the truth, and a missed or spurious wake-up costs one poll.
"""

from __future__ import annotations

import threading

_arrived = threading.Event()


def announce() -> None:
    """Called after a commit that stored new inbox rows."""
    _arrived.set()


def wait(timeout: float) -> bool:
    """Block until something arrived or ``timeout`` passed; clears the signal."""
    arrived = _arrived.wait(timeout)
    _arrived.clear()
    return arrived
