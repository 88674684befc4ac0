"""An API app that is dropped is freed with everything it holds.

FastAPI keeps the endpoints it has seen in a module-level cache of 4,096; the docs pages'
endpoints held their app, so every app built in a process (one per test) stayed alive to
its end, with its routes, models and desk: 2.5 GB in a test worker, and each full garbage
collection walking all of it."""

from __future__ import annotations

import gc
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
