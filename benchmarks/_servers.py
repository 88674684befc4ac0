"""Real HTTP servers for benchmarks: the desk, and a bare endpoint that only stores bodies.

Both run under uvicorn in a child process with the same settings (one process, the
default loop), so the only difference a benchmark sees is what the endpoint does.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx

DESK = """
import sys, uvicorn
from orderops import heap
from orderops.api.app import create_app
from orderops.bootstrap import bootstrap
from orderops.config import Settings
app = bootstrap(Settings(database_url=sys.argv[1], demo_mode=True))
web = create_app(app)
heap.settle()  # as `orderops serve` does
uvicorn.run(web, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""

BARE = """
import sys, uuid, uvicorn
from orderops import heap
from fastapi import FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from sqlalchemy import Column, MetaData, String, Table, Text, create_engine
engine = create_engine(sys.argv[1], pool_size=10)
metadata = MetaData()
raw = Table("bench_raw", metadata, Column("id", String(64), primary_key=True),
            Column("source", String(32)), Column("body", Text))
metadata.create_all(engine)
api = FastAPI()

def store(source: str, body: bytes) -> str:
    row_id = uuid.uuid4().hex
    with engine.begin() as connection:
        connection.execute(raw.insert(), {"id": row_id, "source": source, "body": body.decode()})
    return row_id

@api.post("/raw/{source}/{token}")
async def bare(source: str, token: str, request: Request) -> JSONResponse:
    body = await request.body()
    return JSONResponse({"id": await run_in_threadpool(store, source, body)}, status_code=202)

@api.get("/healthz")
async def health() -> dict[str, str]:
    return {"status": "ok"}

heap.settle()  # the desk's collector settings, so the two differ in their work alone
uvicorn.run(api, host="127.0.0.1", port=int(sys.argv[2]), log_level="warning")
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(kind: str, database_url: str) -> Iterator[str]:
    """Start the ``desk`` or the ``bare`` server on ``database_url``; yield its base URL."""
    port = free_port()
    code = DESK if kind == "desk" else BARE
    child = subprocess.Popen([sys.executable, "-c", code, database_url, str(port)])
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or child.poll() is not None:
                raise RuntimeError(f"{kind} server did not start")
            time.sleep(0.2)
        yield base
    finally:
        child.terminate()
        child.wait(timeout=30)


WORKER = """
import sys, threading
from orderops import heap
from orderops.bootstrap import bootstrap
from orderops.config import Settings
from orderops.workflow.worker import run_forever, run_once
app = bootstrap(Settings(database_url=sys.argv[1], demo_mode=True))
heap.settle()  # as `orderops worker` does
run_once(app, writeback=False)  # the start-up pass (models loaded, backlog judged) first
print("ready", flush=True)
run_forever(app, stop=threading.Event(), interval=app.settings.sweep_interval_seconds)
"""


@contextmanager
def worker_process(database_url: str) -> Iterator[None]:
    """``orderops worker``'s loop in a child process, at the default poll and sweep
    interval: it learns of an accept in this process only from the database
    (LISTEN/NOTIFY on PostgreSQL). Yields once its start-up pass is over (a benchmark of
    an idle worker must not time the pass that loads its models and judges the backlog)."""
    child = subprocess.Popen(
        [sys.executable, "-c", WORKER, database_url], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("worker process did not start")
        # whatever it prints later must not fill the pipe and stall it
        threading.Thread(target=child.stdout.read, daemon=True).start()
        yield
    finally:
        child.terminate()
        child.wait(timeout=30)
