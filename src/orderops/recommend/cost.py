"""What a resolution costs the retailer: money returned, credit given, labels, goods.

Goods sent again (reship, a dearer substitute) cost their landed cost, not their price:
``1 - margin_rate`` of it. Label costs are estimates per service level; a tenant with real
rates passes its own ``CostModel``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from orderops.domain.actions import ActionKind

DEFAULT_LABEL_MINOR: dict[str, int] = {"standard": 800, "expedited": 1500, "express": 2500}


@dataclass(frozen=True, kw_only=True)
class CostModel:
    margin_rate: float = 0.45
    label_minor: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_LABEL_MINOR))


@dataclass(frozen=True, kw_only=True)
class Cost:
    refund_minor: int = 0
    credit_minor: int = 0
    label_minor: int = 0
    goods_minor: int = 0
    """Landed cost of goods sent again."""

    @property
    def total_minor(self) -> int:
        return self.refund_minor + self.credit_minor + self.label_minor + self.goods_minor

    def __add__(self, other: Cost) -> Cost:
        return Cost(
            refund_minor=self.refund_minor + other.refund_minor,
            credit_minor=self.credit_minor + other.credit_minor,
            label_minor=self.label_minor + other.label_minor,
            goods_minor=self.goods_minor + other.goods_minor,
        )

    def as_json(self) -> dict[str, int]:
        return {
            "refund_minor": self.refund_minor,
            "credit_minor": self.credit_minor,
            "label_minor": self.label_minor,
            "goods_minor": self.goods_minor,
            "total_minor": self.total_minor,
        }


def action_cost(
    kind: ActionKind, params: dict[str, Any], exposure_minor: int, model: CostModel
) -> Cost:
    goods_share = 1 - model.margin_rate
    if kind is ActionKind.REFUND:
        return Cost(refund_minor=exposure_minor)
    if kind is ActionKind.STORE_CREDIT:
        return Cost(credit_minor=exposure_minor)
    if kind is ActionKind.RESHIP:
        service = str(params.get("service_level") or "standard")
        label = model.label_minor.get(service, model.label_minor["standard"])
        return Cost(label_minor=label, goods_minor=round(exposure_minor * goods_share))
    if kind is ActionKind.SHIPPING_UPGRADE:
        return Cost(label_minor=exposure_minor)
    if kind is ActionKind.SUBSTITUTE:
        difference = int(params.get("price_difference_minor") or 0)  # for the whole line
        return Cost(goods_minor=max(0, round(difference * goods_share)))
    if kind is ActionKind.CANCEL_LINE:
        return Cost(refund_minor=exposure_minor if params.get("refund", True) else 0)
    if kind is ActionKind.CANCEL_ORDER:
        return Cost(refund_minor=exposure_minor if params.get("refund", True) else 0)
    return Cost()
