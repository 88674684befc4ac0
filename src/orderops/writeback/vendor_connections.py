"""A tenant's vendor connections: added, listed, tested, rotated, removed, and read for
the writeback worker.

The credential is sealed with the same Fernet facility as webhook signing secrets and the
single sign-on client secret (``ingest/connections.py``'s ``SecretBox``: a key derived
with HKDF from ``ORDEROPS_SECRET_KEY``). It is never returned, logged or put in an audit
record; shells see a fingerprint (``domain/vendor_connections.py``), and the audit record
says which fingerprint replaced which. Every change is checked against the tenant row's
environment here, and again by ``StoredAccounts`` whenever the worker reads the rows.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import httpx
from sqlalchemy import Row, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.environments import Environment, read_tenant_id
from orderops.domain.errors import Conflict, NotFound
from orderops.domain.vendor_connections import (
    AccountMode,
    EnvironmentBoundary,
    VendorSystem,
    account_mode,
    check_base_url,
    check_environment,
    check_secret,
    check_username,
    fingerprint,
)
from orderops.ingest.connections import SecretBox, SecretUnreadable
from orderops.storage.tables import Tenant
from orderops.storage.tables.vendor_connections import VendorConnection
from orderops.storage.uow import UnitOfWork
from orderops.writeback.connections import VendorAccess, WritebackSettings, environment_accounts
from orderops.writeback.connectors.shopify import DEFAULT_API_VERSION

FINGERPRINT_INFO = b"orderops/vendor-credential-fingerprints/v1"
PROBE_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


class ConnectionNotFound(NotFound):
    code = "connection-not-found"


class ConnectionExists(Conflict):
    code = "connection-exists"


@dataclass(frozen=True, kw_only=True)
class ConnectionView:
    """A connection as shells show it: never the credential."""

    id: str
    tenant_id: str
    system: str
    base_url: str
    username: str | None
    mode: str
    allow_test_mode: bool
    fingerprint: str
    version: int
    created_at: datetime
    created_by: str
    rotated_at: datetime | None
    rotated_by: str | None


@dataclass(frozen=True, kw_only=True)
class ProbeResult:
    """What ``test`` found: whether one authenticated read worked, and if not, why."""

    system: str
    ok: bool
    status: int | None
    detail: str


def add_connection(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    system: VendorSystem,
    base_url: str,
    secret: str,
    mode: AccountMode | None,
    username: str | None = None,
    allow_test_mode: bool = False,
    secret_key: str,
    clock: Clock,
    actor: str,
) -> ConnectionView:
    """Store a new connection; refused when the tenant already has one for the system
    (rotate it, or remove it first) or when its mode does not belong in the environment."""
    url = check_base_url(base_url)
    secret = check_secret(secret)
    username = check_username(system, username)
    resolved = account_mode(system, secret, mode)
    environment = _environment(sessions, tenant_id)
    check_environment(
        tenant_id=tenant_id,
        environment=environment,
        system=system,
        mode=resolved,
        allow_test_mode=allow_test_mode,
    )
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        if _row(uow, system) is not None:
            raise ConnectionExists(
                f"tenant {tenant_id} already has a {system} connection; rotate or remove it"
            )
        row = VendorConnection(
            tenant_id=tenant_id,
            system=str(system),
            base_url=url,
            username=username,
            secret_ciphertext=SecretBox(secret_key).seal(secret, now=now),
            secret_fingerprint=_fingerprint(secret, secret_key),
            mode=str(resolved),
            allow_test_mode=allow_test_mode,
            version=1,
            created_at=now,
            created_by=actor,
        )
        uow.session.add(row)
        try:
            uow.session.flush()
        except IntegrityError as exc:  # a concurrent add won the unique (tenant, system)
            raise ConnectionExists(f"tenant {tenant_id} already has a {system} connection") from exc
        uow.audit.append(
            at=now,
            actor=actor,
            action="connection.added",
            entity_type="vendor_connection",
            entity_id=row.id,
            data=_audit_data(row),
        )
        uow.commit()
        return _view(row)


def rotate_connection(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    system: VendorSystem,
    secret: str,
    mode: AccountMode | None = None,
    base_url: str | None = None,
    secret_key: str,
    clock: Clock,
    actor: str,
) -> ConnectionView:
    """Replace the credential (and, if given, the address); the next delivery uses it.

    The new credential is checked against the environment like a new connection: rotating
    a test environment's Stripe key to a live key is refused, and nothing changes."""
    secret = check_secret(secret)
    url = check_base_url(base_url) if base_url is not None else None
    environment = _environment(sessions, tenant_id)
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _existing(uow, system)
        declared = mode or (None if system is VendorSystem.STRIPE else AccountMode(row.mode))
        resolved = account_mode(system, secret, declared)
        check_environment(
            tenant_id=tenant_id,
            environment=environment,
            system=system,
            mode=resolved,
            allow_test_mode=row.allow_test_mode,
        )
        before = row.secret_fingerprint
        row.secret_ciphertext = SecretBox(secret_key).seal(secret, now=now)
        row.secret_fingerprint = _fingerprint(secret, secret_key)
        row.mode = str(resolved)
        if url is not None:
            row.base_url = url
        row.version += 1
        row.rotated_at = now
        row.rotated_by = actor
        uow.session.flush()
        uow.audit.append(
            at=now,
            actor=actor,
            action="connection.rotated",
            entity_type="vendor_connection",
            entity_id=row.id,
            data={**_audit_data(row), "previous_fingerprint": before},
        )
        uow.commit()
        return _view(row)


