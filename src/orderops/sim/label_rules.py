"""The written rules for every exception type beyond the first two, applied to events.

The replay keeps per order what the desk's projection keeps (when money was held,
taken and returned; when a label was bought and first scanned; the latest shortfall
stretch of each line; tickets and signals), then applies each type's rule with the
default thresholds of ``detect.thresholds``: event rules at the event that proves them,
deadline rules once at the end of the window. The thresholds and the small pure
helpers (address patterns, the chasing window, the silence deadline) are shared with
the detectors on purpose: one definition, two users.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from orderops.detect.orders import first_crowded
from orderops.detect.payments import FRAUD_KINDS
from orderops.detect.shipping import ADDRESS_TROUBLE, TROUBLE, missing_address_fields
from orderops.detect.silence import SourceActivity, silence_deadline, silence_order_ref
from orderops.detect.thresholds import DEFAULTS
from orderops.domain.cases import ExceptionType
from orderops.domain.events import EventType
from orderops.domain.statuses import PaymentStatus, TrackingStatus
from orderops.sim.tickets import CANCEL_SUBJECT

T = ExceptionType
CAPTURED = frozenset(
    {PaymentStatus.CAPTURED, PaymentStatus.REFUNDED, PaymentStatus.PARTIALLY_REFUNDED}
)
GOOD = CAPTURED | {PaymentStatus.AUTHORIZED}


@dataclass
class _Pay:
    status: PaymentStatus
    amount: int
    refunded: int
    created_at: datetime
    status_at: datetime
    authorized_at: datetime | None = None
    captured_at: datetime | None = None
    refunded_at: datetime | None = None


def _outcome_at(pay: _Pay) -> datetime | None:
    """When the payment was first held, taken, declined or voided (pending is no outcome)."""
    times = [t for t in (pay.authorized_at, pay.captured_at) if t is not None]
    if pay.status in (PaymentStatus.FAILED, PaymentStatus.VOIDED):
        times.append(pay.status_at)
    return min(times, default=None)


def _good_at(pay: _Pay) -> datetime:
    """When money became good: first held or taken, as the projection stamps it."""
    return min((t for t in (pay.authorized_at, pay.captured_at) if t), default=pay.created_at)


@dataclass
class _Ship:
    label_at: datetime | None = None
    origin: str | None = None
    first_scan_at: datetime | None = None
    status: str = TrackingStatus.LABEL_CREATED.value
    status_at: datetime | None = None
    message: str | None = None
    delivered_at: datetime | None = None


@dataclass
class _Line:
    sku: str
    quantity: int
    location: str | None
    short_since: datetime | None = None
    cleared_at: datetime | None = None


@dataclass
class _Order:
    placed_at: datetime
    total: int
    location: str | None
    promised_by: datetime | None = None
    cancelled_at: datetime | None = None
    ship_to: Any = None
    lines: list[_Line] = field(default_factory=list)
    payments: dict[str, _Pay] = field(default_factory=dict)
    shipments: dict[str, _Ship] = field(default_factory=dict)
    tickets: dict[str, tuple[datetime, str]] = field(default_factory=dict)

    def delivered_at(self) -> datetime | None:
        done = [s.delivered_at for s in self.shipments.values()]
        if not done or any(d is None for d in done):
            return None
        return max(d for d in done if d is not None)

    def live(self) -> bool:
        return self.cancelled_at is None and self.delivered_at() is None

    def shipped_from(self) -> set[str]:
        return {s.origin for s in self.shipments.values() if s.origin}

    def line_location(self, line: _Line) -> str | None:
        return line.location or self.location


class _Replay:
    def __init__(self, types: frozenset[ExceptionType]) -> None:
        self.types = types
        self.orders: dict[str, _Order] = {}
        self.tracking: dict[str, str] = {}
        self.levels: dict[tuple[str, str], int] = {}
        self.labels: dict[tuple[ExceptionType, str], datetime] = {}
        self.source_times: dict[str, list[datetime]] = {}

    def label(self, kind: ExceptionType, ref: str, at: datetime) -> None:
        if kind in self.types and ((kind, ref) not in self.labels or at < self.labels[kind, ref]):
            self.labels[kind, ref] = at

    def apply(self, event: Mapping[str, Any], at: datetime) -> None:
        self.source_times.setdefault(event["source"], []).append(at)
        kind, data = EventType(event["type"]), event["data"]
        if kind in (EventType.ORDER_PLACED, EventType.ORDER_UPDATED):
            self._order(data, at)
        elif kind is EventType.ORDER_CANCELLED and (o := self.orders.get(data["order_ref"])):
            o.cancelled_at = o.cancelled_at or at
        elif kind is EventType.PAYMENT_UPDATED:
            self._payment(data, at)
        elif kind is EventType.SHIPMENT_CREATED:
            self._shipment(data, at)
        elif kind is EventType.SHIPMENT_TRACKING:
            self._tracking(data, at)
        elif kind is EventType.INVENTORY_LEVEL:
            self._level(data, at)
        elif kind is EventType.TICKET_UPDATED:
            self._ticket(data, at)
        elif kind is EventType.FRAUD_SIGNAL:
            self._signal(data, at)

    def _order(self, data: Mapping[str, Any], at: datetime) -> None:
        ref = data["order_ref"]
        o = self.orders.get(ref)
        if o is None:
            o = self.orders[ref] = _Order(
                placed_at=datetime.fromisoformat(data["placed_at"]),
                total=data["total_minor"],
                location=data.get("location"),
            )
        kept = {(line.sku, line.location): line for line in o.lines}
        o.promised_by = datetime.fromisoformat(data["promised_by"])
        o.ship_to = data.get("ship_to")
        o.lines = []
        for raw in data["lines"]:
            line = _Line(raw["sku"], raw["quantity"], raw.get("location"))
            if (old := kept.get((line.sku, line.location))) is not None:
                line.short_since, line.cleared_at = old.short_since, old.cleared_at
            o.lines.append(line)
        for line in o.lines:
            where = o.line_location(line) or ""
            if (line.sku, where) in self.levels:
                self._track(ref, o, line, self.levels[line.sku, where], at)
        if o.ship_to is not None and missing_address_fields(o.ship_to) and o.live():
            self.label(T.ADDRESS_PROBLEM, ref, at)

    def _track(self, ref: str, o: _Order, line: _Line, available: int, at: datetime) -> None:
        if o.line_location(line) in o.shipped_from():
            return
        if line.quantity > available:
            if line.short_since is None or line.cleared_at is not None:
                line.short_since, line.cleared_at = max(at, o.placed_at), None
            if o.live():
                self.label(T.INVENTORY_SHORTFALL, ref, at)
        elif line.short_since is not None and line.cleared_at is None:
            line.cleared_at = max(at, line.short_since)

    def _payment(self, data: Mapping[str, Any], at: datetime) -> None:
        ref = data.get("order_ref")
        o = self.orders.get(ref or "")
        if o is None or ref is None:
            return
        status = PaymentStatus(data["status"])
        pay = o.payments.get(data["payment_ref"])
        if pay is None:
            pay = o.payments[data["payment_ref"]] = _Pay(status, 0, 0, created_at=at, status_at=at)
        pay.status, pay.amount, pay.status_at = status, data["amount_minor"], at
        pay.refunded = data.get("amount_refunded_minor", 0)
        if status is PaymentStatus.AUTHORIZED and pay.authorized_at is None:
            pay.authorized_at = at
        if status in CAPTURED and pay.captured_at is None:
            pay.captured_at = at
        if 0 < pay.amount <= pay.refunded and pay.refunded_at is None:
            pay.refunded_at = at
        captured = sorted(
            (p for p in o.payments.values() if p.status in CAPTURED),
            key=lambda p: p.captured_at or at,
        )
        running = 0
        for p in captured:
            running += p.amount
            if running > o.total and len(captured) > 1:
                self.label(T.DUPLICATE_CHARGE, ref, p.captured_at or at)
                break

    def _shipment(self, data: Mapping[str, Any], at: datetime) -> None:
        ref = data["order_ref"]
        self.tracking[data["tracking_number"]] = ref
        o = self.orders.get(ref)
        if o is None:
            return
        ship = o.shipments.setdefault(data["tracking_number"], _Ship())
        ship.label_at = ship.label_at or at
        ship.origin = data.get("origin_location")
        ship.status_at = ship.status_at or at
        for line in o.lines:
            if o.line_location(line) == ship.origin and line.short_since and not line.cleared_at:
                line.cleared_at = max(at, line.short_since)

    def _tracking(self, data: Mapping[str, Any], at: datetime) -> None:
        ref = self.tracking.get(data["tracking_number"], "")
        o = self.orders.get(ref)
        if o is None:
            return
        ship = o.shipments.setdefault(data["tracking_number"], _Ship())
        occurred = datetime.fromisoformat(data["occurred_at"])
        status = data["status"]
        if status != TrackingStatus.LABEL_CREATED and (
            ship.first_scan_at is None or occurred < ship.first_scan_at
        ):
            ship.first_scan_at = occurred
        if ship.status_at is None or occurred >= ship.status_at:
            ship.status, ship.status_at, ship.message = status, occurred, data.get("message")
        if status == TrackingStatus.DELIVERED and ship.delivered_at is None:
            ship.delivered_at = occurred
        if ship.status in TROUBLE:
            self.label(T.CARRIER_EXCEPTION, ref, occurred)
        if (
            o.cancelled_at is None
            and ship.message
            and ADDRESS_TROUBLE.search(ship.message)
            and ship.delivered_at is None
        ):
            self.label(T.ADDRESS_PROBLEM, ref, occurred)

    def _level(self, data: Mapping[str, Any], at: datetime) -> None:
        key = (data["sku"], data["location"])
        self.levels[key] = data["available"]
        for ref, o in self.orders.items():
            if not o.live():
                continue
            for line in o.lines:
                if line.sku == key[0] and o.line_location(line) == key[1]:
                    self._track(ref, o, line, data["available"], at)

    def _cancel_request(self, ref: str, o: _Order, at: datetime) -> None:
        """Asked to cancel before any carrier scan of a live order."""
        if o.cancelled_at is not None and o.cancelled_at <= at:
            return
        scans = [s.first_scan_at for s in o.shipments.values() if s.first_scan_at is not None]
        if not any(scan <= at for scan in scans):
            self.label(T.CANCEL_REQUESTED, ref, at)

    def _ticket(self, data: Mapping[str, Any], at: datetime) -> None:
        ref = data.get("order_ref")
        o = self.orders.get(ref or "")
        if o is None or ref is None:
            return
        opened = o.tickets.get(data["ticket_ref"], (at, ""))[0]
        o.tickets[data["ticket_ref"]] = (opened, data["status"])
        if str(data.get("subject") or "").startswith(CANCEL_SUBJECT):
            self._cancel_request(ref, o, opened)
        settings = DEFAULTS[T.CUSTOMER_CHASING]
        times = sorted(t for t, _ in o.tickets.values())
        hit = first_crowded(
            times, int(settings["tickets"]), timedelta(hours=settings["window_hours"])
        )
        if hit is not None:
            self.label(T.CUSTOMER_CHASING, ref, hit)

    def _signal(self, data: Mapping[str, Any], at: datetime) -> None:
        ref = data["order_ref"]
        o = self.orders.get(ref)
        if o is None or o.cancelled_at is not None:
            return
        captured = [p for p in o.payments.values() if p.status in CAPTURED]
        if data["kind"] == "review_opened" and not captured:
            self.label(T.PAYMENT_HOLD, ref, at)
        score = data.get("score")
        refunded = bool(captured) and sum(p.refunded for p in captured) >= sum(
            p.amount for p in captured
        )
        limit = DEFAULTS[T.FRAUD_REVIEW]["risk_score"]
        if (data["kind"] in FRAUD_KINDS or (score is not None and score >= limit)) and not refunded:
            self.label(T.FRAUD_REVIEW, ref, at)

    # deadline rules, judged once at the end of the window -----------------------------

    def finish(self, end: datetime) -> None:
        for ref, o in self.orders.items():
            self._holds(ref, o, end)
            self._refund(ref, o, end)
            self._deadlines(ref, o, end)
        settings = DEFAULTS[T.INTEGRATION_SILENCE]
        lookback = timedelta(days=settings["lookback_days"])
        for source, times in sorted(self.source_times.items()):
            last = max(times)
            recent = [t for t in times if t >= last - lookback]
            by_hour = [0] * 24
            for at in recent:
                by_hour[at.astimezone(UTC).hour] += 1
            activity = SourceActivity(source, last, len(recent), min(recent), tuple(by_hour))
            deadline = silence_deadline(activity)
            if deadline is not None and deadline <= end:
                self.label(T.INTEGRATION_SILENCE, silence_order_ref(source), deadline)

    def _holds(self, ref: str, o: _Order, end: datetime) -> None:
        auths = [p.authorized_at for p in o.payments.values() if p.authorized_at]
        if not auths:
            return
        first = min(auths)
        captures = [p.captured_at for p in o.payments.values() if p.captured_at]
        ended = min(captures) if captures else o.cancelled_at
        until = min(ended, end) if ended else end
        hold = first + timedelta(hours=DEFAULTS[T.PAYMENT_HOLD]["capture_wait_hours"])
        if hold <= until:
            self.label(T.PAYMENT_HOLD, ref, hold)
        expiring = DEFAULTS[T.AUTHORIZATION_EXPIRING]
        warn = first + timedelta(days=expiring["expiry_days"], hours=-expiring["warn_hours"])
        if warn <= until:
            self.label(T.AUTHORIZATION_EXPIRING, ref, warn)

    def _refund(self, ref: str, o: _Order, end: datetime) -> None:
        captured = [p for p in o.payments.values() if p.status in CAPTURED]
        if o.cancelled_at is None or not captured:
            return
        owed = sum(p.amount - p.refunded for p in captured)
        done = None
        if owed <= 0 and all(p.refunded_at for p in captured):
            done = max(p.refunded_at for p in captured if p.refunded_at)
        due = o.cancelled_at + timedelta(hours=DEFAULTS[T.REFUND_PENDING]["refund_hours"])
        if due <= min(done or end, end):
            self.label(T.REFUND_PENDING, ref, due)

    def _deadlines(self, ref: str, o: _Order, end: datetime) -> None:
        after = timedelta(hours=DEFAULTS[T.SUBSTITUTION_NEEDED]["after_hours"])
        for line in o.lines:
            if line.short_since is not None:
                due = line.short_since + after
                if due <= min(line.cleared_at or end, end):
                    self.label(T.SUBSTITUTION_NEEDED, ref, due)
        first_scan = timedelta(hours=DEFAULTS[T.PRE_DISPATCH_DELAY]["first_scan_hours"])
        pickup = timedelta(days=DEFAULTS[T.CARRIER_EXCEPTION]["pickup_days"])
        for ship in o.shipments.values():
            if ship.label_at is not None:
                due = ship.label_at + first_scan
                if due <= min(ship.first_scan_at or end, end):
                    self.label(T.PRE_DISPATCH_DELAY, ref, due)
            waiting = ship.status == TrackingStatus.AVAILABLE_FOR_PICKUP and ship.status_at
            if waiting and ship.status_at and ship.status_at + pickup <= end:
                self.label(T.CARRIER_EXCEPTION, ref, ship.status_at + pickup)
        self._stuck(ref, o, end)
        self._partial(ref, o, end)

    def _stuck(self, ref: str, o: _Order, end: datetime) -> None:
        """Placed and no payment outcome within 6 h; paid and nothing handed to a carrier
        within 48 h of the payment (the simulated store has no policy window). A state
        left (or the order cancelled) before its deadline labels nothing."""
        stuck = DEFAULTS[T.STUCK_ORDER]
        sla = timedelta(hours=stuck["awaiting_payment_hours"])
        outcomes = [_outcome_at(p) for p in o.payments.values()]
        first_pay = min((t for t in outcomes if t is not None), default=None)
        left = min((t for t in (first_pay, o.cancelled_at) if t is not None), default=end)
        if o.placed_at + sla <= min(left, end):
            self.label(T.STUCK_ORDER, ref, o.placed_at + sla)
        paid = [_good_at(p) for p in o.payments.values() if p.status in GOOD]
        if not paid:
            return
        due = min(paid) + timedelta(hours=stuck["awaiting_fulfillment_hours"])
        handed = [s.label_at or s.status_at for s in o.shipments.values()]
        moved = [t for t in (*handed, o.delivered_at(), o.cancelled_at) if t is not None]
        if due <= min([*moved, end]):
            self.label(T.STUCK_ORDER, ref, due)

    def _partial(self, ref: str, o: _Order, end: datetime) -> None:
        locations = {o.line_location(line) for line in o.lines} - {None}
        labels = [s for s in o.shipments.values() if s.origin and s.label_at]
        if len(locations) < 2 or not labels:
            return
        first = min(s.label_at for s in labels if s.label_at)
        due = first + timedelta(days=DEFAULTS[T.PARTIAL_FULFILLMENT_OVERDUE]["remaining_days"])
        if due > end:
            return
        left: dict[str, datetime] = {}
        for s in labels:
            if s.origin and s.label_at:
                left[s.origin] = min(left.get(s.origin, s.label_at), s.label_at)
        if any(left.get(loc, end) >= due for loc in locations if loc):
            self.label(T.PARTIAL_FULFILLMENT_OVERDUE, ref, due)


def extended_labels(
    events: Iterable[Mapping[str, Any]], *, end: datetime, types: frozenset[ExceptionType]
) -> list[tuple[ExceptionType, str, datetime]]:
    """Labels of ``types`` (beyond payment failed and shipment late) for a time-sorted stream."""
    replay = _Replay(types)
    for event in events:
        at = datetime.fromisoformat(event["time"])
        if at <= end:
            replay.apply(event, at)
    replay.finish(end)
    return [(kind, ref, at) for (kind, ref), at in replay.labels.items()]
