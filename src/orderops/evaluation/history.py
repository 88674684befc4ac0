"""Reading a recorded store: what its providers delivered, and what was truly wrong.

The folder is the simulator's output (``orderops sim --format webhooks``) or one written
by hand: ``deliveries.jsonl``, ``labels.jsonl``, optionally ``policy.yaml`` and
``store.json``. Every problem in a file is reported with its line before anything is
posted, so a broken history never half-runs; nothing in a readable file is dropped:
deliveries out of ``deliver_at`` order are put back in order (and counted), and a label
repeated for the same order and type keeps its earliest time (and is counted), because
the score matches one case to one (type, order) pair.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

from orderops.domain.policy import FulfillmentPolicy, InvalidPolicy
from orderops.evaluation.signing import SIGNATURE_HEADERS, SIGNERS
from orderops.ingest.policy_file import read_policy

DELIVERIES = "deliveries.jsonl"
LABELS = "labels.jsonl"
POLICY = "policy.yaml"
STORE = "store.json"
MAX_PROBLEMS = 20
"""Problems listed in one error; the rest are counted, not printed."""

T = TypeVar("T")


class HistoryError(ValueError):
    """A history file that cannot be replayed as written; ``problems`` names each line."""

    def __init__(self, path: Path, problems: list[str]) -> None:
        self.path = path
        self.problems = problems
        shown = problems[:MAX_PROBLEMS]
        more = len(problems) - len(shown)
        tail = f"\n  ... and {more} more" if more > 0 else ""
        super().__init__(f"{path}:\n  " + "\n  ".join(shown) + tail)


@dataclass(frozen=True)
class Delivery:
    """One HTTP delivery as the provider would make it, unsigned (signing is at POST time)."""

    seq: int
    deliver_at: datetime
    provider: str
    headers: Mapping[str, str]
    body: Any
    redelivery_of: int | None = None

    def payload(self) -> bytes:
        """The bytes posted and signed: compact JSON, as Shopify and Stripe send it."""
        return json.dumps(self.body, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


@dataclass(frozen=True)
class Label:
    """An exception that was truly there: of ``type``, on ``order_ref``, true from ``at``."""

    type: str
    order_ref: str
    at: datetime
    order_name: str | None = None
    evidence: str | None = None


@dataclass(frozen=True)
class StoreHistory:
    folder: Path
    deliveries: tuple[Delivery, ...]
    labels: tuple[Label, ...]
    policy: FulfillmentPolicy | None = None
    store: Mapping[str, Any] = field(default_factory=dict)
    reordered: int = 0
    """Deliveries found before an earlier ``deliver_at`` in the file (posted in time order)."""
    merged_labels: int = 0
    """Labels repeating an earlier (type, order) pair (the earliest time kept)."""

    @property
    def window_start(self) -> datetime | None:
        return _store_time(self.store, "start")

    @property
    def window_end(self) -> datetime | None:
        return _store_time(self.store, "end")


def read_history(folder: Path) -> StoreHistory:
    """Read and check a recorded store; raise ``HistoryError`` naming every bad line."""
    if not folder.is_dir():
        raise HistoryError(folder, ["not a folder"])
    deliveries, reordered = read_deliveries(folder / DELIVERIES)
    labels, merged = read_labels(folder / LABELS)
    return StoreHistory(
        folder=folder,
        deliveries=deliveries,
        labels=labels,
        policy=read_store_policy(folder / POLICY),
        store=read_store(folder / STORE),
        reordered=reordered,
        merged_labels=merged,
    )


def read_deliveries(path: Path) -> tuple[tuple[Delivery, ...], int]:
    """The deliveries in ``deliver_at`` order (ties by ``seq``) and how many were out of it."""
    problems: list[str] = []
    rows: list[Delivery] = []
    first_line: dict[int, int] = {}
    for number, record in _records(path, problems):
        delivery = _collect(problems, number, record, _delivery)
        if delivery is None:
            continue
        if delivery.seq in first_line:
            problems.append(
                f"line {number}: seq {delivery.seq} repeats line {first_line[delivery.seq]} "
                "(a redelivery has its own seq and names the first in redelivery_of)"
            )
            continue
        first_line[delivery.seq] = number
        rows.append(delivery)
    if not rows and not problems:
        problems.append("no deliveries: nothing to replay")
    if problems:
        raise HistoryError(path, problems)
    ordered = sorted(rows, key=lambda d: (d.deliver_at, d.seq))
    latest: datetime | None = None
    reordered = 0
    for delivery in rows:
        if latest is not None and delivery.deliver_at < latest:
            reordered += 1
        latest = delivery.deliver_at if latest is None else max(latest, delivery.deliver_at)
    return tuple(ordered), reordered


def read_labels(path: Path) -> tuple[tuple[Label, ...], int]:
    """The labels, one per (type, order), earliest first kept; and how many repeated one."""
    problems: list[str] = []
    kept: dict[tuple[str, str], Label] = {}
    merged = 0
    for number, record in _records(path, problems):
        label = _collect(problems, number, record, _label)
        if label is None:
            continue
        key = (label.type, label.order_ref)
        if key in kept:
            merged += 1
            if label.at >= kept[key].at:
                continue
        kept[key] = label
    if problems:
        raise HistoryError(path, problems)
    return tuple(sorted(kept.values(), key=lambda x: (x.at, x.type, x.order_ref))), merged


def read_store_policy(path: Path) -> FulfillmentPolicy | None:
    """The store's fulfillment policy, checked as ``orderops policy validate`` checks it."""
    if not path.exists():
        return None
    try:
        return read_policy(path.read_text("utf-8"))
    except InvalidPolicy as exc:
        raise HistoryError(path, exc.problems) from exc


