"""``python -m orderops.sim --out DIR``: write a simulated store's events and labels to disk.

A thin shell for benchmarks and evaluation scripts that want files rather than objects;
the ``orderops`` command can wrap ``simulate``/``write_sim`` the same way.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from orderops.sim.config import DEFAULT_START, SimConfig
from orderops.sim.files import write_sim
from orderops.sim.runner import simulate


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orderops.sim", description=__doc__)
    parser.add_argument("--out", type=Path, required=True, help="directory for the .jsonl files")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--start",
        type=datetime.fromisoformat,
        default=DEFAULT_START,
        help="window start, ISO 8601 with a zone",
    )
    parser.add_argument("--days", type=float, default=1.0)
    parser.add_argument("--history-days", type=int, default=6)
    parser.add_argument("--orders-per-day", type=int, default=150)
    parser.add_argument("--payment-failed-rate", type=float, default=0.04)
    parser.add_argument("--late-rate", type=float, default=0.05)
    args = parser.parse_args(argv)
    config = SimConfig(
        seed=args.seed,
        start=args.start,
        days=args.days,
        history_days=args.history_days,
        orders_per_day=args.orders_per_day,
        payment_failed_rate=args.payment_failed_rate,
        late_rate=args.late_rate,
    )
    result = simulate(config)
    events_path, labels_path = write_sim(result, args.out)
    print(f"{len(result.events)} events -> {events_path}")
    print(f"{len(result.labels)} labels -> {labels_path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
