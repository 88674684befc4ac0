"""A desk booted the way a retailer boots one, served over real HTTP on a free local port.

Nothing is taken as a shortcut that a retailer could not take: the schema is migrated,
the tenant created, every provider connected through the same service
``orderops sources connect`` calls (fresh generated secrets, kept only here to sign
with), the store's policy loaded as ``orderops policy load`` loads it, and the
application answers on a socket through uvicorn. The clock is a ``FixedClock`` the
caller moves, so signature times, the desk's "now" and the worker's sweeps agree.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import uvicorn

from orderops.api.app import create_app
from orderops.bootstrap import App, bootstrap
from orderops.config import Settings
from orderops.domain.clock import FixedClock
from orderops.domain.policy import FulfillmentPolicy
from orderops.ingest.connections import SecretBox, WebhookSource, connect_source, webhook_url
from orderops.ingest.policy_file import store_policy
from orderops.storage.uow import tenant_ids
from orderops.tenancy.tenants import ensure_tenant

ACTOR = "eval:webhooks"
STARTUP_SECONDS = 20.0


class DatabaseNotFresh(RuntimeError):
    """The database already holds tenants: the worker's passes would act for them too, and
    their cases would not be this store's."""


class DeskDidNotStart(RuntimeError):
    """uvicorn did not answer on its socket in time (or stopped at once)."""


@dataclass(frozen=True)
class Desk:
    app: App
    clock: FixedClock
    tenant_id: str
    base_url: str
    urls: dict[str, str]
    """Provider -> the tenant's webhook URL for it."""
    signing_secrets: dict[str, str]
    """Provider -> the signing secret the desk generated when it was connected."""


def desk_settings(*, database_url: str | None, workdir: Path) -> Settings:
    """A desk of its own: its database (a SQLite file in ``workdir`` unless given), its
    data folder, and a random secret key (it only has to outlive this run)."""
    return Settings(
        database_url=database_url or f"sqlite:///{(workdir / 'desk.db').as_posix()}",
        data_dir=workdir,
        secret_key=secrets.token_urlsafe(32),
    )


@contextmanager
def booted_desk(
    settings: Settings, *, tenant_id: str, start: datetime, policy: FulfillmentPolicy | None
) -> Iterator[Desk]:
    """Migrate, create the tenant, connect every provider, load the policy, and serve."""
    clock = FixedClock(start)
    app = bootstrap(settings, clock=clock)
    try:
        existing = tenant_ids(app.sessions)
        if existing:
            raise DatabaseNotFresh(
                f"the database already holds tenants {existing}; the evaluation needs a "
                "fresh one (its worker passes serve every tenant of the database)"
            )
        ensure_tenant(app.sessions, tenant_id=tenant_id, name="Webhook evaluation", clock=clock)
        if policy is not None:
            store_policy(app.sessions, tenant_id=tenant_id, policy=policy, actor=ACTOR, clock=clock)
        box = SecretBox(settings.secret_key)
        tokens: dict[str, str] = {}
        keys: dict[str, str] = {}
        for source in WebhookSource:
            change = connect_source(
                app.sessions, tenant_id=tenant_id, source=source, box=box, clock=clock, actor=ACTOR
            )
            assert change.generated_secret is not None, "no secret given, so one was generated"
            tokens[str(source)] = change.connection.endpoint_token
            keys[str(source)] = change.generated_secret
        with serving(app) as base_url:
            urls = {source: webhook_url(base_url, source, t) for source, t in tokens.items()}
            yield Desk(app, clock, tenant_id, base_url, urls, keys)
    finally:
        app.close()


@contextmanager
def serving(app: App) -> Iterator[str]:
    """The API on 127.0.0.1 on a port the OS picked, in a background thread; its base URL.

    The socket is bound here and handed to uvicorn, so no other process can take the
    port between choosing it and listening on it.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(app), log_config=None, log_level="warning", access_log=False, lifespan="off"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name="eval-desk", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise DeskDidNotStart(f"the desk did not start serving on port {port}")
            time.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_SECONDS)
        sock.close()
