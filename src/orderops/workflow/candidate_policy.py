"""A candidate policy: the tenant's four policies as someone proposes to change them.

One YAML file with optional top-level sections, each in the format its policy is stored
and edited in:

``fulfillment_policy``  promises, refund limits, detector thresholds (domain/policy.py)
``routing_rules``       the ordered list of routing rules (domain/routing.py)
``approval_policy``     who must approve what (domain/approval_policy.py)
``playbook``            the resolutions offered per exception type (recommend/playbook.py)

A missing section means "the live one". Every section is validated as strictly as the
door it would be stored through (unknown detectors, thresholds and keys are refused), so
a backtest or a shadow run judges only a policy that could actually be put in force, and
every problem is named by its section and path on one line. YAML anchors and aliases are
refused outright: a short file must not expand into a huge document.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import yaml

from orderops.cases.routing import active_rules
from orderops.decide.policy_versions import current_version, load_policy
from orderops.detect.thresholds import config_from_policy
from orderops.domain.approval_policy import ApprovalPolicy, InvalidApprovalPolicy, diff_bodies
from orderops.domain.approval_policy import parse_policy as parse_approval_policy
from orderops.domain.policy import FulfillmentPolicy, InvalidPolicy, parse_policy, policy_document
from orderops.domain.routing import RuleSet, rule_to_dict, rules_from_dicts
from orderops.ingest.policy_file import MAX_POLICY_BYTES
from orderops.recommend.playbook import Playbook, parse_playbook, playbook_document
from orderops.recommend.service import current_playbook
from orderops.resolve.policy_in_force import policy_in_force
from orderops.storage.uow import UnitOfWork

MAX_CANDIDATE_BYTES = MAX_POLICY_BYTES
SECTIONS = ("fulfillment_policy", "routing_rules", "approval_policy", "playbook")
CANDIDATE_RULES_VERSION = -1
"""The version a candidate's routing rules carry: never a published one."""


@dataclass(frozen=True)
class CandidatePolicy:
    """Every field already parsed and validated; None means "the live one".

    From ``live_policy`` every field is set, except ``fulfillment`` for a tenant that has
    stored no fulfillment policy (it runs on the detector defaults and promises nothing).
    """

    fulfillment: FulfillmentPolicy | None
    routing: RuleSet | None
    approval: ApprovalPolicy | None
    playbook: Playbook | None
    text: str


def parse_candidate(text: str) -> CandidatePolicy:
    """Parse and validate a candidate file; ``InvalidPolicy`` names every problem by path."""
    if len(text.encode("utf-8")) > MAX_CANDIDATE_BYTES:
        raise InvalidPolicy([f"(root): the file exceeds {MAX_CANDIDATE_BYTES} bytes"])
    document = _load(text)
    if document is None:
        document = {}
    if not isinstance(document, dict):
        raise InvalidPolicy([f"(root): must be a mapping, got {type(document).__name__}"])
    unknown = sorted(str(k) for k in document if k not in SECTIONS)
    if unknown:
        raise InvalidPolicy(
            [f"{name}: is not a known section (known: {', '.join(SECTIONS)})" for name in unknown]
        )
    problems: list[str] = []
    fulfillment = _section(problems, "fulfillment_policy", document, _fulfillment)
    routing = _section(problems, "routing_rules", document, _routing)
    approval = _section(problems, "approval_policy", document, _approval)
    playbook = _section(problems, "playbook", document, parse_playbook)
    if problems:
        raise InvalidPolicy(problems)
    return CandidatePolicy(
        fulfillment=fulfillment, routing=routing, approval=approval, playbook=playbook, text=text
    )


def live_policy(uow: UnitOfWork) -> CandidatePolicy:
    """The tenant's policies in force now, as a candidate with every field set."""
    in_force = policy_in_force(uow)
    playbook, _ = current_playbook(uow)
    return CandidatePolicy(
        fulfillment=None if in_force is None else in_force.policy,
        routing=active_rules(uow),
        approval=load_policy(uow, current_version(uow)),
        playbook=playbook,
        text="",
    )


