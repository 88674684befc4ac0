"""The packages keep their layers: workflow/ drives the desk, and nothing it drives imports
it back.

workflow/ used to be a hub: ingest, resolve, detect, recommend, evidence and writeback
imported it, and it imported each of them back, so any change rippled everywhere. The
contracts in pyproject.toml ([tool.importlinter]) keep the shape that replaced it:

- the desk's layers, top to bottom: workflow (orchestration), recommend, decide,
  writeback | evidence, cases | tenancy, resolve, detect | ingest, metering; a package
  imports only those below it, and the two sides of a ``|`` not each other;
- domain/ imports nothing of ours;
- the shells (API, console, CLI, demo, evaluations) sit on the desk, never under it.

import-linter reads every import statement, inside functions and under TYPE_CHECKING too,
so a lazy import does not dodge a contract. Each contract is its own test, so a failure
names the rule it breaks and the chain of imports that breaks it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
PYPROJECT = ROOT / "pyproject.toml"
CONTRACTS: list[dict[str, Any]] = tomllib.loads(PYPROJECT.read_text("utf-8"))["tool"][
    "importlinter"
]["contracts"]
LINT = "from importlinter.cli import lint_imports_command; lint_imports_command()"


def lint(config: Path, contract: str, *, cwd: Path, path: str = "") -> tuple[int, str]:
    """Run ``lint-imports`` for one contract in a fresh interpreter: its exit code and
    its report (which names the offending chain of imports when the contract breaks)."""
    env = dict(os.environ)
    if path:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (path, env.get("PYTHONPATH")) if p)
    run = subprocess.run(
        [sys.executable, "-c", LINT, "--config", str(config), "--contract", contract, "--no-cache"],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return run.returncode, run.stdout + run.stderr


def layers_of(contract_id: str) -> list[list[str]]:
    contract = next(c for c in CONTRACTS if c["id"] == contract_id)
    return [[name.strip() for name in layer.split("|")] for layer in contract["layers"]]


@pytest.mark.parametrize("contract", [c["id"] for c in CONTRACTS])
def test_the_code_keeps_the_contract(contract: str) -> None:
    code, report = lint(PYPROJECT, contract, cwd=ROOT)

    assert code == 0, report


def test_workflow_is_the_top_layer_and_everything_it_drives_sits_below_it() -> None:
    """The contract itself cannot be quietly weakened: dropping a package from the layers
    would let it import workflow/ again."""
    layers = layers_of("desk-layers")
    below = {name for layer in layers[1:] for name in layer}

    assert layers[0] == ["workflow"]
    assert below >= {
        "recommend",
        "decide",
        "writeback",
        "evidence",
        "cases",
        "tenancy",
        "resolve",
        "detect",
        "ingest",
        "metering",
    }
    order = [name for layer in layers for name in layer]
    assert order.index("decide") < order.index("cases")


def test_a_lazy_import_of_workflow_from_below_breaks_the_layers(tmp_path: Path) -> None:
    """The same layers over a made-up package in which cases/ reaches up into workflow/
    from inside a function: the check finds it."""
    layers = layers_of("desk-layers")
    package = tmp_path / "deskfake"
    for name in ["", *(name for layer in layers for name in layer)]:
        (package / name).mkdir(parents=True, exist_ok=True)
        (package / name / "__init__.py").write_text("")
    (package / "workflow" / "pipeline.py").write_text("def drain() -> None: ...\n")
    (package / "cases" / "reopen.py").write_text(
        "def later() -> None:\n    from deskfake.workflow.pipeline import drain\n\n    drain()\n"
    )
    config = tmp_path / "layers.toml"
    config.write_text(
        '[tool.importlinter]\nroot_package = "deskfake"\n\n'
        "[[tool.importlinter.contracts]]\n"
        'id = "desk-layers"\nname = "layers"\ntype = "layers"\n'
        f'containers = ["deskfake"]\nlayers = {json.dumps([" | ".join(x) for x in layers])}\n'
    )

    code, report = lint(config, "desk-layers", cwd=tmp_path, path=str(tmp_path))

    assert code != 0
    assert "deskfake.cases is not allowed to import deskfake.workflow" in report
