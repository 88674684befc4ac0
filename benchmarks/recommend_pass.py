"""The worker's recommendation pass: 100 new cases against 2,000 resolved ones.

For each database, the same tenant history (2,000 resolved cases, written straight to the
tables by tests/builders/similar_corpus.py) and batches of 100 identical-looking new
cases, each batch recommended once:

- off      the pass with similarity switched off (an empty index): the baseline
- cold     ``recommend_new_cases`` in a process that has no kept index yet (reads all
           2,000 past cases set-based, fits TF-IDF once)
- warm     the next pass, nothing resolved since (one statement for similarity)
- +10      the next pass after 10 more cases were resolved (reads 10, refits once)
- rebuild  the old way, every past case read again for each new case (``case_facts``
           per case) - timed on a few new cases only (--rebuild-cases), since a full
           pass takes many minutes; its pass figure is that per-case time x 100

"off" and "warm" alternate for --rounds rounds and the best of each is kept, so a
machine busy with something else slows both alike. Printed: seconds per pass,
milliseconds per case, statements per case, the ratio to the "off" baseline, and the
aim: a pass with similarity within 1.25x of one without (the index kept, not rebuilt).

    .venv/bin/python benchmarks/recommend_pass.py [--quick] [--db sqlite --db postgres]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from _db import scratch_database
from rich.console import Console
from rich.table import Table
from sqlalchemy import Engine, event, select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the builders

from builders.similar_corpus import rebuild_per_case, resolve_now, write_corpus
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.recommend.auto import recommend_new_cases
from orderops.recommend.service import recommend_case
from orderops.recommend.similar import SimilarCaseIndex
from orderops.storage.tables import Case
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import ensure_tenant

TENANT = "bench"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
AIM = 1.25


@contextmanager
def counted(engine: Engine) -> Iterator[list[int]]:
    """Counts the statements sent while the block runs (one element: the count)."""
    count = [0]

    def seen(*_: Any) -> None:
        count[0] += 1

    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield count
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def new_batch(app: App, size: int, *, at: datetime) -> list[str]:
    """``size`` open cases; every batch has the same shapes (same seed), only newer."""
    return write_corpus(
        app.sessions, tenant_id=TENANT, now=at, resolved=0, open_cases=size, seed=11
    ).open


def by_hand(app: App, case_ids: list[str], index_for: Callable[[UnitOfWork], Any]) -> None:
    """The pass as ``recommend_new_cases`` runs it, with the index chosen per case."""
    for case_id in case_ids:
        with UnitOfWork(app.sessions, tenant_id=TENANT) as uow:
            recommend_case(uow, case_id, now=NOW, actor="bench", index=index_for(uow))
            uow.commit()


def timed(app: App, work: Callable[[], Any]) -> tuple[float, int]:
    with counted(app.engine) as count:
        started = time.perf_counter()
        work()
        return time.perf_counter() - started, count[0]


def run(
    kind: str, past: int, size: int, rounds: int, rebuild_cases: int
) -> dict[str, tuple[float, int, int]]:
    """Per measurement: (seconds, statements, cases); "off" and "warm" best of ``rounds``."""
    results: dict[str, tuple[float, int, int]] = {}
    with scratch_database(kind) as url, tempfile.TemporaryDirectory() as data:
        clock = FixedClock(NOW)
        app = bootstrap(
            Settings(database_url=url, data_dir=Path(data), demo_mode=True), clock=clock
        )
        ensure_tenant(app.sessions, tenant_id=TENANT, name="Bench", clock=clock)
        started = time.perf_counter()
        write_corpus(app.sessions, tenant_id=TENANT, now=NOW - timedelta(days=1), resolved=past)
        print(f"{kind}: {past:,} resolved cases written in {time.perf_counter() - started:.0f}s")
        if app.engine.dialect.name == "postgresql":
            with app.engine.begin() as connection:
                connection.exec_driver_sql("ANALYZE")

        def keep(label: str, seconds: float, statements: int, cases: int) -> None:
            if label not in results or seconds < results[label][0]:
                results[label] = (seconds, statements, cases)

        def worker_pass(label: str) -> None:
            new_batch(app, size, at=NOW)
            seconds, statements = timed(
                app, lambda: recommend_new_cases(app.sessions, tenant_id=TENANT, clock=clock)
            )
            keep(label, seconds, statements, size)

        def pass_without_similarity() -> None:
            batch = new_batch(app, size, at=NOW)
            seconds, statements = timed(
                app, lambda: by_hand(app, batch, lambda _: SimilarCaseIndex([]))
            )
            keep("off", seconds, statements, size)

        # a first pass warms connections, templates and the playbook; it is not counted
        by_hand(app, new_batch(app, 2, at=NOW), lambda _: SimilarCaseIndex([]))
        pass_without_similarity()
        worker_pass("cold")
        for _ in range(rounds):  # alternating, so a busy machine slows both alike
            worker_pass("warm")
            pass_without_similarity()
        with app.engine.begin() as connection:
            recommended = list(
                connection.scalars(
                    select(Case.id)
                    .where(Case.tenant_id == TENANT, Case.status == "new")
                    .order_by(Case.opened_at)
                    .limit(10)
                )
            )
        for n, case_id in enumerate(recommended):
            resolve_now(
                app.sessions,
                tenant_id=TENANT,
                case_id=case_id,
                at=NOW + timedelta(minutes=n + 1),
                kind="reship",
            )
        worker_pass("+10")

        old = new_batch(app, rebuild_cases, at=NOW)

        def rebuilt(uow: UnitOfWork) -> SimilarCaseIndex:
            return SimilarCaseIndex(rebuild_per_case(uow, now=NOW))

        seconds, statements = timed(app, lambda: by_hand(app, old, rebuilt))
        keep("rebuild", seconds, statements, rebuild_cases)
        app.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="500 past cases, 20 new, SQLite")
    parser.add_argument("--db", action="append", choices=["sqlite", "postgres"])
    parser.add_argument("--past", type=int, default=None)
    parser.add_argument("--new", type=int, default=None)
    parser.add_argument("--rounds", type=int, default=3, help="off/warm passes, best kept")
    parser.add_argument("--rebuild-cases", type=int, default=2)
    args = parser.parse_args()
    past = args.past or (500 if args.quick else 2_000)
    size = args.new or (20 if args.quick else 100)
    kinds = args.db or (["sqlite"] if args.quick else ["sqlite", "postgres"])
    table = Table(
        "database",
        "pass",
        f"s / {size} cases",
        "ms / case",
        "statements / case",
        "vs off",
    )
    verdicts = []
    for kind in kinds:
        results = run(kind, past, size, args.rounds, args.rebuild_cases)
        base = results["off"][0] / results["off"][2]
        for label, (seconds, statements, cases) in results.items():
            per_case = seconds / cases
            table.add_row(
                kind,
                label + (f" (timed on {cases})" if cases != size else ""),
                f"{per_case * size:.2f}",
                f"{1000 * per_case:.1f}",
                f"{statements / cases:.1f}",
                f"{per_case / base:.2f}x",
            )
        rebuild_per_case_s = results["rebuild"][0] / results["rebuild"][2]
        for label in ("cold", "warm", "+10"):
            ratio = results[label][0] / results["off"][0]
            speedup = rebuild_per_case_s / (results[label][0] / size)
            verdicts.append(
                f"{kind} {label}: {ratio:.2f}x the pass without similarity "
                f"({'meets' if ratio <= AIM else 'misses'} the aim of {AIM}x); "
                f"{speedup:.0f}x faster per case than the per-case rebuild"
            )
    Console().print(table)
    Console().print(f"{past:,} resolved cases; aim: a pass within {AIM}x of one without similarity")
    for verdict in verdicts:
        print(verdict)


if __name__ == "__main__":
    main()
