"""The demo's business clock runs 1,800 times faster than its reviewers: its tenant's
approval requests and desk holds must not lapse before a second person gets to them."""

from __future__ import annotations

from datetime import timedelta

from orderops.bootstrap import App
from orderops.decide.policy_versions import version_info
from orderops.demo import widen_approval_windows
from orderops.domain.approval_policy import DEFAULT_POLICY, parse_policy
from orderops.domain.clock import FixedClock
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant

DEFAULT_SPEED = 1800  # `orderops demo --speed`


def test_the_demo_tenants_windows_outlast_a_reviewers_half_hour_at_demo_speed(
    app: App, clock: FixedClock
) -> None:
    ensure_tenant(app.sessions, tenant_id="demo", name="Demo Store", clock=clock)

    widen_approval_windows(app, clock)

    with UnitOfWork(app.sessions, tenant_id="demo", write=False) as uow:
        current = version_info(uow)
    policy = parse_policy(current.body)
    assert (current.version, current.created_by) == (1, "demo")
    assert timedelta(hours=DEFAULT_POLICY.expiry_hours) / DEFAULT_SPEED < timedelta(minutes=2)
    assert timedelta(hours=policy.expiry_hours) / DEFAULT_SPEED >= timedelta(minutes=30)
    assert timedelta(hours=policy.hold_expiry_hours) / DEFAULT_SPEED >= timedelta(minutes=20)
    # only the windows changed: the demo's approval rules are the product's
    assert {k: v for k, v in current.body.items() if "expiry" not in k} == {
        k: v for k, v in DEFAULT_POLICY.body().items() if "expiry" not in k
    }
