"""Telemetry's small rules: label values from a closed set, which request ids are kept,
and counters summed over processes in prometheus_client's multiprocess mode."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from orderops.telemetry.logs import scrub, scrub_event
from orderops.telemetry.metrics import create_telemetry_metrics, source_label
from orderops.telemetry.requests import request_id_from, with_request_id


@pytest.mark.parametrize(
    ("channel", "label"),
    [
        ("api", "api"),
        ("webhook:shopify", "webhook:shopify"),
        ("import:csv", "import:csv"),
        ("file:orders-2026-11-20.jsonl", "file"),
        ("demo", "demo"),
        ("Webhook:Some Thing!", "webhook:some_thing_"),
        ("", "unknown"),
    ],
)
def test_an_intake_channel_becomes_a_label_from_a_closed_set(channel: str, label: str) -> None:
    assert source_label(channel) == label


@pytest.mark.parametrize(
    ("offered", "kept"),
    [
        ("abc-123", True),
        ("0f8e2b1c4d6a4e2f9a7b3c5d1e9f0a2b", True),
        ("retailer:42.x_y", True),
        ("x" * 128, True),
        ("x" * 129, False),
        ("with space", False),
        ("new\nline", False),
        ("-starts-with-dash", False),
        ("", False),
        (None, False),
    ],
)
def test_a_request_id_is_kept_only_when_it_is_a_plain_token(
    offered: str | None, kept: bool
) -> None:
    assert (request_id_from(offered) == offered) is kept


def test_two_fresh_request_ids_differ() -> None:
    assert request_id_from(None) != request_id_from(None)


def test_the_request_id_joins_a_problem_body_and_nothing_else() -> None:
    assert with_request_id(b'{"status":404}', "r1") == b'{"status":404,"request_id":"r1"}'
    assert with_request_id(b'{"request_id":"own"}', "r1") == b'{"request_id":"own"}'
    assert with_request_id(b"[1]", "r1") == b"[1]"
    assert with_request_id(b"not json", "r1") == b"not json"


def test_secrets_are_scrubbed_from_fields_and_from_text() -> None:
    event = scrub_event(
        None,
        "info",
        {
            "event": "calling Bearer abcdefghijklmn for jane@example.com",
            "Authorization": "Bearer oo_live_ab12cd_secretsecretsecret",
            "password": "hunter2",
            "note": "key oo_test_ab12cd_secretsecretsecret used",
        },
    )

    assert event["event"] == "calling Bearer [redacted] for [email redacted]"
    assert event["Authorization"] == "[redacted]"
    assert event["password"] == "[redacted]"
    assert event["note"] == "key oo_test_ab12cd_[redacted] used"
    assert scrub("nothing to hide") == "nothing to hide"


def test_a_circuit_gauge_counts_the_tenants_held_open() -> None:
    metrics = create_telemetry_metrics()

    metrics.circuit("stripe", "acme", is_open=True)
    metrics.circuit("stripe", "globex", is_open=True)
    metrics.circuit("stripe", "acme", is_open=False)
    metrics.circuit("shopify", "acme", is_open=False)

    value = metrics.registry.get_sample_value
    assert value("orderops_connector_circuits_open", {"system": "stripe"}) == 1
    assert value("orderops_connector_circuits_open", {"system": "shopify"}) == 0


COUNT_THREE = (
    "from orderops.telemetry.metrics import METRICS\n"
    "METRICS.ingested('api', ['accepted'] * 3, seconds=0.01)\n"
)
RENDER = (
    "import sys\n"
    "from orderops.telemetry.exposition import render\n"
    "sys.stdout.buffer.write(render([], []))\n"
)


def test_in_multiprocess_mode_the_page_sums_every_process(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):  # two worker processes, each counting its own three events
        subprocess.run([sys.executable, "-c", COUNT_THREE], env=env, check=True, timeout=60)

    page = subprocess.run(
        [sys.executable, "-c", RENDER], env=env, check=True, capture_output=True, timeout=60
    ).stdout.decode()

    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }
    accepted = ("orderops_ingest_events_total", (("outcome", "accepted"), ("source", "api")))
    assert samples[accepted] == 6
    assert samples[("orderops_ingest_accept_duration_seconds_count", (("source", "api"),))] == 2
    assert any(name == "process_cpu_seconds_total" for name, _ in samples)
