"""The console's case page: time to answer and statements per view (issue #14).

For each database, one case as a reviewer finds it mid-work (tests/builders/cockpit.py:
a named customer with lines, a Stripe payment, a parcel with scans, a Zendesk ticket, the
shop and desk connected), recommended, the recommendation applied (its actions proposed,
its draft inserted), is opened --views times by a signed-in
reviewer through the real app (TestClient, no network), plain and with the proposal form
open (?propose=refund). Printed: p50 / p95 / max milliseconds and SELECTs per view. The
page was 0.1-0.7 s before the cockpit (issue #14); the aim is to stay inside that.

    .venv/bin/python benchmarks/case_page.py [--views 30] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from _db import scratch_database
from rich.console import Console
from rich.table import Table
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the builders

from builders.cockpit import known_customer_case
from builders.console import console_person, post_form, signed_in
from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.decide.actions import list_for_case
from orderops.domain.clock import FixedClock
from orderops.domain.roles import Role
from orderops.recommend.service import recommendations_for
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant

AIM_MS = 700.0


def run(kind: str, views: int) -> list[tuple[str, list[float], float]]:
    clock = FixedClock(datetime(2026, 11, 20, 12, 0, tzinfo=UTC))
    with scratch_database(kind) as url, tempfile.TemporaryDirectory() as data:
        settings = Settings(database_url=url, data_dir=Path(data), demo_mode=True)
        app = bootstrap(settings, clock=clock)
        ensure_tenant(app.sessions, tenant_id="acme", name="Acme", clock=clock)
        case_id, _ = known_customer_case(app, clock)
        maker = signed_in(app, console_person(app, clock, role=Role.APPROVER, name="Mo"))
        post_form(maker, f"/console/cases/{case_id}", f"/console/cases/{case_id}/recommend")
        with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
            (stored,) = recommendations_for(uow, case_id)
        apply = f"/console/cases/{case_id}/recommendations/{stored['id']}/apply"
        post_form(maker, f"/console/cases/{case_id}", apply)
        assert list_for_case(app.sessions, tenant_id="acme", case_id=case_id), "nothing applied"
        engine = app.sessions.kw["bind"]
        selects = [0]

        def count(*args: object) -> None:
            if str(args[2]).lstrip().upper().startswith("SELECT"):
                selects[0] += 1

        results = []
        for label, path in (
            ("case page", f"/console/cases/{case_id}"),
            ("with the form", f"/console/cases/{case_id}?propose=refund"),
        ):
            assert maker.get(path).status_code == 200  # warm: templates compiled
            timings = []
            selects[0] = 0
            event.listen(engine, "before_cursor_execute", count)
            for _ in range(views):
                started = time.perf_counter()
                answer = maker.get(path)
                timings.append(1000 * (time.perf_counter() - started))
                assert answer.status_code == 200
            event.remove(engine, "before_cursor_execute", count)
            results.append((label, timings, selects[0] / views))
        app.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--views", type=int, default=30)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    args = parser.parse_args()
    table = Table("database", "view", "p50 ms", "p95 ms", "max ms", "SELECTs / view")
    for kind in args.db or ["sqlite", "postgres"]:
        for label, timings, selects in run(kind, args.views):
            ordered = sorted(timings)
            table.add_row(
                kind,
                label,
                f"{statistics.median(ordered):.0f}",
                f"{ordered[int(0.95 * (len(ordered) - 1))]:.0f}",
                f"{ordered[-1]:.0f}",
                f"{selects:.0f}",
            )
    Console().print(table)
    print(f"aim: every view under {AIM_MS:.0f} ms (the page was 0.1-0.7 s before the cockpit)")


if __name__ == "__main__":
    main()