def read_store(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text("utf-8"))
    except (ValueError, RecursionError) as exc:
        raise HistoryError(path, [f"not JSON: {exc}"]) from exc
    if not isinstance(document, dict):
        raise HistoryError(path, ["must be a JSON object"])
    for edge in ("start", "end"):
        try:
            _store_time(document, edge)
        except ValueError as exc:
            raise HistoryError(path, [str(exc)]) from exc
    return document


def _records(path: Path, problems: list[str]) -> Iterator[tuple[int, Mapping[str, Any]]]:
    if not path.exists():
        raise HistoryError(path, ["missing"])
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except (ValueError, RecursionError) as exc:
                problems.append(f"line {number}: not JSON ({exc})")
                continue
            if not isinstance(record, dict):
                problems.append(f"line {number}: must be a JSON object")
                continue
            yield number, record


def _collect(
    problems: list[str], number: int, record: Mapping[str, Any], read: Callable[..., T]
) -> T | None:
    try:
        return read(record)
    except ValueError as exc:
        problems.append(f"line {number}: {exc}")
        return None


def _delivery(record: Mapping[str, Any]) -> Delivery:
    seq = record.get("seq")
    if not _is_int(seq):
        raise ValueError(f"seq must be an integer, not {seq!r}")
    provider = record.get("provider")
    if provider not in SIGNERS:
        raise ValueError(f"provider {provider!r} is not one of {sorted(SIGNERS)}")
    if "body" not in record:
        raise ValueError("body is missing")
    headers = record.get("headers") or {}
    if not isinstance(headers, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
    ):
        raise ValueError("headers must be an object of strings")
    signed = sorted(name for name in headers if name.lower() in SIGNATURE_HEADERS)
    if signed:
        raise ValueError(f"headers carry {signed}: signatures are made when posting, not stored")
    again = record.get("redelivery_of")
    if again is not None and not _is_int(again):
        raise ValueError(f"redelivery_of must be an integer or null, not {again!r}")
    return Delivery(
        seq=int(seq),  # type: ignore[arg-type]
        deliver_at=_time(record.get("deliver_at"), "deliver_at"),
        provider=str(provider),
        headers=dict(headers),
        body=record["body"],
        redelivery_of=again,
    )


def _label(record: Mapping[str, Any]) -> Label:
    kind, order_ref = record.get("type"), record.get("order_ref")
    if not isinstance(kind, str) or not kind.strip():
        raise ValueError(f"type must be a non-empty string, not {kind!r}")
    if not isinstance(order_ref, str) or not order_ref.strip():
        raise ValueError(f"order_ref must be a non-empty string, not {order_ref!r}")
    name, evidence = record.get("order_name"), record.get("evidence")
    return Label(
        type=kind.strip(),
        order_ref=order_ref.strip(),
        at=_time(record.get("at"), "at"),
        order_name=name if isinstance(name, str) else None,
        evidence=evidence if isinstance(evidence, str) else None,
    )


def _time(value: object, name: str) -> datetime:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be an ISO-8601 time, not {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise ValueError(f"{name} {value!r} is not an ISO-8601 time") from exc
    if parsed.tzinfo is None:
        raise ValueError(f"{name} {value!r} has no time zone")
    return parsed


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _store_time(store: Mapping[str, Any], edge: str) -> datetime | None:
    """``window_<edge>`` or ``window: {<edge>: ...}``: the window the labels cover."""
    window = store.get("window")
    value = store.get(f"window_{edge}")
    if value is None and isinstance(window, dict):
        value = window.get(edge)
    return None if value is None else _time(value, f"window {edge}")
