"""Two people acting on the same version of a case at the same moment: exactly one wins.

Real HTTP on a real socket, the app served by uvicorn in a thread, and two client
threads released together, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

import threading
from typing import Any

import httpx
import pytest

import orderops.storage.tables.queues  # noqa: F401  (the case-work tables)
from builders.access import key_for
from builders.case_work import open_payment_case, work_api
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.sandbox.runner import run_sandbox
from orderops.storage.uow import UnitOfWork

ROUNDS = 4


def race(
    base_url: str, secrets: list[str], requests: list[tuple[str, dict[str, Any]]]
) -> list[httpx.Response]:
    """Fire one request per thread, all released by one barrier; answers in thread order."""
    barrier = threading.Barrier(len(requests))
    answers: list[httpx.Response | None] = [None] * len(requests)

    def fire(index: int) -> None:
        path, body = requests[index]
        with httpx.Client(
            base_url=base_url,
            headers={"Authorization": f"Bearer {secrets[index]}"},
            timeout=30.0,
        ) as client:
            barrier.wait()
            answers[index] = client.post(path, json=body)

    threads = [threading.Thread(target=fire, args=(i,)) for i in range(len(requests))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(a is not None for a in answers)
    return [a for a in answers if a is not None]


def current_version(app: App, case_id: str) -> int:
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        case = uow.cases.get(case_id)
        assert case is not None
        return case.version


@pytest.fixture
def secrets(app: App, clock: FixedClock) -> list[str]:
    return [
        key_for(app, tenant_id="acme", name=name, role=Role.AGENT, clock=clock).secret
        for name in ("al", "bo")
    ]


def test_two_claims_on_one_version_one_wins_the_other_sees_the_winner(
    app: App, clock: FixedClock, secrets: list[str]
) -> None:
    fastapi = work_api(app)
    cases = [open_payment_case(app, clock, f"o-{n}") for n in range(ROUNDS)]

    with run_sandbox(fastapi) as base_url:
        rounds = []
        for case_id in cases:
            body = {"version": current_version(app, case_id)}
            path = f"/v1/cases/{case_id}/claim"
            rounds.append((case_id, race(base_url, secrets, [(path, body), (path, body)])))

    for case_id, answers in rounds:
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [200, 409], [a.text for a in answers]
        (winner,) = [a.json() for a in answers if a.status_code == 200]
        (loser,) = [a.json() for a in answers if a.status_code == 409]
        assert loser["type"].rsplit("/", 1)[1] in {"stale-case", "already-claimed"}
        assert loser["case"]["assignee"] == winner["assignee"]
        assert loser["case"]["version"] == winner["version"] == current_version(app, case_id)


def test_two_different_moves_on_one_version_only_one_is_applied(
    app: App, clock: FixedClock, secrets: list[str]
) -> None:
    fastapi = work_api(app)
    cases = [open_payment_case(app, clock, f"o-{n}") for n in range(ROUNDS)]

    with run_sandbox(fastapi) as base_url:
        rounds = []
        for case_id in cases:
            seen = current_version(app, case_id)
            path = f"/v1/cases/{case_id}/transitions"
            rounds.append(
                (
                    case_id,
                    race(
                        base_url,
                        secrets,
                        [
                            (path, {"move": "resolve", "reason": "paid", "version": seen}),
                            (path, {"move": "escalate", "reason": "stuck", "version": seen}),
                        ],
                    ),
                )
            )

    for case_id, answers in rounds:
        assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
        (winner,) = [a.json() for a in answers if a.status_code == 200]
        (loser,) = [a.json() for a in answers if a.status_code == 409]
        assert loser["type"].endswith("/stale-case")
        assert loser["case"]["status"] == winner["status"]
        with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
            moves = [e.kind for e in uow.cases.timeline(case_id) if e.actor.startswith("user:")]
        assert moves == [winner["status"]]
