"""The simulated store in the providers' own webhook formats, with an independent reader.

``write_store`` (in ``run``) writes deliveries.jsonl, labels.jsonl, policy.yaml and
store.json; ``reference`` is the reader that labels deliveries by the rules in ``spec``.
Nothing is imported eagerly here, so importing the reader loads only what it needs.
"""

from __future__ import annotations

from typing import Any

__all__ = ["write_store"]


def __getattr__(name: str) -> Any:
    if name == "write_store":
        from orderops.sim.providers.run import write_store

        return write_store
    raise AttributeError(name)
