"""A file to import is read as a stream of units: line by line, an order as soon as its last
row has gone by, with the same units (and row numbers) as reading the whole file."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import astuple
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from orderops.ingest.csv_cells import FeedError, Row
from orderops.ingest.csv_feeds import FeedItem, FeedKind, FeedOptions, RowIssue, iter_feed, map_feed
from orderops.ingest.import_formats import ImportFormat
from orderops.ingest.import_units import MAX_LINE_BYTES, Mapped, Unit, read_units

UCI = Path(__file__).parents[1] / "fixtures" / "datasets" / "uci_online_retail"
UCI_SAMPLE = UCI / "online_retail_sample.csv"
HEADER = "order_ref,placed_at,currency,sku,quantity,unit_price\n"


def units(fmt: ImportFormat, data: bytes, **options: object) -> list[Mapped]:
    return list(read_units(fmt, io.BytesIO(data), FeedOptions(**options)))  # type: ignore[arg-type]


def order_row(ref: str, sku: str, quantity: int = 1) -> str:
    return f"{ref},2026-11-18T09:00:00Z,EUR,{sku},{quantity},9.90\n"


def test_jsonl_lines_keep_their_file_numbers_across_blank_lines_bom_and_crlf() -> None:
    first, second = {"id": "a"}, {"id": "b", "note": "one\u2028line"}
    data = b"\xef\xbb\xbf" + json.dumps(first).encode() + b"\r\n\r\n"
    data += json.dumps(second, ensure_ascii=False).encode() + b"\n"

    read = units(ImportFormat.JSONL, data)

    assert read == [Unit((1,), items=(first,)), Unit((3,), items=(second,))]


def test_a_jsonl_line_that_is_not_json_is_refused_as_it_came() -> None:
    read = units(ImportFormat.JSONL, b'{"id": "a"}\n{"id": \n')

    refused = read[1]
    assert isinstance(refused, Unit)
    assert refused.rows == (2,)
    assert refused.refused is not None
    assert (refused.refused.code, refused.refused.body) == ("malformed_json", b'{"id": ')


def test_an_over_long_line_is_skipped_without_being_held_and_the_next_line_is_read() -> None:
    data = b'{"pad": "' + b"x" * MAX_LINE_BYTES + b'"}\n{"id": "after"}\n'

    read = units(ImportFormat.JSONL, data)

    too_long, after = read
    assert isinstance(too_long, Unit)
    assert too_long.refused is not None
    assert too_long.refused.body_bytes == len(data) - len(b'{"id": "after"}\n')
    assert len(too_long.refused.body) < MAX_LINE_BYTES // 10
    assert after == Unit((2,), items=({"id": "after"},))


def test_an_order_comes_out_once_its_last_row_is_read_wherever_its_rows_are() -> None:
    text = HEADER + order_row("A", "s1") + order_row("B", "s2") + order_row("A", "s3")
    text += order_row("C", "s4")

    read = units(ImportFormat.CSV_ORDERS, text.encode())

    orders = [(u.rows, u.items[0]["subject"]) for u in read if isinstance(u, Unit)]
    assert orders == [((3,), "B"), ((2, 4), "A"), ((5,), "C")]


def test_with_order_ends_an_order_comes_out_before_the_next_row_is_read() -> None:
    same = {"placed_at": "2026-11-18T09:00:00Z", "currency": "EUR", "unit_price": "9.90"}
    rows: list[Row] = [
        (2, {"order_ref": "A", "sku": "s1", "quantity": "1", **same}),
        (3, {"order_ref": "A", "sku": "s2", "quantity": "2", **same}),
        (4, {"order_ref": "B", "sku": "s3", "quantity": "1", **same}),
    ]
    consumed: list[int] = []

    def reading() -> Iterator[Row]:
        for row in rows:
            consumed.append(row[0])
            yield row

    header = HEADER.strip().split(",")
    stream = iter_feed(
        FeedKind.ORDERS, header, reading(), FeedOptions(), order_ends={"A": 3, "B": 4}
    )

    first = next(stream)
    assert isinstance(first, FeedItem)
    assert (first.rows, consumed) == ((2, 3), [2, 3])


def test_streaming_the_uci_sample_gives_the_units_and_issues_of_the_whole_file() -> None:
    options = FeedOptions(timezone=ZoneInfo("Europe/London"), currency="GBP")
    whole = map_feed(FeedKind.ORDERS, UCI_SAMPLE.read_text("utf-8"), options)

    with UCI_SAMPLE.open("rb") as handle:
        streamed = list(read_units(ImportFormat.CSV_ORDERS, handle, options))

    items = sorted((u.rows, json.dumps(u.items[0])) for u in streamed if isinstance(u, Unit))
    issues = sorted(astuple(issue) for issue in streamed if isinstance(issue, RowIssue))
    assert items == sorted((i.rows, json.dumps(i.envelope)) for i in whole.items)
    assert issues == sorted(astuple(issue) for issue in whole.issues)
    assert len(items) > 10


def test_csv_problems_of_the_file_itself_name_the_line() -> None:
    with pytest.raises(FeedError, match="line 3 is not UTF-8"):
        units(ImportFormat.CSV_INVENTORY, b"sku,location,available,as_of\nA,B,1,x\n\xff\n")
    with pytest.raises(FeedError, match="missing column"):
        units(ImportFormat.CSV_INVENTORY, b"sku,location\nA,B\n")
