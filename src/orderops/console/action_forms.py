"""The "Propose an action" form, generated from the action catalogue's typed parameters.

Each kind's parameter model (``domain/action_kinds.py``) is read through its JSON schema,
so a new kind or field shows up on the page without template work: amounts (``*_minor``)
are asked in the currency's major units and converted here, exactly, with the ingest
adapters' rule (more decimals than the currency has is refused, never rounded); enums
become selects; SKUs, payments and parcels are chosen from the order; reship lines are a
quantity per order line; a suggested address is its canonical parts. Nothing on the page
is JSON, and every kind's parameters can be expressed, so there is no "advanced" field.

Prefills come from the order as the remedy ledger sees it (``decide/remedy_ledger.py``,
read without the deciding lock: a hint, not the decision): a refund starts at what is
still refundable after every earlier remedy, a capture at what of the hold is still free.
The proposal itself is judged again by ``decide/actions.propose`` on the locked ledger;
its refusal is shown on this form with the reviewer's input kept.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

from orderops.decide.remedy_ledger import read_ledger
from orderops.domain.actions import ActionKind, InvalidAction, PaymentInfo, catalogue
from orderops.domain.errors import InvalidEvent
from orderops.ingest.adapters.common import currency_exponent, to_minor
from orderops.storage.tables import Order, Payment
from orderops.storage.uow import UnitOfWork

FIELD = "f."
"""Prefix of a parameter's form field: the form's own fields (csrf, kind, note) never clash."""
ADDRESS_PARTS = ("name", "line1", "line2", "city", "region", "postal_code", "country")
LONG_TEXT = 500
"""Text fields allowed more than this are textareas."""


class Widget(StrEnum):
    TEXT = "text"
    TEXTAREA = "textarea"
    MONEY = "money"
    NUMBER = "number"
    SELECT = "select"
    CHECKBOX = "checkbox"
    LINES = "lines"
    ADDRESS = "address"


@dataclass(frozen=True, kw_only=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True, kw_only=True)
class LineRow:
    """One order line offered to a reship: what was ordered, and how many to send again."""

    sku: str
    title: str
    ordered: int
    value: str = ""


@dataclass(frozen=True, kw_only=True)
class FormField:
    param: str
    label: str
    widget: Widget
    required: bool
    value: str = ""
    choices: tuple[Choice, ...] = ()
    hint: str = ""
    minimum: str | None = None
    maximum: str | None = None
    step: str | None = None
    max_length: int | None = None
    lines: tuple[LineRow, ...] = ()
    parts: tuple[tuple[str, str], ...] = ()
    """An address's (part, value) pairs."""

    @property
    def name(self) -> str:
        return FIELD + self.param


@dataclass(frozen=True, kw_only=True)
class PaymentRoom:
    """A payment and what the ledger leaves of it: to refund, or of its hold."""

    payment_ref: str
    provider: str
    status: str
    amount_minor: int
    refundable_minor: int
    hold_available_minor: int


@dataclass(frozen=True, kw_only=True)
class OrderFacts:
    """What the form offers and prefills from: the order's lines, payments, parcels."""

    currency: str
    lines: tuple[LineRow, ...] = ()
    payments: tuple[PaymentRoom, ...] = ()
    tracking_numbers: tuple[str, ...] = ()

    @property
    def refundable_minor(self) -> int:
        return sum(p.refundable_minor for p in self.payments)

    @property
    def hold_available_minor(self) -> int:
        return sum(p.hold_available_minor for p in self.payments)


@dataclass(frozen=True, kw_only=True)
class ActionForm:
    kind: str
    title: str
    fields: tuple[FormField, ...]
    note: str = ""
    error: str | None = None


@dataclass(frozen=True, kw_only=True)
class Posted:
    """A submitted proposal: its kind and the typed parameters read from it."""

    kind: ActionKind
    params: dict[str, Any]


def proposable_kinds() -> list[Choice]:
    """The picker's kinds; an override has its own form (it needs a justification)."""
    return [
        Choice(value=str(spec.kind), label=spec.title)
        for spec in catalogue().values()
        if spec.kind is not ActionKind.OVERRIDE
    ]


def order_facts(
    uow: UnitOfWork,
    order: Order,
    *,
    payments: Sequence[Payment] | None = None,
    tracking_numbers: Sequence[str] | None = None,
) -> OrderFacts:
    """The order as the form sees it, the remedy ledger's room included (no lock taken);
    ``payments`` and ``tracking_numbers`` when the caller has read them already."""
    if payments is None:
        payments = list(uow.commerce.payments_for(order.order_ref))
    if tracking_numbers is None:
        tracking_numbers = [s.tracking_number for s in uow.commerce.shipments_for(order.order_ref)]
    ledger = read_ledger(uow, order.order_ref, payments=payments)
    rooms = []
    for p in payments:
        info = PaymentInfo(
            payment_ref=p.payment_ref,
            provider=p.provider,
            status=p.status,
            amount_minor=p.amount_minor,
            refunded_minor=p.amount_refunded_minor,
            committed_refund_minor=ledger.committed_refund_minor(
                p.payment_ref, reported_refunded_minor=p.amount_refunded_minor
            ),
            committed_hold_minor=ledger.committed_hold_minor(p.payment_ref),
        )
        rooms.append(
            PaymentRoom(
                payment_ref=p.payment_ref,
                provider=p.provider,
                status=p.status,
                amount_minor=p.amount_minor,
                refundable_minor=info.refundable_minor,
                hold_available_minor=info.hold_available_minor,
            )
        )
    return OrderFacts(
        currency=order.currency,
        lines=tuple(
            LineRow(sku=line.sku, title=line.title or line.sku, ordered=line.quantity)
            for line in order.lines
        ),
        payments=tuple(rooms),
        tracking_numbers=tuple(tracking_numbers),
    )


