"""The simulated store: who orders what, and what then happens to each order.

Each order gets one scenario from a shuffled deck (so a run of a few hundred orders
holds every situation the issue names, in proportions like a real shop's), then is
played forward: payment, warehouse, stock, carrier, refunds, disputes and tickets.
The story is plain values (``story``); the providers' renderers turn it into webhooks.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from orderops.sim.catalog import FREE_SHIPPING_FROM_MINOR, PRIMARY_WAREHOUSE, SHIPPING_FEE_MINOR
from orderops.sim.catalog import ServiceLevel as Level
from orderops.sim.orders import placement_times
from orderops.sim.people import Customer, CustomerBook
from orderops.sim.providers.aftermath import Aftermath, plan_hold
from orderops.sim.providers.ids import ProviderIds
from orderops.sim.providers.parcels import LATE_KINDS, plan_parcel, ship_time, warehouse_time
from orderops.sim.providers.payplan import MANUAL_CAPTURE_SHARE, PaymentPlanner
from orderops.sim.providers.policy import store_policy
from orderops.sim.providers.promise import Deadlines, StorePolicy
from orderops.sim.providers.stock import (
    LevelChange,
    StockOut,
    build_catalogue,
    build_locations,
    level_changes,
)
from orderops.sim.providers.story import (
    Item,
    LineStory,
    Location,
    OrderStory,
    Outcome,
    ShippingLine,
)
from orderops.sim.providers.support import TicketWriter

DEFAULT_START = datetime(2025, 6, 30, tzinfo=UTC)
"""A Monday; the window holds the Independence Day holiday (Friday July 4)."""

SCENARIOS: tuple[tuple[str, float], ...] = (
    ("decline_recovered", 0.045),
    ("decline_recovered_late", 0.012),
    ("decline_unrecovered", 0.02),
    ("payment_silent", 0.012),
    ("capture_missed", 0.015),
    ("dispute", 0.01),
    ("early_fraud_warning", 0.008),
    ("radar_review", 0.008),
    ("partial_return", 0.03),
    ("cancel_refunded", 0.012),
    ("cancel_refund_late", 0.006),
    ("cancel_partial_refund", 0.004),
    ("cancel_no_refund", 0.004),
    ("cancel_authorized", 0.006),
    ("shortfall", 0.008),
    ("shortfall_cancelled", 0.004),
    ("warehouse_delay", 0.02),
    ("fulfillment_hold", 0.012),
    ("late", 0.04),
    ("stalled", 0.01),
    ("failed_attempt", 0.012),
    ("carrier_exception_late", 0.008),
    ("lost", 0.005),
    ("no_pickup", 0.01),
    ("chasing", 0.015),
)
"""Share of orders per scenario; the rest (about 70%) go untroubled."""

MANUAL_ONLY = frozenset({"capture_missed", "cancel_authorized"})
AUTOMATIC_ONLY = frozenset(
    {"dispute", "early_fraud_warning", "radar_review", "partial_return", "payment_silent"}
    | {"cancel_refunded", "cancel_refund_late", "cancel_partial_refund", "cancel_no_refund"}
)
CANCEL_BEFORE_SHIPPING = frozenset(
    {"cancel_refunded", "cancel_refund_late", "cancel_partial_refund", "cancel_no_refund"}
    | {"cancel_authorized"}
)
REPEAT_SOON_SHARE = 0.03
"""Customers who order again a day or two later, holding two open orders at once."""
_LEVELS = ((Level.STANDARD, 0.72), (Level.EXPEDITED, 0.2), (Level.EXPRESS, 0.08))
_TITLES = {"standard": "Standard Shipping", "expedited": "Expedited Shipping"}
_TITLES["express"] = "Express Shipping"
_LINE_COUNTS = ((1, 0.6), (2, 0.25), (3, 0.1), (4, 0.05))


@dataclass(frozen=True)
class StoreConfig:
    seed: int = 7
    start: datetime = DEFAULT_START
    days: float = 10.0
    history_days: int = 4
    orders_per_day: int = 60
    shop_domain: str = "northwind-goods.myshopify.com"

    def __post_init__(self) -> None:
        if self.days <= 0:
            raise ValueError("days must be positive")
        if self.history_days < 0 or self.orders_per_day < 0:
            raise ValueError("history_days and orders_per_day must not be negative")
        if self.start.tzinfo is None:
            raise ValueError("start must be timezone-aware")

    @property
    def end(self) -> datetime:
        return self.start + timedelta(days=self.days)

    @property
    def history_start(self) -> datetime:
        return self.start - timedelta(days=self.history_days)

    @property
    def opened_at(self) -> datetime:
        """When the catalogue and the opening stock count are published."""
        return self.history_start - timedelta(hours=2)


@dataclass(frozen=True)
class Store:
    config: StoreConfig
    policy: StorePolicy
    catalogue: tuple[Item, ...]
    locations: dict[str, Location]
    orders: list[OrderStory]
    stock_outs: list[StockOut]
    levels: list[LevelChange]
    catalogue_updates: list[tuple[datetime, Item]]


def build_store(config: StoreConfig) -> Store:
    """Play the store for ``config``; the same config gives the same store, value for value."""
    rng = random.Random(f"providers:{config.seed}:store")
    ids = ProviderIds(random.Random(f"providers:{config.seed}:ids"))
    policy = store_policy()
    catalogue = build_catalogue(ids)
    locations = build_locations(rng)
    placements = _placements(config, rng, ids)
    deck = _deck(rng, len(placements))
    planner = _Planner(config, rng, ids, policy, catalogue, locations)
    drafts = [
        planner.draft(at, customer, first, scenario)
        for (at, customer, first), scenario in zip(placements, deck, strict=True)
    ]
    stock_outs = _stock_outs(rng, drafts)
    orders = [planner.finish(draft, stock_outs) for draft in drafts]
    orders = planner.after.ambiguous_chasers(orders)
    levels = level_changes(rng, catalogue, locations, orders, stock_outs, config.opened_at)
    updates = [
        (
            config.opened_at
            + timedelta(hours=rng.uniform(6, 24 * (config.days + config.history_days))),
            rng.choice(catalogue),
        )
        for _ in range(max(1, round(config.days + config.history_days)))
    ]
    return Store(
        config,
        policy,
        catalogue,
        locations,
        orders,
        stock_outs,
        levels,
        sorted(updates, key=lambda u: u[0]),
    )


def _placements(
    config: StoreConfig, rng: random.Random, ids: ProviderIds
) -> list[tuple[datetime, Customer, bool]]:
    history = config.orders_per_day * config.history_days
    window = round(config.orders_per_day * config.days)
    times = placement_times(rng, config.history_start, config.start, history)
    times += placement_times(rng, config.start, config.end, window)
    book = CustomerBook(rng, ids.legacy)
    placed = [(at, *book.next_customer()) for at in times]
    again = [
        (at + timedelta(hours=rng.uniform(6, 48)), customer, False)
        for at, customer, _ in placed
        if rng.random() < REPEAT_SOON_SHARE
    ]
    merged = placed + [a for a in again if a[0] < config.end]
    return sorted(merged, key=lambda p: p[0])


def _deck(rng: random.Random, count: int) -> list[str]:
    deck: list[str] = []
    for name, share in SCENARIOS:
        deck += [name] * max(1 if count >= 40 else 0, round(share * count))
    deck = deck[:count] + ["none"] * max(0, count - len(deck))
    rng.shuffle(deck)
    return deck


@dataclass(frozen=True)
class _Draft:
    order: OrderStory
    ready_at: datetime | None
    cancel_at: datetime | None
    deadlines: Deadlines


def _stock_outs(rng: random.Random, drafts: list[_Draft]) -> list[StockOut]:
    outs: list[StockOut] = []
    for draft in drafts:
        order = draft.order
        if not order.scenario.startswith("shortfall"):
            continue
        start = (order.placed_at - timedelta(hours=rng.uniform(0.5, 6))).replace(microsecond=0)
        restock = (start + timedelta(hours=rng.uniform(6, 36))).replace(microsecond=0)
        outs.append(StockOut(order.lines[0].item.sku, start, restock))
    return outs


class _Planner:
    def __init__(
        self,
        config: StoreConfig,
        rng: random.Random,
        ids: ProviderIds,
        policy: StorePolicy,
        catalogue: tuple[Item, ...],
        locations: dict[str, Location],
    ) -> None:
        self._config = config
        self._rng = rng
        self._ids = ids
        self._policy = policy
        self._catalogue = catalogue
        self._locations = locations
        self._payments = PaymentPlanner(rng, ids)
        self.tickets = TicketWriter(rng, ids)
        self.after = Aftermath(rng, ids, self.tickets)
        self._number = 1000

    def draft(self, placed_at: datetime, customer: Customer, first: bool, scenario: str) -> _Draft:
        rng, ids = self._rng, self._ids
        self._number += 1
        lines = self._lines()
        if scenario.startswith("shortfall"):
            # Slow sellers are the ones a stock count finds written off.
            slow = sorted(self._catalogue, key=lambda item: item.popularity)[
                : len(self._catalogue) // 2
            ]
            head, *rest = lines
            pick = rng.choice([i for i in slow if all(i.sku != line.item.sku for line in rest)])
            lines = (LineStory(head.line_id, pick, head.quantity), *rest)
        level = rng.choices([lv for lv, _ in _LEVELS], weights=[w for _, w in _LEVELS])[0]
        subtotal = sum(line.total_minor for line in lines)
        free = level is Level.STANDARD and subtotal >= FREE_SHIPPING_FROM_MINOR
        shipping = ShippingLine(
            level.value, _TITLES[level.value], 0 if free else SHIPPING_FEE_MINOR[level]
        )
        location = self._locations[PRIMARY_WAREHOUSE[customer.region]]
        manual = scenario in MANUAL_ONLY or (
            scenario not in AUTOMATIC_ONLY and rng.random() < MANUAL_CAPTURE_SHARE
        )
        order_id, checkout_token, cart_token = ids.shopify("order"), ids.token(), ids.token()
        plan = self._payments.plan(
            scenario=scenario,
            manual=manual,
            order_id=order_id,
            number=self._number,
            checkout_token=checkout_token,
            cart_token=cart_token,
            placed_at=placed_at,
            amount_minor=subtotal + shipping.price_minor,
        )
        window = self._policy.window_for(shipping.code, shipping.title)
        assert window is not None
        deadlines = self._policy.deadlines(window, placed_at)
        order = OrderStory(
            order_id=order_id,
            number=self._number,
            checkout_id=ids.shopify("checkout"),
            checkout_token=checkout_token,
            cart_token=cart_token,
            token=ids.token(),
            customer=customer,
            new_customer=first,
            placed_at=placed_at,
            shipping=shipping,
            lines=lines,
            location=location,
            payments=plan.payments,
            scenario=scenario,
            cancel_reason=plan.cancel_reason,
        )
        return _Draft(order, plan.ready_at, plan.cancel_at, deadlines)

    def _lines(self) -> tuple[LineStory, ...]:
        rng = self._rng
        wanted = rng.choices([n for n, _ in _LINE_COUNTS], weights=[w for _, w in _LINE_COUNTS])[0]
        chosen: list[LineStory] = []
        weights = [item.popularity for item in self._catalogue]
        while len(chosen) < wanted:
            item = rng.choices(self._catalogue, weights=weights)[0]
            if all(line.item.sku != item.sku for line in chosen):
                quantity = 2 if rng.random() < 0.12 else 1
                chosen.append(LineStory(self._ids.shopify("line_item"), item, quantity))
        return tuple(chosen)

    def finish(self, draft: _Draft, stock_outs: list[StockOut]) -> OrderStory:
        """Play the order forward from its payment: warehouse, stock, carrier, aftermath."""
        rng, order = self._rng, draft.order
        if draft.ready_at is None:
            order = replace(order, cancelled_at=draft.cancel_at)
            return self.after.finish(order, draft.deadlines.promised_by)
        scenario = order.scenario
        hold = None
        ready = draft.ready_at
        planned = ship_time(
            rng,
            self._policy,
            ready_at=ready,
            deadlines=draft.deadlines,
            delayed=scenario == "warehouse_delay",
        )
        if scenario == "fulfillment_hold":
            hold = plan_hold(rng, self._ids, ready, planned)
            if hold.released_at is None:
                planned = self._config.end + timedelta(days=30)
            else:
                planned = warehouse_time(
                    self._policy, hold.released_at + timedelta(hours=rng.uniform(0.3, 3)), rng
                )
        planned = self._after_stock_outs(order, planned, stock_outs)
        cancel_at = draft.cancel_at
        if scenario in CANCEL_BEFORE_SHIPPING:
            cancel_at = ready + (planned - ready) * rng.uniform(0.2, 0.8)
        elif scenario == "shortfall_cancelled":
            cancel_at = order.placed_at + timedelta(hours=rng.uniform(8, 30))
        if cancel_at is not None and cancel_at < planned:
            order = replace(
                order,
                cancelled_at=cancel_at.replace(microsecond=0),
                cancel_reason=order.cancel_reason or "customer",
                hold=hold,
            )
            order = self._void_or_keep(order)
            return self.after.finish(order, draft.deadlines.promised_by)
        trouble = scenario if scenario in LATE_KINDS | {"no_pickup"} else None
        parcel = plan_parcel(
            rng,
            self._ids,
            level=order.shipping.code,
            location=order.location,
            customer=order.customer,
            shipped_at=planned.replace(microsecond=0),
            promised_by=draft.deadlines.promised_by,
            trouble=trouble,
        )
        order = replace(order, parcel=parcel, hold=hold)
        order = self._capture(order, parcel.at)
        return self.after.finish(order, draft.deadlines.promised_by)

    @staticmethod
    def _after_stock_outs(order: OrderStory, planned: datetime, outs: list[StockOut]) -> datetime:
        """Push the pick past every stock-out of one of the order's SKUs it would meet."""
        moved = True
        while moved:
            moved = False
            for out in outs:
                if any(out.blocks(line.item.sku, order.placed_at, planned) for line in order.lines):
                    later = out.restock_at + timedelta(minutes=90)
                    if later > planned:
                        planned, moved = later, True
        return planned

    def _capture(self, order: OrderStory, shipped_at: datetime) -> OrderStory:
        """Manual capture happens when the label is bought, or at the latest in the daily
        capture run a day or so after the authorisation; in ``capture_missed`` the run
        skipped the payment, which is captured days later or never."""
        payments = []
        for payment in order.payments:
            if payment.capture_method == "manual" and payment.charge_id is not None:
                if order.scenario == "capture_missed":
                    auth = payment.attempts[-1].at
                    late = auth + timedelta(hours=self._rng.uniform(50, 110))
                    if self._rng.random() < 0.7:
                        payment = replace(payment, captured_at=late.replace(microsecond=0))
                    else:
                        # Stripe cancels an authorisation nobody captured after seven days.
                        payment = replace(payment, canceled_at=auth + timedelta(days=7))
                else:
                    auth = payment.attempts[-1].at
                    shipped = shipped_at + timedelta(seconds=self._rng.randint(5, 60))
                    run = auth + timedelta(hours=self._rng.uniform(20, 40))
                    payment = replace(payment, captured_at=min(shipped, run).replace(microsecond=0))
            payments.append(payment)
        return replace(order, payments=tuple(payments))

    def _void_or_keep(self, order: OrderStory) -> OrderStory:
        """Cancelling an order with held money releases the authorisation at once."""
        assert order.cancelled_at is not None
        payments = tuple(
            replace(p, canceled_at=order.cancelled_at + timedelta(seconds=self._rng.randint(2, 30)))
            if p.capture_method == "manual"
            and p.canceled_at is None
            and any(a.outcome is Outcome.AUTHORIZED for a in p.attempts)
            else p
            for p in order.payments
        )
        return replace(order, payments=payments)
