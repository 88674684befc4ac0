"""Serve a sandbox app on 127.0.0.1 in a background thread, for tests and the demo.

Real HTTP on a real socket (not an in-memory transport) so connectors meet timeouts,
dropped connections and headers exactly as they would against the vendor.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

STARTUP_TIMEOUT_SECONDS = 10.0


@contextmanager
def run_sandbox(app: ASGIApp, *, host: str = "127.0.0.1") -> Iterator[str]:
    """Yield the base URL of ``app`` served on a free port; stop the server on exit."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        http="h11",
        lifespan="off",
        log_level="critical",
        access_log=False,
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            sock.close()
            raise RuntimeError(f"sandbox did not start on {host}:{port}")
        time.sleep(0.005)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=5.0)
        sock.close()


class AppSlot:
    """An ASGI app whose target can be swapped while the server keeps running.

    Starting a server costs a tenth of a second; a test suite serves one slot per module and
    puts a fresh sandbox in it for every test, so no state leaks and no time is lost.
    """

    def __init__(self, app: ASGIApp | None = None) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self.app is None:
            raise RuntimeError("no sandbox app is mounted in this slot")
        await self.app(scope, receive, send)
