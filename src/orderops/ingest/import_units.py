"""A file to import, read as a stream of units, never held whole however large it is.

A unit is what an import commits and counts (``import_runs.rows_done``): one line of a
JSONL or recorded-webhooks file, one data row of an inventory or customers CSV, one order
(all its rows) of an orders CSV. Units come out in an order fixed by the file alone, so a
resumed import skips exactly the units an earlier run committed.

Lines are read one at a time under a ceiling (``MAX_LINE_BYTES``): a longer line is
refused without being held, only its head kept for the dead letter. An orders CSV is read
twice: first for the last row of each order, so that the second read emits an order as
soon as its last row has gone by and holds only the orders still open (one, for an export
sorted by order), not the file.

Recorded webhooks are mapped with the provider adapters *without* a signature check: the
file is trusted operator input (recorded deliveries), not a request from outside.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, Any, NamedTuple

from orderops.domain.errors import InvalidEvent, PayloadTooLarge
from orderops.ingest import safe_json
from orderops.ingest.adapters import ADAPTERS
from orderops.ingest.bulk_intake import Refusal
from orderops.ingest.csv_cells import FeedError, stream_csv
from orderops.ingest.csv_feeds import FeedItem, FeedKind, FeedOptions, RowIssue, iter_feed
from orderops.ingest.csv_feeds import order_ends as read_order_ends
from orderops.ingest.import_formats import ImportFormat

MAX_LINE_BYTES = 8 * 1024 * 1024
"""Twice the largest request body the API takes, since a recorded delivery escapes its
body inside the line; an event itself must still fit ``MAX_EVENT_BYTES``."""

REFUSED_HEAD_BYTES = 64 * 1024
"""How much of an over-long line its dead letter keeps: enough to tell what it was."""

_BOM = b"\xef\xbb\xbf"


_CSV_KINDS = {
    ImportFormat.CSV_ORDERS: FeedKind.ORDERS,
    ImportFormat.CSV_INVENTORY: FeedKind.INVENTORY,
    ImportFormat.CSV_CUSTOMERS: FeedKind.CUSTOMERS,
}


@dataclass(frozen=True)
class Unit:
    rows: tuple[int, ...]
    """The file rows (lines, CSV rows) it came from, for the report."""
    items: tuple[Any, ...] = ()
    """Decoded events for the intake's checks, in file order."""
    refused: Refusal | None = None
    """Set instead of ``items`` when the input could not even be decoded."""


Mapped = Unit | RowIssue
"""A unit, or a row reported without becoming one (a CSV row or delivery that maps to
no event)."""


class Line(NamedTuple):
    number: int
    data: bytes
    """The line with its line break; only the head of an over-long line."""
    size: int
    """Bytes of the whole line as it is in the file."""

    @property
    def too_long(self) -> bool:
        return self.size > len(self.data)


