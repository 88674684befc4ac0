"""An API app that is dropped is freed with everything it holds, and building one changes
nothing of the process around it.

FastAPI keeps the endpoints it has seen in a module-level cache of 4,096; the docs pages'
endpoints held their app, so every app built in a process (one per test) stayed alive to
its end, with its routes, models and desk: 2.5 GB in a test worker, and each full garbage
collection walking all of it."""

from __future__ import annotations

import gc
import logging
import weakref

from fastapi.testclient import TestClient

from orderops.api.app import create_app
from orderops.bootstrap import App


def test_a_dropped_app_is_freed_after_it_served_its_docs(app: App) -> None:
    built = create_app(app)
    with TestClient(built) as http:
        pages = [http.get(path).status_code for path in ("/docs", "/redoc", "/openapi.json")]
    gone = weakref.ref(built)
    del built, http

    gc.collect()

    assert pages == [200, 200, 200]
    assert gone() is None


def test_building_the_app_leaves_the_process_s_logging_as_it_was(app: App) -> None:
    """The MCP SDK's server called logging.basicConfig as the app built it: the demo's
    terminal and every benchmark's desk then printed each request in colour, at INFO."""
    root = logging.getLogger()
    kept_handlers, kept_level = list(root.handlers), root.level
    root.handlers[:] = []  # a process that has configured nothing (pytest has, itself)
    root.setLevel(logging.WARNING)
    try:
        create_app(app)
        after = list(root.handlers), root.level
    finally:
        root.handlers[:] = kept_handlers
        root.setLevel(kept_level)

    assert after == ([], logging.WARNING)
