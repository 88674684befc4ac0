"""The label file `orderops models labels` reads: a helpdesk export of classified tickets.

CSV with a header naming ``ticket_ref`` and ``class`` (and optionally ``source``), the
form a helpdesk's ticket export takes once its tags are mapped to the desk's classes.
The whole file is checked before anything is stored: a bad row names its line and
nothing is labelled.
"""

from __future__ import annotations

import csv
import io

from orderops.domain.errors import InvalidEvent
from orderops.domain.ticket_classes import TicketClass
from orderops.resolve.ticket_classes import TicketLabel

MAX_BYTES = 10 * 1024 * 1024
MAX_ROWS = 100_000
CLASSES = ", ".join(str(c) for c in TicketClass)


class InvalidLabels(InvalidEvent):
    """The label file cannot be used as it is."""


def read_ticket_labels(data: bytes) -> list[TicketLabel]:
    if len(data) > MAX_BYTES:
        raise InvalidLabels(f"the label file is over {MAX_BYTES // (1024 * 1024)} MB")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidLabels(f"the label file is not UTF-8 (byte {exc.start})") from exc
    reader = csv.DictReader(io.StringIO(text))
    missing = {"ticket_ref", "class"} - set(reader.fieldnames or ())
    if missing:
        raise InvalidLabels(f"the header needs ticket_ref and class; it lacks {sorted(missing)}")
    labels: list[TicketLabel] = []
    for row in reader:
        line = reader.line_num
        if len(labels) >= MAX_ROWS:
            raise InvalidLabels(f"more than {MAX_ROWS} labels in one file")
        ref = (row.get("ticket_ref") or "").strip()
        value = (row.get("class") or "").strip().lower()
        if not ref or len(ref) > 200:
            raise InvalidLabels(f"line {line}: ticket_ref must be 1-200 characters")
        if value not in {str(c) for c in TicketClass}:
            raise InvalidLabels(f"line {line}: class {value!r} is not one of {CLASSES}")
        source = (row.get("source") or "").strip() or None
        labels.append(TicketLabel(ticket_ref=ref, ticket_class=TicketClass(value), source=source))
    if not labels:
        raise InvalidLabels("the label file has no rows")
    return labels
