"""How long `orderops` takes to answer, beside a bare interpreter start in the same run.

Each command runs as a fresh process, the way a person or a script runs it; the runs are
interleaved (one of each command per round) so that load from anything else on the
machine falls on all of them alike. For each command the median and p90 wall seconds and
the CPU seconds of the process are printed, with the ratio of medians to the baseline
(`python -c pass`). The aim: `orderops --help` under 0.5 s of wall time. Wall time
suffers when other work shares the cores; CPU time shows the command's own cost then.

    .venv/bin/python benchmarks/cli_startup.py [--runs 20] [--quick]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

AIM_SECONDS = 0.5
"""`orderops --help` should answer in less than this (median wall time)."""


@dataclass
class Command:
    label: str
    argv: list[str]
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


def orderops() -> list[str]:
    """The installed console script beside this interpreter, else the module itself."""
    script = Path(sys.executable).with_name("orderops")
    return [str(script)] if script.exists() else [sys.executable, "-m", "orderops.cli"]


def commands() -> list[Command]:
    cli = orderops()
    return [
        Command("python -c pass (baseline)", [sys.executable, "-c", "pass"]),
        Command("orderops --help", [*cli, "--help"]),
        Command("orderops deadletters --help", [*cli, "deadletters", "--help"]),
        Command("orderops import --help", [*cli, "import", "--help"]),
    ]


def run_once(command: Command) -> None:
    """One run: wall seconds, and the CPU seconds (user + system) of the child."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(
        command.argv,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "COLUMNS": "100"},
        check=True,
    )
    command.wall.append(time.perf_counter() - start)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    command.cpu.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))


def p90(values: list[float]) -> float:
    return statistics.quantiles(values, n=10, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of each command")
    parser.add_argument("--quick", action="store_true", help="5 runs of each command")
    args = parser.parse_args()
    runs = 5 if args.quick else max(args.runs, 2)

    measured = commands()
    for command in measured:  # warm the bytecode cache and the OS file cache once
        subprocess.run(command.argv, capture_output=True, check=True)
    for _ in range(runs):
        for command in measured:
            run_once(command)

    baseline = statistics.median(measured[0].wall)
    print(f"{runs} runs each, {os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print(f"{'command':<32}{'median s':>10}{'p90 s':>9}{'cpu s':>8}{'x baseline':>12}")
    for command in measured:
        median = statistics.median(command.wall)
        print(
            f"{command.label:<32}{median:>10.3f}{p90(command.wall):>9.3f}"
            f"{statistics.median(command.cpu):>8.3f}{median / baseline:>12.1f}"
        )
    help_median = statistics.median(measured[1].wall)
    verdict = "ok" if help_median < AIM_SECONDS else "MISSED"
    print(f"aim: orderops --help median < {AIM_SECONDS} s: {help_median:.3f} s {verdict}")


if __name__ == "__main__":
    main()
