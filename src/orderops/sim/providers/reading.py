"""Reading deliveries.jsonl as a person would, before any rule is applied.

A retry is recognised by the provider's own identity (Shopify's webhook id, Stripe's
event id, else the identical body) and read once. Every record is then placed at the
time the provider says it happened, not when it arrived, and filed under what it is
about: orders, PaymentIntents and their charges, parcels by tracking code, tickets,
stock by inventory item and location. Linking records to orders is ``linking``'s job.

Imports nothing from the desk (detect, resolve, ingest, workflow): a test checks it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


class UnreadableDelivery(ValueError):
    """A line of deliveries.jsonl that is not a delivery; the message names the line."""


@dataclass(frozen=True)
class Record:
    seq: int
    provider: str
    kind: str
    at: datetime
    body: Mapping[str, Any]
    headers: Mapping[str, str]


def parse_time(value: Any) -> datetime | None:
    """ISO-8601 text (with an offset or Z) or Unix seconds; None when absent or zoneless."""
    if value is None or value == "":
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, UTC)
    text = str(value).strip().replace(" ", "T")
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo else None


def minor(amount: Any) -> int:
    """A decimal money string ("12.34") in cents."""
    whole, _, cents = str(amount).partition(".")
    sign = -1 if whole.startswith("-") else 1
    return sign * (abs(int(whole or "0")) * 100 + int((cents + "00")[:2]))


def load_lines(path: Path) -> list[dict[str, Any]]:
    lines = []
    for number, text in enumerate(path.read_text("utf-8").splitlines(), 1):
        if not text.strip():
            continue
        try:
            line = json.loads(text)
        except json.JSONDecodeError as exc:
            raise UnreadableDelivery(f"line {number}: not JSON ({exc})") from exc
        if not isinstance(line, dict) or not isinstance(line.get("body"), dict):
            raise UnreadableDelivery(f"line {number}: not a delivery object with a body")
        lines.append(line)
    return lines


def _identity(line: Mapping[str, Any]) -> str:
    provider = str(line.get("provider"))
    headers = {str(k).lower(): v for k, v in (line.get("headers") or {}).items()}
    body = line["body"]
    if provider == "shopify" and headers.get("x-shopify-webhook-id"):
        return f"shopify:{headers['x-shopify-webhook-id']}"
    if provider == "stripe" and body.get("id"):
        return f"stripe:{body['id']}"
    return f"{provider}:{json.dumps(body, sort_keys=True)}"


def records(lines: Iterable[Mapping[str, Any]], *, now: datetime) -> list[Record]:
    """Each delivery once, by provider time (then arrival); what arrived after ``now`` is unseen."""
    seen: set[str] = set()
    out: list[Record] = []
    for line in sorted(lines, key=lambda ln: int(ln.get("seq") or 0)):
        arrived = parse_time(line.get("deliver_at"))
        if arrived is None or arrived > now:
            continue
        identity = _identity(line)
        if identity in seen:
            continue
        seen.add(identity)
        headers = {str(k).lower(): str(v) for k, v in (line.get("headers") or {}).items()}
        provider = str(line.get("provider"))
        kind, at = _kind_and_time(provider, headers, line["body"])
        out.append(
            Record(int(line.get("seq") or 0), provider, kind, at or arrived, line["body"], headers)
        )
    return sorted(out, key=lambda r: (r.at, r.seq))


def _kind_and_time(
    provider: str, headers: Mapping[str, str], body: Mapping[str, Any]
) -> tuple[str, datetime | None]:
    if provider == "shopify":
        topic = headers.get("x-shopify-topic", "")
        stamp = body.get("updated_at") or body.get("processed_at") or body.get("created_at")
        return topic, parse_time(stamp) or parse_time(headers.get("x-shopify-triggered-at"))
    if provider == "stripe":
        return str(body.get("type")), parse_time(body.get("created"))
    if provider == "zendesk":
        ticket = body.get("ticket") or {}
        return "ticket", parse_time(ticket.get("updated_at"))
    scans = carrier_scans(provider, body)
    return "tracking", max((s.at for s in scans), default=None)


@dataclass(frozen=True)
class CarrierScan:
    code: str
    """The tracking code as compared: upper case, no spaces."""
    at: datetime
    phase: str
    """label, transit, out, delivered or trouble."""
    message: str


def tracking_key(code: Any) -> str:
    return "".join(str(code).split()).upper()


EASYPOST_PHASES = {
    "unknown": "label", "pre_transit": "label", "in_transit": "transit",
    "out_for_delivery": "out", "delivered": "delivered", "available_for_pickup": "transit",
    "failure": "trouble", "return_to_sender": "trouble", "error": "trouble",
}  # fmt: skip
SHIPPO_PHASES = {
    "UNKNOWN": "label", "PRE_TRANSIT": "label", "TRANSIT": "transit",
    "DELIVERED": "delivered", "RETURNED": "trouble", "FAILURE": "trouble",
}  # fmt: skip
SHIPPO_SUBSTATUS = {
    "out_for_delivery": "out", "delivery_attempted": "trouble", "notice_left": "trouble",
    "return_to_sender": "trouble", "package_returned": "trouble", "package_lost": "trouble",
}  # fmt: skip
AFTERSHIP_PHASES = {
    "Pending": "label", "InfoReceived": "label", "InTransit": "transit",
    "OutForDelivery": "out", "AvailableForPickup": "transit", "Delivered": "delivered",
    "AttemptFail": "trouble", "Exception": "trouble", "Expired": "trouble",
}  # fmt: skip
SHOPIFY_PHASES = {
    "label_printed": "label", "label_purchased": "label", "confirmed": "label",
    "carrier_picked_up": "transit", "picked_up": "transit", "in_transit": "transit",
    "out_for_delivery": "out", "ready_for_pickup": "transit", "delivered": "delivered",
    "attempted_delivery": "trouble", "failure": "trouble",
}  # fmt: skip
"""What each provider's tracking words mean, in five phases a person would use."""


