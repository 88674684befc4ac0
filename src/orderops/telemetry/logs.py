"""JSON logs through structlog, configured once when a process starts.

Every line is one JSON object with the level, the logger, a UTC timestamp, the message
(``event``), and the ids that say whose work it was: ``request_id`` in an HTTP request,
``tenant``, ``inbox_id`` or ``case_id`` where the step knows them, and the OpenTelemetry
``trace_id``/``span_id`` inside a span (tracing configured), so a log line leads to its
trace and back. The desk keeps logging with the standard library (``logging.getLogger``):
its records, SQLAlchemy's and uvicorn's are rendered by structlog's ``ProcessorFormatter``;
structlog's own loggers are rendered into the same records. Ids are bound with
``bound_ids`` (structlog's context variables), and follow a request into its threads.

Nothing secret reaches a line: a field whose name says secret (``authorization``,
``password``, ``token``, ``cookie``, ...) is replaced, bearer tokens and API key secrets
inside text are cut to their public prefix, and customers' emails and names are redacted
from every string (``orderops/redaction.py``, which also redacts the records themselves).
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from orderops import redaction
from orderops.telemetry.tracing import current_ids

SECRET_FIELD = re.compile(
    r"authorization|password|passwd|secret|token|api_?key|cookie|signature|credential",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
BEARER = re.compile(r"(?i)\b(bearer\s+)(?!oo_)\S{6,}")
"""A bearer token that is not one of our API keys (those keep their public prefix)."""
API_KEY = re.compile(r"\b(oo_[a-z]+_[A-Za-z0-9]+_)[A-Za-z0-9_-]{8,}")

_state: dict[str, bool] = {}


def scrub(text: str) -> str:
    """``text`` without bearer tokens, API key secrets, customers' emails or names."""
    text = BEARER.sub(lambda m: m[1] + REDACTED, text)
    text = API_KEY.sub(lambda m: m[1] + REDACTED, text)
    return redaction.redact(text)


def scrub_event(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    """A structlog processor: secret fields replaced, every string scrubbed."""
    if event.get("message") == event.get("event"):
        event.pop("message")  # set on the record by another handler's formatter
    for key, value in list(event.items()):
        if SECRET_FIELD.search(key):
            event[key] = REDACTED
        elif isinstance(value, str):
            event[key] = scrub(value)
    return event


def add_trace_ids(_logger: WrappedLogger, _method: str, event: EventDict) -> EventDict:
    ids = current_ids()
    if ids is not None:
        event.setdefault("trace_id", ids[0])
        event.setdefault("span_id", ids[1])
    return event


def formatter(*, json_lines: bool = True) -> structlog.stdlib.ProcessorFormatter:
    """The formatter every handler of the process uses (tests attach it to a buffer)."""
    before: list[Processor] = [
        structlog.stdlib.ExtraAdder(),
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer(default=str)
        if json_lines
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=before,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            scrub_event,
            renderer,
        ],
    )


def configure_logging(
    *, json_lines: bool = True, level: str = "INFO", stream: TextIO | None = None
) -> None:
    """Route every log record of the process through one structlog formatter to
    ``stream`` (stderr). Once per process: later calls change nothing."""
    if _state.get("configured"):
        return
    redaction.install()
    structlog.configure(
        processors=[structlog.stdlib.render_to_log_kwargs],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(json_lines=json_lines))
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers = []  # theirs would print a second, plain line
        logging.getLogger(name).propagate = True
    _state["configured"] = True


@contextmanager
def bound_ids(**ids: str | None) -> Iterator[None]:
    """Ids (``tenant``, ``case_id``, ``inbox_id``, ...) on every line logged in the block."""
    with structlog.contextvars.bound_contextvars(**{k: v for k, v in ids.items() if v is not None}):
        yield


def bound_now() -> MutableMapping[str, Any]:
    """The ids bound at this point (for the request line, logged after the block)."""
    return structlog.contextvars.get_contextvars()