class FileLines:
    """A binary file's lines numbered from 1, with the bytes read so far for progress."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.bytes_read = 0

    def __iter__(self) -> Iterator[Line]:
        number = 0
        while chunk := self._handle.readline(MAX_LINE_BYTES + 1):
            number += 1
            size, data = len(chunk), chunk
            if size > MAX_LINE_BYTES and not chunk.endswith(b"\n"):
                data = chunk[:REFUSED_HEAD_BYTES]
                while chunk and not chunk.endswith(b"\n"):
                    chunk = self._handle.readline(1024 * 1024)
                    size += len(chunk)
            self.bytes_read += size
            if number == 1 and data.startswith(_BOM):
                data, size = data[len(_BOM) :], size - len(_BOM)
            yield Line(number, data, size)


class UnitStream:
    """Iterate for the units; ``bytes_read`` says how far into the file they have got."""

    def __init__(self, lines: FileLines, units: Iterator[Mapped]) -> None:
        self._lines = lines
        self._units = units

    @property
    def bytes_read(self) -> int:
        return self._lines.bytes_read

    def __iter__(self) -> Iterator[Mapped]:
        return self._units


def read_units(fmt: ImportFormat, handle: IO[bytes], options: FeedOptions) -> UnitStream:
    """Start reading ``handle``; a CSV whose header cannot be used raises ``FeedError`` now."""
    if fmt is ImportFormat.JSONL:
        lines = FileLines(handle)
        return UnitStream(lines, _jsonl(lines))
    if fmt is ImportFormat.WEBHOOKS:
        lines = FileLines(handle)
        return UnitStream(lines, _webhooks(lines))
    kind = _CSV_KINDS[fmt]
    ends = None
    if kind is FeedKind.ORDERS:
        ends = read_order_ends(*stream_csv(_text(FileLines(handle))))
        handle.seek(0)
    lines = FileLines(handle)
    header, rows = stream_csv(_text(lines))
    mapped = iter_feed(kind, header, rows, options, order_ends=ends)
    return UnitStream(lines, (_csv_unit(m) for m in mapped))


def _jsonl(lines: FileLines) -> Iterator[Mapped]:
    """Every line is meant as an event: one that cannot be decoded is a dead letter."""
    for line in lines:
        if not line.data.strip():
            continue
        if line.too_long:
            yield Unit((line.number,), refused=_too_long(line))
            continue
        try:
            value = safe_json.loads(line.data)
        except safe_json.UnsafeJson as exc:
            body = line.data.rstrip(b"\r\n")
            refused = Refusal(
                code=exc.reason_code, reason=exc.message, body=body, body_bytes=len(body)
            )
            yield Unit((line.number,), refused=refused)
            continue
        yield Unit((line.number,), items=(value,))


def _webhooks(lines: FileLines) -> Iterator[Mapped]:
    for line in lines:
        if not line.data.strip():
            continue
        try:
            if line.too_long:
                raise PayloadTooLarge(_too_long(line).reason)
            envelopes = _delivery_events(line.data)
        except InvalidEvent as exc:
            yield RowIssue(line.number, exc.message)
            continue
        if not envelopes:
            yield RowIssue(line.number, "skipped: maps to no canonical event", True)
            continue
        yield Unit((line.number,), items=tuple(envelopes))


def _delivery_events(line: bytes) -> list[dict[str, Any]]:
    try:
        delivery = safe_json.loads(line)
    except safe_json.UnsafeJson as exc:
        raise InvalidEvent(f"not JSON we can hold: {exc.message}") from exc
    if not isinstance(delivery, dict):
        raise InvalidEvent("a recorded delivery must be a JSON object")
    source, headers, body = delivery.get("source"), delivery.get("headers"), delivery.get("body")
    if source not in ADAPTERS:
        raise InvalidEvent(f"source: {source!r} is not one of {', '.join(sorted(ADAPTERS))}")
    if not isinstance(headers, dict) or not isinstance(body, str):
        raise InvalidEvent("a recorded delivery needs headers (an object) and body (a string)")
    return ADAPTERS[source].to_events(
        headers={str(k): str(v) for k, v in headers.items()}, body=body.encode("utf-8")
    )


def _too_long(line: Line) -> Refusal:
    return Refusal(
        code=PayloadTooLarge.code,
        reason=f"line of {line.size} bytes exceeds the {MAX_LINE_BYTES} byte limit",
        body=line.data,
        body_bytes=line.size,
    )


def _text(lines: FileLines) -> Iterator[str]:
    """CSV lines as text, line breaks kept (a quoted cell may span lines)."""
    for line in lines:
        if line.too_long:
            raise FeedError(
                f"line {line.number} is {line.size} bytes long; a CSV line over "
                f"{MAX_LINE_BYTES} bytes is not an export this import reads"
            )
        try:
            yield line.data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise FeedError(f"line {line.number} is not UTF-8: {exc.reason}") from exc


def _csv_unit(mapped: FeedItem | RowIssue) -> Mapped:
    if isinstance(mapped, RowIssue):
        return mapped
    return Unit(mapped.rows, items=(mapped.envelope,))
