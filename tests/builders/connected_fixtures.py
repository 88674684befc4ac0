"""Fixtures of the tests that write back to the vendor sandboxes through a tenant's stored
connections (a pytest plugin named in tests/conftest.py): the sandboxes served once per
module and renewed per test, and a writeback runtime over acme's connections to them. A
test module defining a fixture of the same name keeps its own."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from builders.writeback import (
    Sandboxes,
    connect_sandboxes,
    fast_runtime,
    served_sandboxes,
    stored_accounts,
)
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.workflow.writeback_worker import WritebackRuntime


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


@pytest.fixture
def runtime(app: App, clock: FixedClock, sandboxes: Sandboxes) -> Iterator[WritebackRuntime]:
    connect_sandboxes(app, clock, sandboxes, tenant="acme")
    made = fast_runtime(stored_accounts(app), clock)
    yield made
    made.close()
