"""The reference reader is independent of the desk it measures.

Its labels judge the desk, so neither the reader nor anything it imports from the
simulator may import the desk's detect, resolve, ingest, cases, decide or workflow packages: a rule
shared with the desk would agree with the desk by construction.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import orderops.sim.providers as providers

PACKAGE = "orderops.sim.providers"
ROOT = Path(providers.__file__).parent
FORBIDDEN = (
    "orderops.detect",
    "orderops.resolve",
    "orderops.ingest",
    "orderops.workflow",
    "orderops.cases",
    "orderops.decide",
)


def imports_of(module: str) -> set[str]:
    return imports_in(ROOT / f"{module.removeprefix(PACKAGE + '.')}.py")


def imports_in(path: Path) -> set[str]:
    """Every module name a source file imports, at any depth (inside functions too)."""
    tree = ast.parse(path.read_text("utf-8"), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
            # "from orderops.sim.providers import spec" imports the module spec.
            names |= {f"{node.module}.{alias.name}" for alias in node.names}
    return names


def reader_closure() -> dict[str, set[str]]:
    """The reader and every module of this package it reaches, with their imports."""
    seen: dict[str, set[str]] = {}
    todo = [f"{PACKAGE}.reference"]
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen[module] = imports_of(module)
        todo += [
            name
            for name in seen[module]
            if name.startswith(PACKAGE + ".")
            and (ROOT / f"{name.removeprefix(PACKAGE + '.')}.py").exists()
        ]
    return seen


def test_the_reader_reaches_only_its_own_small_set_of_modules() -> None:
    closure = reader_closure()

    assert set(closure) == {
        f"{PACKAGE}.{name}" for name in ("reference", "reading", "ledger", "spec", "promise")
    }


def test_nothing_the_reader_reaches_imports_the_desk() -> None:
    offenders = {
        module: sorted(n for n in names if n.startswith(FORBIDDEN))
        for module, names in reader_closure().items()
    }

    assert {m: names for m, names in offenders.items() if names} == {}


def test_the_reader_uses_no_other_part_of_orderops() -> None:
    """Not even the simulator's store side or the desk's domain: only this package."""
    outside = {
        module: sorted(n for n in names if n.startswith("orderops") and not n.startswith(PACKAGE))
        for module, names in reader_closure().items()
    }

    assert {m: names for m, names in outside.items() if names} == {}


def test_the_import_scan_sees_forbidden_imports_however_written(tmp_path: Path) -> None:
    source = tmp_path / "sample.py"
    source.write_text(
        "import orderops.detect.payments\n"
        "from orderops.resolve import linker\n"
        "def later():\n"
        "    from orderops.workflow.pipeline import drain\n"
    )

    found = {n for n in imports_in(source) if n.startswith(FORBIDDEN)}

    assert found >= {"orderops.detect.payments", "orderops.resolve", "orderops.workflow.pipeline"}


def test_loading_the_reader_loads_no_part_of_the_desk_at_run_time() -> None:
    """The static scan above, checked for real in a fresh interpreter: package
    ``__init__`` files run too, and they must not drag the detectors in."""
    probe = (
        "import sys, orderops.sim.providers.reference\n"
        "print(sorted(m for m in sys.modules if m.split('.')[:2] in "
        "(['orderops','detect'], ['orderops','resolve'], ['orderops','ingest'], "
        "['orderops','workflow'], ['orderops','cases'], ['orderops','decide'])))"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert run.stdout.strip() == "[]"
