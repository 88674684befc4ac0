"""Turning a playbook's action template into the catalogue's typed parameters for one case.

A template value is either literal or a *builder* the playbook names: ``lines: all``,
``amount_minor: {percent_of_total: 10, max_minor: 2500}``, ``to_sku: best_substitute``.
Builders read only the case's facts and the substitution finder's choice, so the same
case always yields the same parameters. The result is validated by the catalogue itself
(``domain.actions.plan``), never trusted on its own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from orderops.domain.actions import ActionKind
from orderops.recommend.facts import CaseFacts, LineFact
from orderops.recommend.substitution import Substitute

if TYPE_CHECKING:
    from orderops.recommend.playbook import ActionTemplate, Playbook


class TemplateError(ValueError):
    """A builder cannot produce a value for this case (the candidate is skipped, with why)."""


LINE_BUILDERS = frozenset({"all", "short"})
AMOUNT_WORDS = frozenset({"refundable", "short_line_value", "substitute_difference"})
AMOUNT_KEYS = frozenset({"percent_of_total", "max_minor", "min_minor"})
SKU_WORDS = frozenset({"short_line", "best_substitute", "first_line"})
TEXT_FIELDS = frozenset({"reason", "summary", "subject", "body", "problem", "note"})


def _percent(spec: dict[str, Any], facts: CaseFacts) -> int:
    value = round(facts.total_minor * float(spec.get("percent_of_total", 0)) / 100)
    if "min_minor" in spec:
        value = max(value, int(spec["min_minor"]))
    if "max_minor" in spec:
        value = min(value, int(spec["max_minor"]))
    return value


def _amount(value: Any, facts: CaseFacts, substitute: Substitute | None) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, dict):
        return _percent(value, facts)
    if value == "refundable":
        if facts.refundable_minor <= 0:
            raise TemplateError("nothing on the order is left to refund")
        return facts.refundable_minor
    if value == "short_line_value":
        line = _short_line(facts, substitute)
        return line.unit_price_minor * line.quantity
    if value == "substitute_difference":
        if substitute is None:
            raise TemplateError("no substitute was found")
        return substitute.line_difference_minor()
    raise TemplateError(f"unknown amount {value!r}")


def _short_line(facts: CaseFacts, substitute: Substitute | None) -> LineFact:
    if substitute is not None:
        line = facts.line(substitute.from_sku)
        if line is not None:
            return line
    for line in facts.lines:
        if (
            line.location
            and facts.stock.get((line.sku, line.location), line.quantity) < line.quantity
        ):
            return line
    if not facts.lines:
        raise TemplateError("the order has no lines")
    return facts.lines[0]


def _sku(value: Any, facts: CaseFacts, substitute: Substitute | None) -> str:
    if value == "short_line":
        return str(_short_line(facts, substitute).sku)
    if value == "first_line":
        if not facts.lines:
            raise TemplateError("the order has no lines")
        return facts.lines[0].sku
    if value == "best_substitute":
        if substitute is None:
            raise TemplateError("no compatible substitute is in stock")
        return substitute.to_sku
    return str(value)


def _lines(value: Any, facts: CaseFacts, substitute: Substitute | None) -> list[dict[str, Any]]:
    if value == "all":
        chosen = list(facts.lines)
    elif value == "short":
        chosen = [_short_line(facts, substitute)]
    else:
        return list(value)
    if not chosen:
        raise TemplateError("the order has no lines")
    return [{"sku": line.sku, "quantity": line.quantity} for line in chosen]


def _text(value: Any, facts: CaseFacts) -> str:
    return str(value).replace("{order}", facts.label)


def build_params(
    template: ActionTemplate, facts: CaseFacts, substitute: Substitute | None
) -> dict[str, Any]:
    """Concrete parameters for ``template`` on this case; raise TemplateError if impossible."""
    params: dict[str, Any] = {}
    for key, value in template.params.items():
        if key == "lines":
            params[key] = _lines(value, facts, substitute)
        elif key in {"amount_minor", "price_difference_minor", "cost_minor"}:
            params[key] = _amount(value, facts, substitute)
        elif key in {"from_sku", "to_sku", "sku"}:
            params[key] = _sku(value, facts, substitute)
        elif key == "quantity" and value == "short_line":
            params[key] = _short_line(facts, substitute).quantity
        elif key == "tracking_number" and value == "latest":
            shipment = facts.latest_shipment
            if shipment is None:
                raise TemplateError("the order has no shipment")
            params[key] = shipment.tracking_number
        elif key == "payment_ref" and value == "latest_captured":
            captured = [p for p in facts.payments if p.refundable_minor > 0]
            if not captured:
                raise TemplateError("no captured payment is left to refund")
            params[key] = captured[-1].payment_ref
        elif key in TEXT_FIELDS:
            params[key] = _text(value, facts)
        else:
            params[key] = value
    if template.kind is ActionKind.SUBSTITUTE and substitute is not None:
        # The action's difference is for the whole line (what it refunds or the retailer
        # absorbs); the finder's is per unit.
        quantity = params.get("quantity")
        params.setdefault(
            "price_difference_minor",
            substitute.line_difference_minor(quantity if isinstance(quantity, int) else None),
        )
    return params


def _template_problems(path: str, template: ActionTemplate) -> list[str]:
    problems: list[str] = []
    for key, value in template.params.items():
        where = f"{path}.params.{key}"
        if key == "lines" and isinstance(value, str) and value not in LINE_BUILDERS:
            problems.append(f"{where}: must be one of {', '.join(sorted(LINE_BUILDERS))}")
        if key in {"amount_minor", "price_difference_minor", "cost_minor"}:
            if isinstance(value, str) and value not in AMOUNT_WORDS:
                problems.append(
                    f"{where}: must be a number or one of {', '.join(sorted(AMOUNT_WORDS))}"
                )
            if isinstance(value, dict) and (
                set(value) - AMOUNT_KEYS or "percent_of_total" not in value
            ):
                problems.append(
                    f"{where}: takes percent_of_total with optional min_minor, max_minor"
                )
    return problems


def check_templates(playbook: Playbook) -> list[str]:
    """Problems a schema cannot see: builder names, refused at load rather than at use."""
    problems: list[str] = []
    for exception_type, rules in playbook.types.items():
        for index, rule in enumerate(rules):
            for position, template in enumerate(rule.actions):
                path = f"types.{exception_type}.{index}.actions.{position}"
                problems += _template_problems(path, template)
    return problems
