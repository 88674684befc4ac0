"""The `orderops` command, as an operator would use it, on the embedded database."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from orderops.cli import cli
from orderops.sim import read_labels

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORDEROPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ORDEROPS_DATABASE_URL", raising=False)
    # `ingest` runs on the real settings (no demo placeholder key) into an existing tenant.
    monkeypatch.setenv("ORDEROPS_SECRET_KEY", "an-e2e-secret-key-not-the-placeholder")
    created = runner.invoke(cli, ["tenant", "create", "shop"])
    assert created.exit_code == 0, created.output
    return tmp_path


def test_sim_then_ingest_opens_the_labelled_cases_and_the_audit_verifies(workdir: Path) -> None:
    out = workdir / "sim"
    sim = runner.invoke(
        cli,
        [
            "sim",
            "--out",
            str(out),
            "--seed",
            "3",
            "--days",
            "0.5",
            "--history-days",
            "5",
            "--orders-per-day",
            "20",
        ],
    )
    assert sim.exit_code == 0, sim.output
    end = re.search(r"--now (\S+)\)", sim.output)
    assert end is not None

    ingest = runner.invoke(
        cli, ["ingest", str(out / "events.jsonl"), "--tenant", "shop", "--now", end.group(1)]
    )
    assert ingest.exit_code == 0, ingest.output
    labels = read_labels(out / "labels.jsonl")
    changes = int(re.search(r"case changes (\d+)", ingest.output).group(1))  # type: ignore[union-attr]
    assert "rejected 0" in ingest.output
    assert changes >= len(labels) > 0

    verify = runner.invoke(cli, ["audit", "verify", "--tenant", "shop"])
    assert verify.exit_code == 0
    assert "verifies" in verify.output


def test_a_bad_line_becomes_a_dead_letter_that_can_be_shown_and_replayed(workdir: Path) -> None:
    good = {
        "id": "e-1",
        "source": "test://shop",
        "type": "inventory.level",
        "time": "2026-11-20T10:00:00+00:00",
        "data": {"sku": "A", "location": "wh", "available": 3},
    }
    bad = dict(good, id="e-2", data={"sku": "A", "location": "wh"})  # available is missing
    feed = workdir / "feed.jsonl"
    feed.write_text(json.dumps(good) + "\n" + json.dumps(bad) + "\n")

    ingest = runner.invoke(cli, ["ingest", str(feed), "--tenant", "shop"])
    assert "accepted 1" in ingest.output
    assert "rejected 1" in ingest.output
    assert "available" in ingest.output

    listing = runner.invoke(
        cli, ["deadletters", "list", "--tenant", "shop"], env={"COLUMNS": "250"}
    )
    letter_id = re.search(r"\b([0-9a-f]{32})\b", listing.output)
    assert letter_id is not None, listing.output
    shown = runner.invoke(cli, ["deadletters", "show", "--tenant", "shop", letter_id.group(1)])
    assert '"id":"e-2"' in shown.output

    still_bad = runner.invoke(
        cli, ["deadletters", "replay", "--tenant", "shop", letter_id.group(1)]
    )
    assert still_bad.exit_code == 1
    assert "left open" in still_bad.output


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_demo_serves_the_api_and_shows_cases_as_the_store_streams(tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "COLUMNS": "250", "ORDEROPS_DATA_DIR": str(tmp_path / "data")}
    env.pop("ORDEROPS_DATABASE_URL", None)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "orderops.cli",
            "demo",
            "--port",
            str(port),
            "--duration",
            "12",
            "--days",
            "2",
            "--speed",
            "40000",
            "--orders-per-day",
            "40",
        ],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        healthy = False
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            try:
                healthy = (
                    httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200
                )
            except httpx.HTTPError:
                healthy = False
            if healthy:
                break
            time.sleep(0.3)
        output, _ = process.communicate(timeout=120)
    finally:
        process.kill()
    assert healthy, "the demo never answered /healthz"
    assert process.returncode == 0, output
    assert f"http://127.0.0.1:{port}" in output
    assert re.search(r"API key \(admin\): oo_\S+", output)
    assert re.search(r"opened\s+(payment_failed|shipment_late)", output)
