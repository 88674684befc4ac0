"""The shipped deployment: deploy/compose.yaml runs real commands, the image builds.

The compose file is parsed, not run: it must hold PostgreSQL, NATS with JetStream, a
one-shot migration as the owner before the app, the API without a worker thread, N
workers and the sandboxes, and each `orderops` command it runs must parse as one (help
of the same arguments exits 0, as an unknown command or option would not).

The image is built only where a Docker daemon answers; elsewhere the test is skipped with
the reason, and under CI=true it fails only when a daemon is there and the build fails.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from orderops.cli import cli

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "deploy" / "compose.yaml"


def _services() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE.read_text("utf-8"))
    services: dict[str, Any] = document["services"]
    return services


def _ours(service: dict[str, Any]) -> bool:
    return "build" in service or str(service.get("image", "")).startswith("orderops")


def test_compose_has_the_database_the_bus_migrations_the_api_workers_and_sandboxes() -> None:
    services = _services()

    assert {"postgres", "nats", "migrate", "api", "worker", "sandboxes"} <= services.keys()
    assert "--jetstream" in services["nats"]["command"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    assert "ORDEROPS_MIGRATION_DATABASE_URL" in services["migrate"]["environment"]
    assert "orderops_owner" in services["migrate"]["environment"]["ORDEROPS_MIGRATION_DATABASE_URL"]
    assert services["api"]["command"][:2] == ["serve", "--no-worker"]
    assert services["worker"]["command"] == ["worker"]
    assert services["worker"]["deploy"]["replicas"] >= 2
    assert services["sandboxes"]["command"][:2] == ["sandbox", "serve"]
    for name in ("api", "worker", "sandboxes"):
        app_url = services[name]["environment"]["ORDEROPS_DATABASE_URL"]
        assert "orderops_web" in app_url, f"{name} must connect as the app role"
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"
        }


@pytest.mark.parametrize("name", sorted(n for n, s in _services().items() if _ours(s)))
def test_every_command_compose_runs_is_a_real_cli_command(name: str) -> None:
    command = _services()[name]["command"]

    answer = CliRunner().invoke(cli, [*command, "--help"], env={"COLUMNS": "200"})

    assert answer.exit_code == 0, f"`orderops {' '.join(command)}`: {answer.output}"
    assert "Usage:" in answer.output


def test_the_image_is_non_root_slim_locked_and_checks_its_health() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text("utf-8")
    lock = (ROOT / "requirements.lock").read_text("utf-8")

    assert "python:3.11-slim" in dockerfile
    assert "USER 10001" in dockerfile
    assert "--require-hashes" in dockerfile
    assert "HEALTHCHECK" in dockerfile
    assert "/healthz" in dockerfile
    assert dockerfile.count("FROM ") >= 2  # build and runtime stages
    for package in ("fastapi", "sqlalchemy", "typer", "psycopg"):
        assert f"\n{package}==" in lock.lower(), f"{package} is not pinned"
    assert "--hash=sha256:" in lock


NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def test_the_lock_pins_every_dependency_of_the_project() -> None:
    """A dependency added to pyproject.toml without refreshing requirements.lock (see the
    Dockerfile's header) would be missing from the image."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["project"]
    lock = (ROOT / "requirements.lock").read_text("utf-8").lower()

    names = [NAME.match(requirement) for requirement in project["dependencies"]]
    missing = [m.group(0) for m in names if m and f"\n{_normal(m.group(0))}==" not in lock]

    assert missing == [], "refresh requirements.lock (the Dockerfile says how)"


def _docker_problem() -> str | None:
    if shutil.which("docker") is None:
        return "no docker client on PATH"
    probe = subprocess.run(
        ["docker", "info"], capture_output=True, text=True, timeout=30, check=False
    )
    if probe.returncode != 0:
        reason = (probe.stderr or probe.stdout).strip().splitlines()
        return f"no Docker daemon answers `docker info`: {reason[-1] if reason else ''}"
    return None


def test_the_image_builds_where_docker_runs() -> None:
    problem = _docker_problem()
    if problem:
        pytest.skip(problem)  # CI=true fails below only when a daemon is there
    built = subprocess.run(
        ["docker", "build", "--tag", "orderops:test", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-4000:]
    user = subprocess.run(
        ["docker", "run", "--rm", "--entrypoint", "id", "orderops:test", "-u"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert user.stdout.strip() == "10001"