def carrier_scans(provider: str, body: Mapping[str, Any]) -> list[CarrierScan]:
    """Every scan a tracking delivery reports, its history included."""
    out: list[CarrierScan] = []
    if provider == "easypost":
        tracker = body.get("result") or {}
        code = tracking_key(tracker.get("tracking_code"))
        for detail in tracker.get("tracking_details") or []:
            at = parse_time(detail.get("datetime"))
            phase = EASYPOST_PHASES.get(str(detail.get("status")))
            if at and phase:
                out.append(CarrierScan(code, at, phase, str(detail.get("message") or "")))
    elif provider == "shippo":
        track = body.get("data") or {}
        code = tracking_key(track.get("tracking_number"))
        for status in [*(track.get("tracking_history") or []), track.get("tracking_status") or {}]:
            at = parse_time(status.get("status_date"))
            sub = str((status.get("substatus") or {}).get("code") or "")
            phase = SHIPPO_SUBSTATUS.get(sub) or SHIPPO_PHASES.get(
                str(status.get("status")).upper()
            )
            if at and phase:
                out.append(CarrierScan(code, at, phase, str(status.get("status_details") or "")))
    elif provider == "aftership":
        tracking = body.get("msg") or {}
        code = tracking_key(tracking.get("tracking_number"))
        for checkpoint in tracking.get("checkpoints") or []:
            at = parse_time(checkpoint.get("checkpoint_time"))
            phase = AFTERSHIP_PHASES.get(str(checkpoint.get("tag")))
            if at and phase:
                out.append(CarrierScan(code, at, phase, str(checkpoint.get("message") or "")))
    return out


@dataclass
class Charge:
    charge_id: str
    intent_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    declined_at: datetime | None = None
    decline_code: str | None = None
    authorized_at: datetime | None = None
    captured_at: datetime | None = None
    captured_minor: int = 0
    refunds: list[tuple[datetime, int]] = field(default_factory=list)
    """(when, refunded so far) as the charge reported it."""


@dataclass
class Intent:
    intent_id: str
    metadata: dict[str, str] = field(default_factory=dict)
    amount_minor: int = 0
    canceled_at: datetime | None = None
    charges: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Signal:
    kind: str
    signal_id: str
    at: datetime
    charge_id: str | None
    intent_id: str | None
    metadata: Mapping[str, str]
