"""A desk process settles its heap before it serves (orderops/heap.py)."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from orderops import heap


@pytest.fixture
def collector() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_settling_freezes_what_is_loaded_and_raises_the_thresholds(collector: None) -> None:
    kept = [[n] for n in range(1000)]  # what a process keeps (lists: tracked objects)
    gc.unfreeze()
    gc.set_threshold(700, 10, 10)  # Python's defaults (the tests' own conftest raises them)

    heap.settle()

    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == heap.THRESHOLDS


def test_a_cycle_made_after_settling_is_still_collected(collector: None) -> None:
    heap.settle()

    class Node:
        partner: object

    a, b = Node(), Node()
    a.partner, b.partner = b, a
    del a, b

    assert gc.collect() >= 2
