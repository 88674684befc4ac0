"""Playbooks: per exception type, the resolutions a tenant is willing to offer, and when.

Written by operations people in YAML, so validation is strict (unknown keys, unknown
action kinds, wrong types are refused) and every error names its path, e.g.
``types.shipment_late.0.actions.1.kind: must be one of refund, ...``. A rule is a bundle:
its first action is the *primary* one (what the case is resolved by), the others come
with it (a reship with a shipping upgrade and a credit). The package ships a default
playbook for all 17 types; a tenant's own replaces it whole.
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import Any

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    field_validator,
)

from orderops.domain.actions import ActionKind
from orderops.domain.cases import ExceptionType
from orderops.domain.policy import InvalidPolicy
from orderops.domain.statuses import TrackingStatus


class InvalidPlaybook(InvalidPolicy):
    """The playbook document is not valid; the message lists each problem by path."""

    code = "invalid-playbook"


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Conditions(_Strict):
    """All given conditions must hold (AND); an omitted condition does not constrain."""

    days_late_over: float | None = Field(default=None, ge=0)
    days_late_at_most: float | None = Field(default=None, ge=0)
    tier_in: list[StrictStr] | None = None
    tier_not_in: list[StrictStr] | None = None
    delivered: StrictBool | None = None
    has_shipment: StrictBool | None = None
    shipment_status_in: list[TrackingStatus] | None = None
    captured: StrictBool | None = None
    authorized: StrictBool | None = None
    refundable: StrictBool | None = None
    fraud_score_over: float | None = Field(default=None, ge=0, le=1)
    fraud_score_at_most: float | None = Field(default=None, ge=0, le=1)
    disputed: StrictBool | None = None
    order_total_over_minor: StrictInt | None = Field(default=None, ge=0)
    order_total_at_most_minor: StrictInt | None = Field(default=None, ge=0)
    substitute_available: StrictBool | None = None
    address_verified: StrictBool | None = None
    customer_contacted: StrictBool | None = None
    multi_line: StrictBool | None = None


class ActionTemplate(_Strict):
    """One action of a rule; ``params`` may use the builders in ``recommend.params``."""

    kind: ActionKind
    params: dict[str, Any] = Field(default_factory=dict)


class Rule(_Strict):
    name: StrictStr = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9_]+$")
    when: Conditions = Field(default_factory=Conditions)
    actions: list[ActionTemplate] = Field(min_length=1, max_length=6)
    priority: StrictInt = Field(default=50, ge=0, le=1000)
    """Higher first when similar cases say nothing; the policy's own preference."""
    rationale: StrictStr = Field(default="", max_length=500)


class Guardrails(_Strict):
    refund_ceiling_minor: StrictInt = Field(default=50_000, ge=0)
    credit_ceiling_minor: StrictInt = Field(default=5_000, ge=0)
    upgrade_ceiling_minor: StrictInt = Field(default=3_000, ge=0)
    dearer_substitute_needs_approval: StrictBool = True
    block_shipping_to_unverified_address: StrictBool = True


class Playbook(_Strict):
    name: StrictStr = Field(default="default", min_length=1, max_length=100)
    version: StrictStr = Field(default="1", min_length=1, max_length=40)
    guardrails: Guardrails = Field(default_factory=Guardrails)
    types: dict[ExceptionType, list[Rule]]

    @field_validator("types")
    @classmethod
    def _unique_names(
        cls, value: dict[ExceptionType, list[Rule]]
    ) -> dict[ExceptionType, list[Rule]]:
        for exception_type, rules in value.items():
            names = [rule.name for rule in rules]
            dupes = sorted({n for n in names if names.count(n) > 1})
            if dupes:
                raise ValueError(f"{exception_type}: rule names repeat: {', '.join(dupes)}")
        return value

    def rules_for(self, exception_type: ExceptionType) -> list[Rule]:
        return list(self.types.get(exception_type, []))

    @property
    def reference(self) -> str:
        """How a rationale cites the policy: name and version."""
        return f"{self.name}@{self.version}"


_MESSAGES = {
    "greater_than_equal": "must be >= {ge}",
    "less_than_equal": "must be <= {le}",
    "missing": "is required",
    "extra_forbidden": "is not a known setting",
    "too_short": "must have at least {min_length} item(s)",
    "too_long": "must have at most {max_length} item(s)",
    "string_pattern_mismatch": "must match {pattern}",
    "enum": "must be one of {expected}",
    "int_type": "must be a whole number",
    "bool_type": "must be true or false",
    "string_type": "must be text",
    "dict_type": "must be a mapping",
    "list_type": "must be a list",
}


def _describe(err: Any) -> str:
    path = ".".join(str(p) for p in err["loc"] if p != "[key]") or "(root)"
    template = _MESSAGES.get(err["type"])
    if template is not None:
        message = template.format(**(err.get("ctx") or {}))
    else:
        message = str(err["msg"]).removeprefix("Value error, ")
    return f"{path}: {message}"


def parse_playbook(document: Any) -> Playbook:
    """Validate a decoded document; raise ``InvalidPlaybook`` naming every failing path."""
    if not isinstance(document, dict):
        raise InvalidPlaybook([f"(root): must be a mapping, got {type(document).__name__}"])
    try:
        playbook = Playbook.model_validate(document)
    except ValidationError as exc:
        raise InvalidPlaybook([_describe(err) for err in exc.errors()]) from exc
    from orderops.recommend.params import check_templates

    problems = check_templates(playbook)
    if problems:
        raise InvalidPlaybook(problems)
    return playbook


def load_playbook(text: str) -> Playbook:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidPlaybook([f"(root): not valid YAML: {exc}"]) from exc
    return parse_playbook(document)


@cache
def default_playbook() -> Playbook:
    """The playbook shipped with OrderOps: every exception type has at least one rule.

    Parsed once per process: the YAML parser cost 5% of a backtest replay when every
    recommendation read it again. The model is frozen and never changed in place."""
    text = resources.files("orderops.recommend").joinpath("default_playbook.yaml").read_text()
    return load_playbook(text)


def playbook_document(playbook: Playbook) -> dict[str, Any]:
    return playbook.model_dump(mode="json", exclude_defaults=False)