def remove_connection(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    system: VendorSystem,
    clock: Clock,
    actor: str,
) -> ConnectionView:
    """Forget the connection; the tenant's messages for that system stay queued."""
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _existing(uow, system)
        view = _view(row)
        uow.audit.append(
            at=clock.now(),
            actor=actor,
            action="connection.removed",
            entity_type="vendor_connection",
            entity_id=row.id,
            data=_audit_data(row),
        )
        uow.session.execute(
            delete(VendorConnection).where(
                VendorConnection.tenant_id == tenant_id, VendorConnection.id == row.id
            )
        )
        uow.commit()
        return view


def list_connections(sessions: sessionmaker[Session], *, tenant_id: str) -> list[ConnectionView]:
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        rows = uow.session.scalars(
            select(VendorConnection)
            .where(VendorConnection.tenant_id == tenant_id)
            .order_by(VendorConnection.system)
        ).all()
        return [_view(row) for row in rows]


def check_connection(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    system: VendorSystem,
    secret_key: str,
    clock: Clock,
    actor: str,
    transport: httpx.BaseTransport | None = None,
) -> ProbeResult:
    """One harmless authenticated read against the vendor with the stored credential,
    audited with its outcome. Refused accounts are not contacted at all."""
    account = StoredAccounts(sessions, secret_key=secret_key).accounts(tenant_id).get(system)
    if account is None:
        raise ConnectionNotFound(f"tenant {tenant_id} has no {system} connection")
    result = probe(account, transport=transport)
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        row = _existing(uow, system)
        uow.audit.append(
            at=clock.now(),
            actor=actor,
            action="connection.tested",
            entity_type="vendor_connection",
            entity_id=row.id,
            data={
                "system": str(system),
                "fingerprint": row.secret_fingerprint,
                "ok": result.ok,
                "status": result.status,
                "detail": result.detail,
            },
        )
        uow.commit()
    return result


_PROBES: dict[str, tuple[str, dict[str, str]]] = {
    "stripe": ("/v1/refunds", {"limit": "1"}),
    # No harmless list without an order id; an order that cannot exist answers 404 to an
    # authenticated caller and 401 to anyone else.
    "shopify": (f"/admin/api/{DEFAULT_API_VERSION}/orders/0.json", {}),
    "easypost": ("/v2/shipments", {"page_size": "1"}),
    "wms": ("/v1/reservations", {}),
    "crm": ("/v1/customers", {}),
    "zendesk": ("/api/v2/tickets.json", {"per_page": "1"}),
}


