"""A stored backtest report without a replay, for tests of the routes and pages that read
them (a real run replays into two scratch desks: seconds, not milliseconds); the body of a
``POST /v1/backtests`` and a recorded order for a requested run to replay."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from fastapi.testclient import TestClient

from builders.access import Person
from builders.events import order_placed, payment
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.workflow.backtest import store_run
from orderops.workflow.backtest_report import RunResult, compare
from orderops.workflow.candidate_policy import parse_candidate

CANDIDATE = "routing_rules:\n  - {name: everything to ops, queue: ops, priority: P2}\n"
EVERYTHING_TO_OPS = "routing_rules.everything to ops"
"""The policy diff's path of CANDIDATE's one rule."""


def request_body(clock: FixedClock, *, days: int = 1) -> dict[str, Any]:
    """CANDIDATE as the API takes it (JSON), over the last ``days`` days up to now."""
    return {
        "from": (clock.now() - timedelta(days=days)).isoformat(),
        "to": clock.now().isoformat(),
        "candidate": {
            "routing_rules": [{"name": "everything to ops", "queue": "ops", "priority": "P2"}]
        },
    }


def recorded_order(http: TestClient, clock: FixedClock, sender: Person, *, hours_ago: int) -> None:
    """Two events (an order placed and paid) received ``hours_ago`` hours before now."""
    now = clock.now()
    clock.set(now - timedelta(hours=hours_ago))
    for event in (
        order_placed("o-bt-1", at=clock.now()),
        payment("o-bt-1", status="captured", at=clock.now()),
    ):
        answer = http.post("/v1/events", json=event, headers=sender.headers)
        assert answer.status_code == 202, answer.text
    clock.set(now)


def stored_run(app: App, clock: FixedClock, *, tenant: str = "acme", order_ref: str = "o-1") -> str:
    """A run whose candidate opened one fraud review case on ``order_ref`` that live did not."""
    opened = clock.now().isoformat()
    candidate = RunResult(
        cases=[
            {
                "order_ref": order_ref,
                "type": "fraud_review",
                "status": "new",
                "queue": "fraud",
                "priority": "P1",
                "detected_at": opened,
                "opened_at": opened,
                "closed_at": None,
            }
        ]
    )
    report = compare(RunResult(), candidate) | {
        "window": {
            "from": (clock.now() - timedelta(days=7)).isoformat(),
            "to": clock.now().isoformat(),
        },
        "events": 1,
        "pace": {"sweep_minutes": 60.0, "tick_minutes": 5.0, "recommendations_accepted": True},
        "policy_changes": 1,
        "seconds": 0.1,
    }
    diff = [{"path": "routing_rules.everything to ops", "before": None, "after": {"queue": "ops"}}]
    return store_run(
        app,
        tenant_id=tenant,
        actor="test",
        candidate=parse_candidate(CANDIDATE),
        diff=diff,
        report=report,
    )
