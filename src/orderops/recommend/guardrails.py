"""Guardrails: what no recommendation may contain, whatever a playbook or a case says.

A *block* removes the candidate (with the reason shown beside it); a *needs approval*
keeps it but marks it so nobody may auto-approve it. Checked on the planned actions,
after the catalogue has resolved their defaults, so "refund everything" is judged at its
real amount.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from orderops.domain.actions import ActionKind, PlannedAction
from orderops.recommend.facts import CaseFacts
from orderops.recommend.playbook import Guardrails

SHIPPING_KINDS = frozenset({ActionKind.RESHIP, ActionKind.SHIPPING_UPGRADE})


@dataclass(frozen=True)
class Verdict:
    blocked: tuple[str, ...] = ()
    needs_approval: tuple[str, ...] = ()


def check(planned: Sequence[PlannedAction], facts: CaseFacts, rails: Guardrails) -> Verdict:
    blocked: list[str] = []
    approval: list[str] = []
    refund_total = 0
    credit_total = 0
    for action in planned:
        params = action.params_json
        if action.kind is ActionKind.REFUND:
            refund_total += action.exposure_minor
        if action.kind in {ActionKind.CANCEL_LINE, ActionKind.CANCEL_ORDER} and params.get(
            "refund", True
        ):
            refund_total += min(action.exposure_minor, facts.refundable_minor)
        if action.kind is ActionKind.STORE_CREDIT:
            credit_total += action.exposure_minor
        if (
            action.kind is ActionKind.SHIPPING_UPGRADE
            and action.exposure_minor > rails.upgrade_ceiling_minor
        ):
            blocked.append(
                f"shipping upgrade of {action.exposure_minor} exceeds the ceiling "
                f"{rails.upgrade_ceiling_minor}"
            )
        if (
            action.kind is ActionKind.SUBSTITUTE
            and int(params.get("price_difference_minor", 0)) > 0
        ) and rails.dearer_substitute_needs_approval:
            approval.append(
                f"substitute {params['to_sku']} is dearer than {params['from_sku']} "
                f"by {params['price_difference_minor']} for the line"
            )
        if (
            action.kind in SHIPPING_KINDS
            and rails.block_shipping_to_unverified_address
            and facts.address_verified is False
        ):
            blocked.append(f"{action.kind}: the shipping address failed verification")
    if refund_total > rails.refund_ceiling_minor:
        blocked.append(f"refunds of {refund_total} exceed the ceiling {rails.refund_ceiling_minor}")
    if refund_total > facts.refundable_minor:
        blocked.append(
            f"refunds of {refund_total} exceed the {facts.refundable_minor} not yet refunded"
        )
    if credit_total > rails.credit_ceiling_minor:
        blocked.append(f"credit of {credit_total} exceeds the ceiling {rails.credit_ceiling_minor}")
    return Verdict(tuple(blocked), tuple(approval))
