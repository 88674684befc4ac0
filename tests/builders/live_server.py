"""The app served by a real uvicorn on a free local port, for what an in-process test
client cannot do: hold a response open (server-sent events) or serve a browser.

``httpx``'s ASGI transport and Starlette's test client both wait for the whole body, so a
stream that ends only after its lifetime would block them; a socket does not."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn

from orderops.api.app import create_app
from orderops.bootstrap import App


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served(app: App) -> Iterator[str]:
    """The base URL of ``app`` served in a thread; stopped (streams cut) on leaving."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(app),
            host="127.0.0.1",
            port=port,
            log_level="warning",
            timeout_graceful_shutdown=1,
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert server.started, "the server did not start"
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