def major(minor: int, currency: str) -> str:
    """Minor units as the decimal a person types ("12.50"), exact."""
    exponent = currency_exponent(currency)
    return str(Decimal(minor).scaleb(-exponent).quantize(Decimal(1).scaleb(-exponent)))


def form_for(
    kind: str,
    facts: OrderFacts,
    *,
    values: Mapping[str, str] | None = None,
    error: str | None = None,
) -> ActionForm | None:
    """The form of ``kind`` prefilled from the order, or refilled with what was posted."""
    try:
        spec = catalogue()[ActionKind(kind)]
    except ValueError:
        return None
    schema = spec.params.model_json_schema()
    required = set(schema.get("required", []))
    fields = tuple(
        _field(name, prop, name in required, spec.kind, facts)
        for name, prop in schema.get("properties", {}).items()
    )
    if values is not None:
        fields = tuple(_refill(f, values) for f in fields)
    return ActionForm(
        kind=str(spec.kind),
        title=spec.title,
        fields=fields,
        note=(values or {}).get("note", ""),
        error=error,
    )


def read_posted(form: Mapping[str, str], facts: OrderFacts) -> Posted:
    """The parameters a posted form asks for; a malformed value raises ``InvalidAction``
    naming its field (the domain then judges the rest, as for the API)."""
    try:
        kind = ActionKind(form.get("kind", ""))
    except ValueError as exc:
        raise InvalidAction("choose an action to propose") from exc
    built = form_for(kind, facts)
    assert built is not None
    params: dict[str, Any] = {}
    for f in built.fields:
        value = _read(f, form, facts.currency)
        if value is not None:
            params[f.param] = value
    return Posted(kind=kind, params=params)


def _field(
    name: str, prop: Mapping[str, Any], required: bool, kind: ActionKind, facts: OrderFacts
) -> FormField:
    label = prop.get("title", name).removesuffix(" Minor").removesuffix(" Ref")
    types = _types(prop)
    base = FormField(param=name, label=label, widget=Widget.TEXT, required=required)
    if name == "lines":
        lines = tuple(replace(line, value="0") for line in facts.lines)
        return replace(base, label="Lines to send again", widget=Widget.LINES, lines=lines)
    if name == "suggested_address":
        return replace(
            base,
            label="Suggested address",
            widget=Widget.ADDRESS,
            parts=tuple((part, "") for part in ADDRESS_PARTS),
        )
    if name == "payment_ref":
        return replace(
            base,
            label="Payment",
            widget=Widget.SELECT,
            choices=_payment_choices(kind, facts),
        )
    if name in {"sku", "from_sku"}:
        choices = tuple(
            Choice(value=line.sku, label=f"{line.title} ({line.sku}), {line.ordered} ordered")
            for line in facts.lines
        )
        single = choices[0].value if len(choices) == 1 else ""
        return replace(
            base, label="Order line", widget=Widget.SELECT, choices=choices, value=single
        )
    if name == "tracking_number":
        choices = tuple(Choice(value=t, label=t) for t in facts.tracking_numbers)
        return replace(base, label="Parcel", widget=Widget.SELECT, choices=choices)
    if "enum" in prop or any("enum" in option for option in prop.get("anyOf", [])):
        options = prop.get("enum") or next(o["enum"] for o in prop["anyOf"] if "enum" in o)
        default = prop.get("default")
        return replace(
            base,
            widget=Widget.SELECT,
            choices=tuple(Choice(value=str(o), label=str(o).replace("_", " ")) for o in options),
            value="" if default is None else str(default),
        )
    if "boolean" in types:
        return replace(base, widget=Widget.CHECKBOX, value="on" if prop.get("default") else "")
    if "integer" in types and name.endswith("_minor"):
        return _money(base, name, prop, kind, facts)
    if "integer" in types:
        bounds = _bounds(prop)
        default = prop.get("default")
        return replace(
            base,
            widget=Widget.NUMBER,
            minimum=_bound(bounds, "min"),
            maximum=_bound(bounds, "max"),
            step="1",
            value="" if default is None else str(default),
        )
    max_length = _bounds(prop).get("maxLength")
    long = max_length is not None and int(max_length) > LONG_TEXT
    return replace(
        base,
        widget=Widget.TEXTAREA if long else Widget.TEXT,
        max_length=None if max_length is None else int(max_length),
    )


