"""``Idempotency-Key`` on state-changing POSTs: a retry is answered, not executed again.

Against the real app on both databases: the first answer to a key (status and body) is
replayed to a retry with the same request; the key cannot be reused for another request;
keys belong to a tenant and a key's owner and last 24 hours; of concurrent claims of one
key exactly one wins (the table's primary key decides).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from builders.access import Person, key_for
from builders.database_roles import owner_sessions
from builders.events import order_placed
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.storage import idempotency_keys as keys
from orderops.storage.tables import IdempotencyKey, InboxEvent
from orderops.workflow.retention import run_retention

KEY = "9b0f6a52-3c1d-4f7e-a1f0-6f2d7b1c0e55"


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def client(app: App, service_key: str) -> Iterator[TestClient]:
    with TestClient(create_app(app), headers=bearer(service_key)) as test_client:
        yield test_client


def post_event(client: TestClient, event: dict[str, Any], key: str = KEY, **headers: str) -> Any:
    return client.post(
        "/v1/events", content=json.dumps(event), headers={"Idempotency-Key": key, **headers}
    )


def without_request_id(answer: Any) -> dict[str, Any]:
    """The problem as stored: each answer names its own request (``telemetry/requests.py``)."""
    body: dict[str, Any] = answer.json()
    body.pop("request_id", None)
    return body


def inbox_rows(app: App) -> int:
    with owner_sessions(app)() as session:
        return int(session.scalar(select(func.count()).select_from(InboxEvent)) or 0)


def test_a_retry_with_the_key_gets_the_first_answer_and_nothing_runs_again(
    app: App, client: TestClient, clock: FixedClock
) -> None:
    event = order_placed("o-1", at=clock.now() - timedelta(hours=1))
    first = post_event(client, event)
    retry = post_event(client, event)
    unkeyed = client.post("/v1/events", content=json.dumps(event))

    assert first.status_code == 202
    assert "Idempotent-Replayed" not in first.headers
    assert (retry.status_code, retry.json()) == (202, first.json())
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert retry.headers["content-type"] == first.headers["content-type"]
    # without the key the same event is an ordinary duplicate: the retry above was a replay
    assert (unkeyed.status_code, unkeyed.json()["duplicates"]) == (200, 1)
    assert inbox_rows(app) == 1


def test_an_error_answer_is_replayed_too(client: TestClient) -> None:
    first = post_event(client, {"not": "an event"})
    retry = post_event(client, {"not": "an event"})

    assert first.status_code == 422
    assert (retry.status_code, without_request_id(retry)) == (422, without_request_id(first))
    assert retry.headers["content-type"] == "application/problem+json"
    assert retry.headers["Idempotent-Replayed"] == "true"


def test_the_same_key_for_a_different_request_is_refused(
    client: TestClient, clock: FixedClock
) -> None:
    at = clock.now() - timedelta(hours=1)
    post_event(client, order_placed("o-1", at=at))
    other = post_event(client, order_placed("o-2", at=at))

    assert other.status_code == 422
    assert other.headers["content-type"] == "application/problem+json"
    assert other.json()["type"].endswith("/idempotency-key-reused")


def test_keys_belong_to_their_owner_and_tenant(
    app: App, client: TestClient, clock: FixedClock
) -> None:
    at = clock.now() - timedelta(hours=1)
    other_owner = key_for(app, tenant_id="acme", name="svc-2", role=Role.SERVICE, clock=clock)
    other_tenant = key_for(app, tenant_id="globex", name="svc-g", role=Role.SERVICE, clock=clock)
    post_event(client, order_placed("o-1", at=at))

    for secret in (other_owner.secret, other_tenant.secret):
        answer = post_event(client, order_placed("o-9", at=at), **bearer(secret))
        assert answer.status_code == 202, answer.text
        assert "Idempotent-Replayed" not in answer.headers


def test_a_key_expires_after_24_hours(app: App, client: TestClient, clock: FixedClock) -> None:
    at = clock.now() - timedelta(hours=1)
    post_event(client, order_placed("o-1", at=at))
    clock.advance(timedelta(hours=24))
    reused = post_event(client, order_placed("o-2", at=at))

    assert reused.status_code == 202
    assert "Idempotent-Replayed" not in reused.headers
    assert inbox_rows(app) == 2


@pytest.mark.parametrize("key", [b"", b"x" * 256, b"tab\there", "naïve".encode()])
def test_a_malformed_key_is_a_400_problem(app: App, client: TestClient, key: bytes) -> None:
    answer = client.post(
        "/v1/events",
        content=json.dumps(order_placed("o-1", at=app.clock.now())),
        headers=[("Idempotency-Key", key)],
    )

    assert answer.status_code == 400
    assert answer.json()["type"].endswith("/invalid-idempotency-key")
    assert inbox_rows(app) == 0


def test_of_concurrent_claims_of_one_key_exactly_one_executes(app: App, clock: FixedClock) -> None:
    which = keys.KeyOf("acme", "key:k1", KEY)
    barrier = threading.Barrier(6)
    outcomes: list[keys.Claim] = []

    def racer() -> None:
        barrier.wait()
        outcomes.append(keys.claim(app.sessions, which, fingerprint="f" * 64, now=clock.now()))

    threads = [threading.Thread(target=racer) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(type(o).__name__ for o in outcomes) == ["Claimed"] + ["Running"] * 5


def test_a_released_claim_runs_again_and_an_answered_one_is_replayed(
    app: App, clock: FixedClock
) -> None:
    which = keys.KeyOf("acme", "key:k1", KEY)
    now = clock.now()
    assert keys.claim(app.sessions, which, fingerprint="a" * 64, now=now) == keys.Claimed()
    keys.release(app.sessions, which, fingerprint="a" * 64)  # a server error: not kept
    assert keys.claim(app.sessions, which, fingerprint="a" * 64, now=now) == keys.Claimed()
    keys.answer(
        app.sessions, which, fingerprint="a" * 64, status=201, content_type="x/y", body=b"{}"
    )

    assert keys.claim(app.sessions, which, fingerprint="a" * 64, now=now) == keys.Answered(
        201, "x/y", b"{}"
    )
    assert keys.claim(app.sessions, which, fingerprint="b" * 64, now=now) == keys.Mismatch()


def test_an_unanswered_claim_is_taken_over_once_abandoned(app: App, clock: FixedClock) -> None:
    which = keys.KeyOf("acme", "key:k1", KEY)
    now = clock.now()
    keys.claim(app.sessions, which, fingerprint="a" * 64, now=now)

    assert keys.claim(app.sessions, which, fingerprint="a" * 64, now=now) == keys.Running()
    later = now + keys.ABANDONED_AFTER
    assert keys.claim(app.sessions, which, fingerprint="a" * 64, now=later) == keys.Claimed()


def test_expired_keys_are_purged(app: App, clock: FixedClock) -> None:
    now = clock.now()
    keys.claim(app.sessions, keys.KeyOf("acme", "key:k1", "old"), fingerprint="a" * 64, now=now)
    keys.claim(
        app.sessions,
        keys.KeyOf("acme", "key:k1", "new"),
        fingerprint="a" * 64,
        now=now + timedelta(hours=12),
    )

    purged = keys.purge_expired(app.sessions, tenant_id="acme", now=now + keys.KEY_LIFETIME)

    with owner_sessions(app)() as session:
        left = list(session.scalars(select(IdempotencyKey.idempotency_key)))
    assert (purged, left) == (1, ["new"])


def test_the_retention_run_purges_expired_keys(app: App, clock: FixedClock) -> None:
    keys.claim(
        app.sessions, keys.KeyOf("acme", "key:k1", "old"), fingerprint="a" * 64, now=clock.now()
    )
    clock.advance(keys.KEY_LIFETIME)

    run_retention(app.sessions, tenant_id="acme", clock=clock)

    with owner_sessions(app)() as session:
        assert list(session.scalars(select(IdempotencyKey.idempotency_key))) == []


def test_an_answer_showing_a_secret_once_is_not_kept_and_its_retry_issues_nothing(
    app: App, http: TestClient, admin: Person, agent: Person
) -> None:
    issue = f"/v1/admin/users/{agent.user_id}/keys"
    headers = {**admin.headers, "Idempotency-Key": "issue-ci-key"}

    first = http.post(issue, json={"name": "ci"}, headers=headers)
    retry = http.post(issue, json={"name": "ci"}, headers=headers)

    assert first.status_code == 201, first.text
    secret = first.json()["secret"]
    assert first.headers["cache-control"] == "no-store"
    assert retry.status_code == 409
    assert retry.json()["type"].endswith("/idempotency-answer-not-kept")
    assert secret not in retry.text
    listed = http.get("/v1/admin/keys", headers=admin.headers).json()
    assert [k["name"] for k in listed].count("ci") == 1  # the retry issued no second key
    with owner_sessions(app)() as session:
        stored = session.scalars(select(IdempotencyKey.response_body)).all()
    assert stored
    assert not any(secret.encode() in (body or b"") for body in stored)
