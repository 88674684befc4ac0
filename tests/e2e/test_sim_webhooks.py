"""`orderops sim --format webhooks`, as an operator preparing an evaluation would run it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from orderops.cli import cli

runner = CliRunner()


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ORDEROPS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("ORDEROPS_DATABASE_URL", raising=False)
    # an operator's own key: commands that write audited state refuse the placeholder
    monkeypatch.setenv("ORDEROPS_SECRET_KEY", "sim-webhooks-test-secret-0123456789abcdef")
    return tmp_path


def _sim(out: Path, *extra: str) -> Result:
    return runner.invoke(
        cli,
        ["sim", "--format", "webhooks", "--out", str(out), "--seed", "3", "--days", "2",
         "--orders-per-day", "25", *extra],
    )  # fmt: skip


def test_the_webhook_store_writes_its_four_files_and_says_where(workdir: Path) -> None:
    out = workdir / "store"

    result = _sim(out)

    assert result.exit_code == 0, result.output
    store = json.loads((out / "store.json").read_text())
    deliveries = (out / "deliveries.jsonl").read_text().splitlines()
    labels = (out / "labels.jsonl").read_text().splitlines()
    assert f"{len(deliveries)} deliveries" in result.output
    assert f"{len(labels)} labels" in result.output
    assert store["deliveries"] == len(deliveries)
    assert (store["seed"], store["days"], store["orders_per_day"]) == (3, 2.0, 25)
    assert store["window"] == {"start": "2025-06-30T00:00:00Z", "end": "2025-07-02T00:00:00Z"}
    assert not (out / "events.jsonl").exists()


def test_a_retailer_loads_the_store_policy_into_the_desk(workdir: Path) -> None:
    out = workdir / "store"
    assert _sim(out).exit_code == 0

    checked = runner.invoke(cli, ["policy", "validate", str(out / "policy.yaml")])
    assert runner.invoke(cli, ["tenant", "create", "shop"]).exit_code == 0
    loaded = runner.invoke(cli, ["policy", "load", str(out / "policy.yaml"), "--tenant", "shop"])

    assert checked.exit_code == 0, checked.output
    assert loaded.exit_code == 0, loaded.output
    assert "version 1" in loaded.output


def test_running_twice_with_one_seed_writes_the_same_files(workdir: Path) -> None:
    assert _sim(workdir / "a").exit_code == 0
    assert _sim(workdir / "b").exit_code == 0

    for name in ("deliveries.jsonl", "labels.jsonl", "policy.yaml", "store.json"):
        assert (workdir / "a" / name).read_bytes() == (workdir / "b" / name).read_bytes(), name


def test_an_unknown_format_or_an_empty_window_is_refused(workdir: Path) -> None:
    unknown = runner.invoke(cli, ["sim", "--format", "csv", "--out", str(workdir / "x")])
    empty = _sim(workdir / "y", "--days", "0")

    assert unknown.exit_code == 2
    assert "csv" in unknown.output
    assert empty.exit_code == 2
    assert "days must be positive" in empty.output
    assert not (workdir / "y" / "deliveries.jsonl").exists()


def test_the_canonical_format_stays_the_default(workdir: Path) -> None:
    out = workdir / "canonical"

    result = runner.invoke(
        cli,
        [
            "sim",
            "--out",
            str(out),
            "--days",
            "0.2",
            "--history-days",
            "1",
            "--orders-per-day",
            "10",
        ],
    )

    assert result.exit_code == 0, result.output
    assert (out / "events.jsonl").exists()
    assert not (out / "deliveries.jsonl").exists()
