"""The store to replay: a recorded folder as given, or one the provider-format simulator
(``orderops.sim.providers``) writes for this run into a temporary folder, removed after."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console


@contextmanager
def simulated_store(
    folder: Path | None, *, seed: int, days: float, orders_per_day: int, console: Console
) -> Iterator[Path]:
    if folder is not None:
        yield folder
        return
    from orderops.sim.providers.run import write_store

    with tempfile.TemporaryDirectory(prefix="orderops-webhook-store-") as scratch:
        written = write_store(Path(scratch), seed=seed, days=days, orders_per_day=orders_per_day)
        console.print(
            f"simulated store: seed {seed}, {days:g} days x {orders_per_day} orders/day, "
            f"{written.deliveries} deliveries, {written.labels} labels",
            highlight=False,
        )
        yield written.folder