def probe(account: VendorAccess, *, transport: httpx.BaseTransport | None = None) -> ProbeResult:
    """GET a read-only resource with the account's credential, once, without retries.

    2xx, or 404 for a resource that cannot exist, proves the credential was accepted; 401
    and 403 say it was refused. The answer's body is never echoed (it could quote the key)."""
    system = account.system
    if account.refused is not None:
        return ProbeResult(system=system, ok=False, status=None, detail=account.refused)
    path, params = _PROBES[system]
    auth, headers = _credentials(account)
    try:
        with httpx.Client(
            base_url=account.base_url,
            auth=auth,
            headers=headers,
            timeout=PROBE_TIMEOUT,
            transport=transport,
        ) as client:
            response = client.get(path, params=params)
    except httpx.TimeoutException:
        return ProbeResult(
            system=system,
            ok=False,
            status=None,
            detail=f"{account.base_url} did not answer in time",
        )
    except httpx.TransportError as exc:
        return ProbeResult(
            system=system,
            ok=False,
            status=None,
            detail=f"could not reach {account.base_url} ({type(exc).__name__})",
        )
    status = response.status_code
    if status in (401, 403):
        detail = f"{system} refused the credential (HTTP {status}); rotate it"
        return ProbeResult(system=system, ok=False, status=status, detail=detail)
    if 200 <= status < 300 or (status == 404 and system == "shopify"):
        detail = f"{system} accepted the credential (HTTP {status})"
        return ProbeResult(system=system, ok=True, status=status, detail=detail)
    detail = f"{system} answered HTTP {status} to a read; check the base URL"
    return ProbeResult(system=system, ok=False, status=status, detail=detail)


def _credentials(account: VendorAccess) -> tuple[tuple[str, str] | None, dict[str, str]]:
    """The auth each connector sends (``writeback/connectors/``)."""
    match account.system:
        case "stripe" | "crm":
            return None, {"Authorization": f"Bearer {account.secret}"}
        case "shopify":
            return None, {"X-Shopify-Access-Token": account.secret}
        case "wms":
            return None, {"X-API-Key": account.secret}
        case "easypost":
            return (account.secret, ""), {}
        case _:
            return (f"{account.username}/token", account.secret), {}


StoredRow = Row[str, str, str, str, str | None, str, str, bool, int]
"""id, tenant, system, base URL, username, ciphertext, mode, allow_test_mode, version."""


