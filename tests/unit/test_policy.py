"""The fulfillment policy: strict validation with paths, and the decisions it drives."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

import pytest
import yaml

from orderops.domain.cases import ExceptionType
from orderops.domain.policy import (
    Change,
    FulfillmentPolicy,
    InvalidPolicy,
    RefundApproval,
    detector_enabled,
    parse_policy,
    policy_diff,
    policy_document,
    promised_by,
    refund_approval,
    substitution_allowed,
)
from orderops.ingest.policy_file import EXAMPLE_POLICY, read_policy


def example() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(EXAMPLE_POLICY.read_text("utf-8"))
    return loaded


def with_change(path: str, value: Any) -> dict[str, Any]:
    document = copy.deepcopy(example())
    *parents, leaf = path.split(".")
    node = document
    for key in parents:
        node = node[key]
    node[leaf] = value
    return document


def test_the_shipped_example_policy_is_valid_and_round_trips_through_json() -> None:
    policy = read_policy(EXAMPLE_POLICY.read_text("utf-8"))
    assert policy.promise_windows["standard"].days == 3
    assert policy.promise_windows["standard"].handling == 1
    assert parse_policy(policy_document(policy)) == policy


@pytest.mark.parametrize(
    ("path", "value", "problem"),
    [
        (
            "refund_limits.auto_approve_under_minor",
            -1,
            "refund_limits.auto_approve_under_minor: must be >= 0",
        ),
        (
            "refund_limits.auto_approve_under_minor",
            "2500",
            "refund_limits.auto_approve_under_minor: must be a whole number",
        ),
        (
            "refund_limits.finance_approval_over_minor",
            100,
            "refund_limits: finance_approval_over_minor must be >= auto_approve_under_minor",
        ),
        ("refund_limits.currency", "gbp", "refund_limits.currency: must match ^[A-Z]{3}$"),
        (
            "promise_windows.standard.cutoff",
            840,
            'promise_windows.standard.cutoff: must be a quoted time of day like "14:00"',
        ),
        (
            "promise_windows.standard.cutoff",
            "2pm",
            'promise_windows.standard.cutoff: must be a time of day like "14:00"',
        ),
        (
            "promise_windows.express.business_days",
            61,
            "promise_windows.express.business_days: must be <= 60",
        ),
        ("promise_windows", {}, "promise_windows: must have at least 1 item(s)"),
        (
            "substitutions.max_price_increase_pct",
            -5,
            "substitutions.max_price_increase_pct: must be >= 0",
        ),
        ("timezone", "Mars/Olympus", "timezone: unknown time zone 'Mars/Olympus'"),
        ("detectors.shipment_late.enabled", "yes", "detectors.shipment_late.enabled: must be"),
        (
            "detectors.shipment_late.thresholds",
            {"grace_hours": -4},
            "detectors.shipment_late.thresholds: grace_hours must be >= 0",
        ),
        ("detectors.stock_gremlins", {"enabled": True}, "detectors.stock_gremlins: must be one"),
        ("refund_limits.auto_approve", 5, "refund_limits.auto_approve: is not a known setting"),
    ],
)
def test_invalid_settings_are_refused_with_their_path(path: str, value: Any, problem: str) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        parse_policy(with_change(path, value))
    assert any(p.startswith(problem) for p in caught.value.problems), caught.value.problems


def test_every_problem_is_listed_not_only_the_first() -> None:
    document = with_change("refund_limits.auto_approve_under_minor", -1)
    document["timezone"] = "Nowhere/Town"
    with pytest.raises(InvalidPolicy) as caught:
        parse_policy(document)
    assert len(caught.value.problems) == 2


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("- just\n- a list\n", "(root): must be a mapping, got list"),
        ("timezone: [unclosed\n", "line 2, column 1: not valid YAML"),
    ],
)
def test_documents_that_are_not_a_policy_mapping_are_refused(text: str, problem: str) -> None:
    with pytest.raises(InvalidPolicy) as caught:
        read_policy(text)
    assert caught.value.problems[0].startswith(problem)


def policy() -> FulfillmentPolicy:
    return parse_policy(example())


@pytest.mark.parametrize(
    ("level", "placed", "due"),
    [
        # Example policy: Europe/London, standard 3 days cut-off 14:00, express 1 day 12:00.
        ("standard", datetime(2026, 11, 16, 9, 0, tzinfo=UTC), "2026-11-19T23:59:59+00:00"),
        ("standard", datetime(2026, 11, 16, 15, 0, tzinfo=UTC), "2026-11-20T23:59:59+00:00"),
        ("standard", datetime(2026, 11, 20, 9, 0, tzinfo=UTC), "2026-11-25T23:59:59+00:00"),
        ("standard", datetime(2026, 11, 21, 9, 0, tzinfo=UTC), "2026-11-26T23:59:59+00:00"),
        ("express", datetime(2026, 12, 24, 11, 0, tzinfo=UTC), "2026-12-29T23:59:59+00:00"),
        ("same_day", datetime(2026, 11, 16, 9, 59, tzinfo=UTC), "2026-11-16T23:59:59+00:00"),
        # Summer time: 12:30 UTC is 13:30 in London, before the 14:00 cut-off.
        ("standard", datetime(2026, 7, 1, 12, 30, tzinfo=UTC), "2026-07-06T22:59:59+00:00"),
    ],
)
def test_promises_count_business_days_after_the_cutoff(
    level: str, placed: datetime, due: str
) -> None:
    assert promised_by(policy(), level, placed).isoformat() == due


def test_an_unknown_service_level_has_no_promise() -> None:
    with pytest.raises(KeyError, match="no promise window for service level 'drone'"):
        promised_by(policy(), "drone", datetime(2026, 11, 16, tzinfo=UTC))


@pytest.mark.parametrize(
    ("amount", "approval"),
    [
        (0, RefundApproval.AUTOMATIC),
        (2499, RefundApproval.AUTOMATIC),
        (2500, RefundApproval.APPROVER),
        (20000, RefundApproval.APPROVER),
        (20001, RefundApproval.FINANCE),
    ],
)
def test_refunds_are_approved_by_whom_the_limits_say(amount: int, approval: RefundApproval) -> None:
    assert refund_approval(policy().refund_limits, amount) is approval


@pytest.mark.parametrize(
    ("category", "original", "substitute", "allowed"),
    [
        ("apparel", 1000, 1000, True),
        ("apparel", 1000, 1100, True),
        ("apparel", 1000, 1101, False),
        ("apparel", 1000, 500, True),
        ("electronics", 1000, 900, False),
    ],
)
def test_substitutions_stay_within_category_and_price_increase(
    category: str, original: int, substitute: int, allowed: bool
) -> None:
    rules = policy().substitutions
    verdict = substitution_allowed(
        rules, category=category, original_minor=original, substitute_minor=substitute
    )
    assert verdict is allowed


def test_detectors_are_on_unless_the_policy_turns_them_off() -> None:
    document = example()
    del document["detectors"]["payment_failed"]
    document["detectors"]["shipment_late"]["enabled"] = False
    configured = parse_policy(document)
    assert detector_enabled(configured, ExceptionType.PAYMENT_FAILED) is True
    assert detector_enabled(configured, ExceptionType.SHIPMENT_LATE) is False


def test_the_diff_lists_each_changed_leaf_by_path() -> None:
    before = policy_document(policy())
    after = policy_document(
        parse_policy(with_change("refund_limits.auto_approve_under_minor", 5000))
    )
    assert policy_diff(before, after) == [
        Change("refund_limits.auto_approve_under_minor", 2500, 5000)
    ]
    assert policy_diff(before, before) == []
    first = policy_diff(None, after)
    assert Change("timezone", None, "Europe/London") in first


def test_the_example_documents_the_tunable_numbers_of_payments_stuck_orders_and_chasing() -> None:
    """Every threshold of these detectors is written out, and each is one the detector knows."""
    from orderops.detect.thresholds import DEFAULTS, config_from_policy

    config = config_from_policy(policy())  # strict: an unknown name would raise
    for kind in (
        ExceptionType.PAYMENT_FAILED,
        ExceptionType.STUCK_ORDER,
        ExceptionType.CUSTOMER_CHASING,
    ):
        assert set(policy().detectors[kind].thresholds) == set(DEFAULTS[kind])
        assert config.thresholds(kind) == DEFAULTS[kind]