def resolved(uow: UnitOfWork, candidate: CandidatePolicy) -> CandidatePolicy:
    """``candidate`` with each missing section filled from the live policy."""
    live = live_policy(uow)
    return replace(
        candidate,
        fulfillment=candidate.fulfillment
        if candidate.fulfillment is not None
        else live.fulfillment,
        routing=candidate.routing if candidate.routing is not None else live.routing,
        approval=candidate.approval if candidate.approval is not None else live.approval,
        playbook=candidate.playbook if candidate.playbook is not None else live.playbook,
    )


def policy_diff(live: CandidatePolicy, candidate: CandidatePolicy) -> list[dict[str, Any]]:
    """Leaf-by-leaf changes from ``live`` to ``candidate``, each path led by its section.

    A section the candidate leaves out (None) is unchanged by definition. Routing rules
    are compared by name (``routing_rules.<name>.<field>``, ``position`` among them).
    """
    before, after = documents(live), documents(candidate)
    changes: list[dict[str, Any]] = []
    for section in SECTIONS:
        if after[section] is None:
            continue
        old, new = before[section], after[section]
        if section == "routing_rules":
            old, new = _by_name(old), _by_name(new)
        for change in diff_bodies(old, new, section):
            changes.append(change.as_json())
    return changes


def _by_name(rules: list[dict[str, Any]] | None) -> dict[str, Any] | None:
    """Rules keyed by name with their position, so a rule added at the top reads as one
    added rule and moved positions, not as every rule rewritten."""
    if rules is None:
        return None
    return {
        rule["name"]: {k: v for k, v in rule.items() if k != "name"} | {"position": index}
        for index, rule in enumerate(rules)
    }


def documents(policy: CandidatePolicy) -> dict[str, Any]:
    """Each section in its stored JSON form (None where the policy leaves it out)."""
    return {
        "fulfillment_policy": None
        if policy.fulfillment is None
        else policy_document(policy.fulfillment),
        "routing_rules": None
        if policy.routing is None
        else [rule_to_dict(rule) for rule in policy.routing.rules],
        "approval_policy": None if policy.approval is None else policy.approval.body(),
        "playbook": None if policy.playbook is None else playbook_document(policy.playbook),
    }


def _load(text: str) -> Any:
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None):
                raise InvalidPolicy(
                    [f"{_where(event.start_mark)}: anchors and aliases are not allowed"]
                )
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or "not valid YAML"
        where = _where(getattr(exc, "problem_mark", None))
        raise InvalidPolicy([f"{where}: not valid YAML: {problem}"]) from exc


def _where(mark: Any) -> str:
    return "(root)" if mark is None else f"line {mark.line + 1}, column {mark.column + 1}"


def _section(problems: list[str], name: str, document: Mapping[str, Any], parse: Any) -> Any:
    if name not in document:
        return None
    try:
        return parse(document[name])
    except InvalidPolicy as exc:
        problems.extend(
            f"{name}.{p}" if not p.startswith("(root)") else f"{name}{p[6:]}" for p in exc.problems
        )
    except (InvalidApprovalPolicy, ValueError) as exc:
        problems.append(f"{name}: {exc}")
    return None


def _fulfillment(document: Any) -> FulfillmentPolicy:
    policy = parse_policy(document)
    config_from_policy(policy, strict=True)  # unknown threshold names are refused
    return policy


def _routing(document: Any) -> RuleSet:
    if not isinstance(document, list) or not all(isinstance(r, dict) for r in document):
        raise ValueError("must be a list of rules (name, queue, priority, when)")
    return RuleSet(version=CANDIDATE_RULES_VERSION, rules=rules_from_dicts(document))


def _approval(document: Any) -> ApprovalPolicy:
    if not isinstance(document, dict):
        raise ValueError(f"must be a mapping, got {type(document).__name__}")
    return parse_approval_policy(document)
