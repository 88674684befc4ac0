"""Replaying a recorded store into a live desk through its webhook endpoints, then scoring.

The desk is judged the way a retailer would meet it: every delivery is posted over HTTP,
in ``deliver_at`` order, to the tenant's URL for that provider, signed with that
provider's scheme at ``deliver_at`` while the desk's clock reads ``deliver_at``. The
endpoint only stores a delivery, so after each one the worker's inbox drain
(``workflow.worker.drain_inbox``, what ``orderops worker`` runs whenever events wait)
processes it at that same time, as a worker keeping up would; the worker's full pass
(``run_once``: sweeps, timers, recommendations) runs every 15 simulated minutes of
delivery time and once more at the window's end. Only then is anything read back: every
case ever opened, the inbox rows still deferred, the link suggestions, and how many
passes records that came before their order waited for their link.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from orderops.evaluation import observed
from orderops.evaluation.desk import Desk, booted_desk, desk_settings
from orderops.evaluation.history import Delivery, StoreHistory
from orderops.evaluation.scoring import LinkLatency, TypeScore, link_latency, score_cases
from orderops.evaluation.signing import sign
from orderops.storage.repositories.intake import InboxStatus
from orderops.workflow.pipeline import DEFERRED
from orderops.workflow.worker import drain_inbox, run_once

PASS_INTERVAL = timedelta(minutes=15)
TENANT = "eval"
HTTP_TIMEOUT_SECONDS = 120.0
"""Generous: one delivery may release many deferred records in its own request."""

Progress = Callable[[int, int], None]


@dataclass
class Refusals:
    """Valid deliveries the desk did not answer with 2xx, per (provider, reason)."""

    counts: Counter[tuple[str, str]] = field(default_factory=Counter)
    examples: dict[tuple[str, str], str] = field(default_factory=dict)

    def add(self, provider: str, reason: str, example: str) -> None:
        self.counts[(provider, reason)] += 1
        self.examples.setdefault((provider, reason), example)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"provider": p, "reason": r, "count": n, "example": self.examples[(p, r)]}
            for (p, r), n in sorted(self.counts.items())
        ]


@dataclass(frozen=True)
class Replay:
    posted: dict[str, int]
    refusals: Refusals
    passes: tuple[datetime, ...]


@dataclass(frozen=True)
class WebhookEvaluation:
    history: StoreHistory
    database: str
    replay: Replay
    scores: dict[str, TypeScore]
    deferred: dict[str, int]
    failed: dict[str, int]
    suggestions: dict[str, int]
    links: dict[str, int]
    latency: LinkLatency

    @property
    def posted(self) -> int:
        return sum(self.replay.posted.values())

    @property
    def all_aims_met(self) -> bool:
        return (
            self.replay.refusals.total == 0
            and all(s.meets_aims for s in self.scores.values())
            and self.latency.meets_aim
        )

    def to_json(self) -> dict[str, Any]:
        history = self.history
        return {
            "through": "webhooks",
            "history": {
                "folder": str(history.folder),
                "store": dict(history.store),
                "deliveries": len(history.deliveries),
                "labels": len(history.labels),
                "deliveries_put_back_in_time_order": history.reordered,
                "repeated_labels_merged": history.merged_labels,
            },
            "database": self.database,
            "deliveries": {
                "posted": self.posted,
                "posted_per_provider": dict(sorted(self.replay.posted.items())),
                "refused": self.replay.refusals.total,
                "refused_detail": self.replay.refusals.to_json(),
                "aim_refused": 0,
                "meets_aim": self.replay.refusals.total == 0,
            },
            "worker_passes": len(self.replay.passes),
            "types": [s.to_json() for _, s in sorted(self.scores.items())],
            "inbox_deferred_at_end": self.deferred,
            "inbox_failed_at_end": self.failed,
            "link_suggestions": self.suggestions,
            "links_per_method": self.links,
            "link_latency": self.latency.to_json(),
            "all_aims_met": self.all_aims_met,
        }


def evaluate_history(
    history: StoreHistory,
    *,
    database_url: str | None = None,
    workdir: Path | None = None,
    progress: Progress | None = None,
    pass_every: timedelta = PASS_INTERVAL,
) -> WebhookEvaluation:
    """Boot a desk, replay ``history`` into it over HTTP, and score what it did."""
    if not history.deliveries:
        raise ValueError(f"{history.folder}: no deliveries to replay")
    with tempfile.TemporaryDirectory(prefix="orderops-webhook-eval-") as scratch:
        folder = workdir or Path(scratch)
        settings = desk_settings(database_url=database_url, workdir=folder)
        start = history.deliveries[0].deliver_at
        if history.window_start is not None:
            start = min(start, history.window_start)
        with booted_desk(settings, tenant_id=TENANT, start=start, policy=history.policy) as desk:
            end = max(history.window_end or start, history.deliveries[-1].deliver_at)
            with httpx.Client(timeout=HTTP_TIMEOUT_SECONDS) as client:
                replay = replay_deliveries(
                    desk,
                    history.deliveries,
                    end=end,
                    client=client,
                    progress=progress,
                    pass_every=pass_every,
                )
            database = settings.resolved_database_url if workdir or database_url else None
            return _score(desk, history, replay, database)


def replay_deliveries(
    desk: Desk,
    deliveries: Sequence[Delivery],
    *,
    end: datetime,
    client: httpx.Client,
    progress: Progress | None = None,
    pass_every: timedelta = PASS_INTERVAL,
) -> Replay:
    """Post each delivery at its time and drain the inbox after it, with full worker
    passes every ``pass_every`` between (the worker's 15 minutes unless a test asks for
    fewer), then passes on to ``end`` and one at ``end``."""
    posted: Counter[str] = Counter()
    refusals = Refusals()
    passes: list[datetime] = []
    next_pass = _next_boundary(deliveries[0].deliver_at, pass_every) if deliveries else end

    def run_pass(at: datetime) -> None:
        desk.clock.set(at)
        run_once(desk.app)
        passes.append(desk.clock.now())

    for done, delivery in enumerate(deliveries, 1):
        while next_pass <= delivery.deliver_at:
            run_pass(next_pass)
            next_pass += pass_every
        desk.clock.set(delivery.deliver_at)
        refusal = post_delivery(desk, delivery, client=client)
        drain_inbox(desk.app)
        posted[delivery.provider] += 1
        if refusal is not None:
            refusals.add(delivery.provider, *refusal)
        if progress is not None:
            progress(done, len(deliveries))
    while next_pass < end:
        run_pass(next_pass)
        next_pass += pass_every
    run_pass(max(end, desk.clock.now()))
    return Replay(posted=dict(posted), refusals=refusals, passes=tuple(passes))


def post_delivery(
    desk: Desk, delivery: Delivery, *, client: httpx.Client
) -> tuple[str, str] | None:
    """POST one signed delivery; None on 2xx, else (reason, an example detail).

    The reason is the status and the problem type the desk answered with, so refusals of
    one kind are counted together however their details differ.
    """
    body = delivery.payload()
    secret = desk.signing_secrets[delivery.provider]
    headers = {
        "content-type": "application/json",
        **delivery.headers,
        **sign(delivery.provider, body, secret, desk.clock.now()),
    }
    try:
        response = client.post(desk.urls[delivery.provider], content=body, headers=headers)
    except httpx.HTTPError as exc:
        return f"transport {type(exc).__name__}", f"seq {delivery.seq}: {exc}"
    if response.is_success:
        return None
    code, detail = _problem(response)
    return f"{response.status_code} {code}", f"seq {delivery.seq}: {detail}"


def _problem(response: httpx.Response) -> tuple[str, str]:
    try:
        document = response.json()
    except ValueError:
        return "-", response.text[:300]
    if not isinstance(document, dict):
        return "-", response.text[:300]
    code = str(document.get("type") or "-").rsplit("/", 1)[-1]
    return code, str(document.get("detail") or document.get("title") or "")[:300]


def _next_boundary(at: datetime, every: timedelta = PASS_INTERVAL) -> datetime:
    """The first pass time after ``at`` on the UTC grid of ``every`` (a quarter-hour:
    :00, :15, :30, :45)."""
    utc = at.astimezone(UTC)
    midnight = utc.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight + ((utc - midnight) // every + 1) * every


def _score(
    desk: Desk, history: StoreHistory, replay: Replay, database: str | None
) -> WebhookEvaluation:
    sessions, tenant = desk.app.sessions, desk.tenant_id
    cases = observed.opened_cases(sessions, tenant_id=tenant)
    return WebhookEvaluation(
        history=history,
        database=_redacted(database) if database else "sqlite (a temporary file, removed)",
        replay=replay,
        scores=score_cases(history.labels, cases),
        deferred=observed.inbox_by_status(sessions, tenant_id=tenant, status=DEFERRED),
        failed=observed.inbox_by_status(sessions, tenant_id=tenant, status=InboxStatus.FAILED),
        suggestions=observed.link_suggestions(sessions, tenant_id=tenant),
        links=observed.link_methods(sessions, tenant_id=tenant),
        latency=link_latency(observed.early_records(sessions, tenant_id=tenant), replay.passes),
    )


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