class StoredAccounts:
    """The worker's ``AccountSource``: a tenant's rows, opened and checked again against
    its environment; ``ORDEROPS_WRITEBACK_*`` only for the tenant they name, and only while
    it has no row (``writeback/connections.py``)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        *,
        secret_key: str,
        fallback: WritebackSettings | None = None,
    ) -> None:
        self._sessions = sessions
        self._box = SecretBox(secret_key)
        self._fallback = fallback
        self._environments: dict[str, Environment] = {}
        """A tenant row's environment never changes once it exists."""
        self._opened: dict[tuple[str, str, int], str] = {}
        """(row id, ciphertext, version) -> plaintext: a pass decrypts only what changed."""
        self._lock = threading.Lock()

    def accounts(
        self, tenant_id: str, *, session: Session | None = None
    ) -> Mapping[str, VendorAccess]:
        if session is None:
            with UnitOfWork(self._sessions, tenant_id=tenant_id, write=False) as uow:
                return self._read(uow.session, tenant_id)
        return self._read(session, tenant_id)

    def _read(self, session: Session, tenant_id: str) -> Mapping[str, VendorAccess]:
        environment = self._environment_of(session, tenant_id)
        rows = session.execute(
            select(
                VendorConnection.id,
                VendorConnection.tenant_id,
                VendorConnection.system,
                VendorConnection.base_url,
                VendorConnection.username,
                VendorConnection.secret_ciphertext,
                VendorConnection.mode,
                VendorConnection.allow_test_mode,
                VendorConnection.version,
            ).where(VendorConnection.tenant_id == tenant_id)
        ).all()
        found = {row.system: self._open(row, environment) for row in rows}
        if found or self._fallback is None:
            return found
        return environment_accounts(self._fallback, tenant_id=tenant_id, environment=environment)

    def _environment_of(self, session: Session, tenant_id: str) -> Environment:
        with self._lock:
            known = self._environments.get(tenant_id)
        if known is None:
            known = _tenant_environment(session, tenant_id)
            with self._lock:
                self._environments[tenant_id] = known
        return known

    def _secret(self, row: StoredRow) -> str:
        key = (row.id, row.secret_ciphertext, row.version)
        with self._lock:
            opened = self._opened.get(key)
        if opened is None:
            opened = self._box.open(row.secret_ciphertext)
            with self._lock:
                self._opened = {k: v for k, v in self._opened.items() if k[0] != row.id}
                self._opened[key] = opened
        return opened

    def _open(self, row: StoredRow, environment: Environment) -> VendorAccess:
        refused: str | None = None
        secret = ""
        try:
            check_environment(
                tenant_id=row.tenant_id,
                environment=environment,
                system=VendorSystem(row.system),
                mode=AccountMode(row.mode),
                allow_test_mode=row.allow_test_mode,
            )
            secret = self._secret(row)
        except EnvironmentBoundary as error:
            refused = error.message
        except SecretUnreadable:
            refused = (
                f"the {row.system} credential does not decrypt with the current "
                "ORDEROPS_SECRET_KEY; restore the old key or rotate the connection"
            )
        except ValueError:  # an unknown system or mode written around the service
            refused = f"the stored {row.system} connection has an unknown system or mode"
        return VendorAccess(
            system=row.system,
            base_url=row.base_url,
            secret=secret,
            username=row.username,
            refused=refused,
        )


def _environment(sessions: sessionmaker[Session], tenant_id: str) -> Environment:
    with sessions() as session:
        if session.get(Tenant, tenant_id) is None:
            raise NotFound(f"no tenant {tenant_id}")
        return _tenant_environment(session, tenant_id)


def _tenant_environment(session: Session, tenant_id: str) -> Environment:
    """The stored environment; a row from before environments reads its id."""
    stored = session.scalar(select(Tenant.environment).where(Tenant.id == tenant_id))
    try:
        return Environment(stored) if stored else read_tenant_id(tenant_id)[1]
    except ValueError:
        return Environment.LIVE if stored == "live" else Environment.TEST


def _fingerprint(secret: str, secret_key: str) -> str:
    key = hmac.new(secret_key.encode("utf-8"), FINGERPRINT_INFO, hashlib.sha256).digest()
    return fingerprint(secret, key=key)


def _row(uow: UnitOfWork, system: VendorSystem) -> VendorConnection | None:
    return uow.session.scalar(
        select(VendorConnection).where(
            VendorConnection.tenant_id == uow.tenant_id, VendorConnection.system == str(system)
        )
    )


def _existing(uow: UnitOfWork, system: VendorSystem) -> VendorConnection:
    row = _row(uow, system)
    if row is None:
        raise ConnectionNotFound(f"tenant {uow.tenant_id} has no {system} connection")
    return row


def _audit_data(row: VendorConnection) -> dict[str, object]:
    return {
        "system": row.system,
        "base_url": row.base_url,
        "username": row.username,
        "mode": row.mode,
        "allow_test_mode": row.allow_test_mode,
        "fingerprint": row.secret_fingerprint,
        "version": row.version,
    }


def _view(row: VendorConnection) -> ConnectionView:
    return ConnectionView(
        id=row.id,
        tenant_id=row.tenant_id,
        system=row.system,
        base_url=row.base_url,
        username=row.username,
        mode=row.mode,
        allow_test_mode=row.allow_test_mode,
        fingerprint=row.secret_fingerprint,
        version=row.version,
        created_at=row.created_at,
        created_by=row.created_by,
        rotated_at=row.rotated_at,
        rotated_by=row.rotated_by,
    )