def _money(
    base: FormField, name: str, prop: Mapping[str, Any], kind: ActionKind, facts: OrderFacts
) -> FormField:
    currency = facts.currency
    step = major(1, currency)
    bounds = _bounds(prop)
    signed = "minimum" in bounds and int(bounds["minimum"]) < 0
    value, maximum, hint = "", None, ""
    if kind is ActionKind.REFUND:
        room = facts.refundable_minor
        value = major(room, currency) if room else ""
        maximum = major(room, currency) if room else None
        hint = (
            f"Still refundable after earlier remedies: {major(room, currency)} {currency}"
            if facts.payments
            else "The order has no payment to refund."
        )
    elif kind is ActionKind.CAPTURE_PAYMENT:
        room = facts.hold_available_minor
        value = major(room, currency) if room else ""
        maximum = value or None
        hint = f"Free of the hold: {major(room, currency)} {currency}"
    elif "default" in prop and prop["default"] is not None:
        value = major(int(prop["default"]), currency)
    if signed:
        hint = "Positive: the retailer absorbs it; negative: the customer is refunded it."
    return replace(
        base,
        label=f"{base.label} ({currency})",
        widget=Widget.MONEY,
        value=value,
        step=step,
        minimum=None if signed else step,
        maximum=maximum,
        hint=hint,
    )


def _payment_choices(kind: ActionKind, facts: OrderFacts) -> tuple[Choice, ...]:
    wanted_hold = kind in {
        ActionKind.CAPTURE_PAYMENT,
        ActionKind.RELEASE_PAYMENT_HOLD,
        ActionKind.VOID_PAYMENT,
    }
    choices = []
    for p in facts.payments:
        room = p.hold_available_minor if wanted_hold else p.refundable_minor
        what = "free of the hold" if wanted_hold else "refundable"
        choices.append(
            Choice(
                value=p.payment_ref,
                label=f"{p.provider} {p.payment_ref} ({p.status}; "
                f"{major(room, facts.currency)} {facts.currency} {what})",
            )
        )
    return tuple(choices)


def _types(prop: Mapping[str, Any]) -> set[str]:
    found = {prop["type"]} if "type" in prop else set()
    return found | {o["type"] for o in prop.get("anyOf", []) if "type" in o}


def _bounds(prop: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(prop)
    for option in prop.get("anyOf", []):
        if option.get("type") != "null":
            merged.update(option)
    return merged


def _bound(bounds: Mapping[str, Any], which: str) -> str | None:
    if which == "min":
        if "minimum" in bounds:
            return str(bounds["minimum"])
        if "exclusiveMinimum" in bounds:
            return str(int(bounds["exclusiveMinimum"]) + 1)
        return None
    if "maximum" in bounds:
        return str(bounds["maximum"])
    return None


def _refill(f: FormField, values: Mapping[str, str]) -> FormField:
    """The field as the reviewer left it (an unchecked box is not posted: off)."""
    if f.widget is Widget.LINES:
        lines = tuple(
            replace(line, value=values.get(f"{f.name}.{line.sku}", "")) for line in f.lines
        )
        return replace(f, lines=lines)
    if f.widget is Widget.ADDRESS:
        return replace(f, parts=tuple((p, values.get(f"{f.name}.{p}", "")) for p, _ in f.parts))
    if f.widget is Widget.CHECKBOX:
        return replace(f, value="on" if values.get(f.name) else "")
    return replace(f, value=values.get(f.name, ""))


def _read(f: FormField, form: Mapping[str, str], currency: str) -> Any:
    raw = (form.get(f.name) or "").strip()
    if f.widget is Widget.CHECKBOX:
        return bool(raw)
    if f.widget is Widget.LINES:
        return _lines(f, form) or None
    if f.widget is Widget.ADDRESS:
        parts = {p: (form.get(f"{f.name}.{p}") or "").strip() for p, _ in f.parts}
        kept = {p: v for p, v in parts.items() if v}
        return kept or None
    if not raw:
        if f.required:
            raise InvalidAction(f"{f.label}: fill this in")
        return None
    if f.widget is Widget.MONEY:
        try:
            return to_minor(raw, currency, where=f.label)
        except InvalidEvent as exc:
            raise InvalidAction(exc.message) from exc
    if f.widget is Widget.NUMBER:
        return _integer(raw, f.label)
    return raw


def _lines(f: FormField, form: Mapping[str, str]) -> list[dict[str, Any]]:
    chosen = []
    for line in f.lines:
        raw = (form.get(f"{f.name}.{line.sku}") or "").strip()
        quantity = _integer(raw, f"{line.title} quantity") if raw else 0
        if quantity < 0:
            raise InvalidAction(f"{line.title} quantity: not below 0")
        if quantity:
            chosen.append({"sku": line.sku, "quantity": quantity})
    if not chosen and f.required:
        raise InvalidAction(f"{f.label}: choose at least one line and a quantity")
    return chosen


def _integer(raw: str, label: str) -> int:
    try:
        return int(raw)
    except ValueError as exc:
        raise InvalidAction(f"{label}: {raw!r} is not a whole number") from exc
