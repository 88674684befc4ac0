"""Customer emails and names kept out of logs, whoever logs them.

Error logs carry exception texts and reprs: a failing event's payload, a database error
with its bound parameters. Those hold customers' emails and names, and logs travel
further than the database. ``install`` wraps the log record factory, so every record
(ours, SQLAlchemy's, uvicorn's; to every handler) has its message and its traceback
text redacted before any handler formats it. Ids stay, so an operator can still find
the row.
"""

from __future__ import annotations

import logging
import re
import threading
import traceback
from typing import Any

EMAIL = re.compile(r"[\w.+%-]+@[\w-]+(?:\.[\w-]+)+", re.UNICODE)
EMAIL_MARK = "[email redacted]"

NAME_FIELD = re.compile(
    r"""(?P<key>["']?\b(?:first_|last_|full_|display_|customer_|billing_|shipping_)?name["']?"""
    r"""\s*[:=]\s*)(?P<quote>["'])(?P<value>(?:(?!(?P=quote)).){1,200})(?P=quote)""",
    re.IGNORECASE,
)
NAME_MARK = "[name redacted]"

_installed = threading.Lock()
_state: dict[str, bool] = {}


def redact(text: str) -> str:
    """``text`` without email addresses or the values of name fields."""
    text = EMAIL.sub(EMAIL_MARK, text)
    return NAME_FIELD.sub(lambda m: f"{m['key']}{m['quote']}{NAME_MARK}{m['quote']}", text)


def redact_record(record: logging.LogRecord) -> logging.LogRecord:
    try:
        message = record.getMessage()
    except (TypeError, ValueError):  # a bad format string: the handler reports it as usual
        message = None
    if message is not None:
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        record.exc_text = redact("".join(traceback.format_exception(*record.exc_info)).rstrip())
    elif record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    return record


def install() -> None:
    """Redact every log record from now on (idempotent; safe to call per app)."""
    with _installed:
        if _state.get("installed"):
            return
        make = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            return redact_record(make(*args, **kwargs))

        logging.setLogRecordFactory(factory)
        _state["installed"] = True
