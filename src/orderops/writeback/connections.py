"""Where the vendors are and how to reach them: accounts per tenant, and their connectors.

A tenant's vendor accounts come from an ``AccountSource``. In production that is the
``vendor_connections`` table (``writeback/vendor_connections.py``: one row per tenant row,
so per environment, credentials sealed at rest); ``ORDEROPS_WRITEBACK_*`` is only the
fallback for **the one tenant named by** ``ORDEROPS_WRITEBACK_TENANT``, and only while that
tenant has no stored connection at all. Every other tenant has its stored connections or
none: a second tenant can never be handed the first one's credentials from the
environment. With no tenant named, the environment's credentials reach nobody.

A system without an account is simply not configured for that tenant, and the worker
leaves its messages queued rather than failing them. An account whose mode does not
belong in the tenant's environment (a live account in a test environment,
``domain/vendor_connections.py``) is kept as a refusal: building its connector raises, so
the delivery fails with that reason instead of reaching the account.

Connectors are built per tenant (the circuit breaker's key is system and tenant) and
reused across passes; ``ConnectorPool.systems`` re-reads the tenant's accounts once per
pass, so a rotated credential is used from the next delivery on.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal, Protocol, TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.orm import Session

from orderops.domain.clock import Clock, SystemClock
from orderops.domain.environments import Environment, read_tenant_id
from orderops.domain.errors import ConfigurationError
from orderops.domain.vendor_connections import (
    AccountMode,
    EnvironmentBoundary,
    InvalidConnection,
    VendorSystem,
    check_environment,
    stripe_key_mode,
)
from orderops.writeback.connectors.base import CircuitBreaker, RetryPolicy
from orderops.writeback.connectors.crm import CrmConnector
from orderops.writeback.connectors.easypost import EasyPostConnector, parse_easypost_error
from orderops.writeback.connectors.shopify import ShopifyConnector
from orderops.writeback.connectors.stripe import StripeConnector
from orderops.writeback.connectors.transport import ApiClient, ConnectorBase, ConnectorOptions
from orderops.writeback.connectors.wms import WmsConnector
from orderops.writeback.connectors.zendesk import ZendeskConnector

C = TypeVar("C")


class WritebackSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDEROPS_WRITEBACK_", env_file=".env", extra="ignore"
    )

    tenant: str | None = None
    """The one tenant the settings below apply to (module docstring); unset: none."""
    mode: Literal["test", "live"] = "live"
    """Whether the accounts below are test or live (Stripe's key says so itself)."""
    allow_test_mode: bool = False
    """Let a live tenant use a test-mode Stripe key (``domain/vendor_connections.py``)."""
    stripe_url: str | None = None
    stripe_api_key: str = ""
    shopify_url: str | None = None
    shopify_access_token: str = ""
    easypost_url: str | None = None
    easypost_api_key: str = ""
    wms_url: str | None = None
    wms_api_key: str = ""
    crm_url: str | None = None
    crm_api_token: str = ""
    zendesk_url: str | None = None
    zendesk_email: str = ""
    zendesk_api_token: str = ""

    def configured_systems(self) -> frozenset[str]:
        return frozenset(system for system, (url, _, _) in self.account_fields().items() if url)

    def account_fields(self) -> dict[str, tuple[str | None, str, str | None]]:
        """system -> (url, secret, username)."""
        return {
            "stripe": (self.stripe_url, self.stripe_api_key, None),
            "shopify": (self.shopify_url, self.shopify_access_token, None),
            "easypost": (self.easypost_url, self.easypost_api_key, None),
            "wms": (self.wms_url, self.wms_api_key, None),
            "crm": (self.crm_url, self.crm_api_token, None),
            "zendesk": (self.zendesk_url, self.zendesk_api_token, self.zendesk_email),
        }


@dataclass(frozen=True, kw_only=True)
class VendorAccess:
    """One opened account: where, with what, and the refusal that forbids it, if any."""

    system: str
    base_url: str
    secret: str = field(repr=False)
    username: str | None = None
    origin: str = "stored"
    """``stored`` (a ``vendor_connections`` row) or ``environment`` (the fallback)."""
    refused: str | None = None
    """Why this account may not be used for this tenant; its connector is never built."""


class AccountSource(Protocol):
    """A tenant's vendor accounts by system; a system not in the map is not configured."""

    def accounts(
        self, tenant_id: str, *, session: Session | None = None
    ) -> Mapping[str, VendorAccess]:
        """``session`` is a transaction of the tenant's the caller already has open (the
        worker's claim), for a source that reads the database: one transaction fewer per
        pass."""


def environment_accounts(
    settings: WritebackSettings, *, tenant_id: str, environment: Environment
) -> dict[str, VendorAccess]:
    """The fallback accounts from ``ORDEROPS_WRITEBACK_*``: for the named tenant only."""
    if settings.tenant is None or settings.tenant != tenant_id:
        return {}
    found: dict[str, VendorAccess] = {}
    for system, (url, secret, username) in settings.account_fields().items():
        if not url:
            continue
        mode = AccountMode(settings.mode)
        if system == VendorSystem.STRIPE:
            with contextlib.suppress(InvalidConnection):  # no known prefix: as declared
                mode = stripe_key_mode(secret)
        refused: str | None = None
        try:
            check_environment(
                tenant_id=tenant_id,
                environment=environment,
                system=VendorSystem(system),
                mode=mode,
                allow_test_mode=settings.allow_test_mode,
            )
        except EnvironmentBoundary as error:
            refused = error.message
        found[system] = VendorAccess(
            system=system,
            base_url=url,
            secret=secret,
            username=username,
            origin="environment",
            refused=refused,
        )
    return found


@dataclass(frozen=True)
class SettingsAccounts:
    """``ORDEROPS_WRITEBACK_*`` alone, with no table (tests, a worker without a database
    connection): the named tenant's environment is read from its id."""

    settings: WritebackSettings

    def accounts(
        self, tenant_id: str, *, session: Session | None = None
    ) -> Mapping[str, VendorAccess]:
        _, environment = read_tenant_id(tenant_id)
        return environment_accounts(self.settings, tenant_id=tenant_id, environment=environment)


_BUILT = {"easypost": ("easypost", "easypost_api")}
"""The cached connectors each system's account is used by (others: one, of its name)."""


@dataclass
class TenantConnectors:
    """The ``registry.Connectors`` of one tenant, each built on first use."""

    accounts: Mapping[str, VendorAccess]
    options: ConnectorOptions
    _made: dict[str, ConnectorBase | ApiClient] = field(default_factory=dict)
    _retired: list[ConnectorBase | ApiClient] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def update(self, accounts: Mapping[str, VendorAccess]) -> None:
        """Take the tenant's current accounts; a changed one's connectors are built afresh.

        A replaced connector is closed with the pool, not now: another thread may be in
        the middle of a request with it."""
        with self._lock:
            for system in set(self.accounts) | set(accounts):
                if self.accounts.get(system) != accounts.get(system):
                    for name in _BUILT.get(system, (system,)):
                        made = self._made.pop(name, None)
                        if made is not None:
                            self._retired.append(made)
            self.accounts = dict(accounts)

    def systems(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self.accounts)

    def stripe(self) -> StripeConnector:
        a = self._account("stripe")
        return self._get(
            "stripe",
            StripeConnector,
            lambda: StripeConnector(base_url=a.base_url, api_key=a.secret, options=self.options),
        )

    def shopify(self) -> ShopifyConnector:
        a = self._account("shopify")
        return self._get(
            "shopify",
            ShopifyConnector,
            lambda: ShopifyConnector(
                base_url=a.base_url, access_token=a.secret, options=self.options
            ),
        )

    def easypost(self) -> EasyPostConnector:
        a = self._account("easypost")
        return self._get(
            "easypost",
            EasyPostConnector,
            lambda: EasyPostConnector(base_url=a.base_url, api_key=a.secret, options=self.options),
        )

    def easypost_api(self) -> ApiClient:
        a = self._account("easypost")
        return self._get(
            "easypost_api",
            ApiClient,
            lambda: ApiClient(
                system="easypost",
                base_url=a.base_url,
                options=self.options,
                parse_error=parse_easypost_error,
                auth=(a.secret, ""),
            ),
        )

    def wms(self) -> WmsConnector:
        a = self._account("wms")
        return self._get(
            "wms",
            WmsConnector,
            lambda: WmsConnector(base_url=a.base_url, api_key=a.secret, options=self.options),
        )

    def crm(self) -> CrmConnector:
        a = self._account("crm")
        return self._get(
            "crm",
            CrmConnector,
            lambda: CrmConnector(base_url=a.base_url, api_token=a.secret, options=self.options),
        )

    def zendesk(self) -> ZendeskConnector:
        a = self._account("zendesk")
        return self._get(
            "zendesk",
            ZendeskConnector,
            lambda: ZendeskConnector(
                base_url=a.base_url,
                email=a.username or "",
                api_token=a.secret,
                options=self.options,
            ),
        )

    def close(self) -> None:
        with self._lock:
            made, self._made = list(self._made.values()), {}
            retired, self._retired = self._retired, []
        for client in [*made, *retired]:
            client.close()

    def _account(self, system: str) -> VendorAccess:
        with self._lock:
            account = self.accounts.get(system)
        if account is None:
            raise ConfigurationError(
                f"writeback to {system} is not configured for tenant {self.options.tenant_id}"
            )
        if account.refused is not None:
            raise ConfigurationError(f"refused: {account.refused}")
        return account

    def _get(self, name: str, kind: type[C], build: Callable[[], C]) -> C:
        with self._lock:
            made = self._made.get(name)
            if made is None:
                made = build()  # type: ignore[assignment]
                self._made[name] = made  # type: ignore[assignment]
        assert isinstance(made, kind)
        return made


class ConnectorPool:
    """Connectors for every tenant, sharing one circuit breaker (keyed by system and tenant).

    ``source`` gives each tenant's accounts; bare ``WritebackSettings`` mean those settings
    alone (``SettingsAccounts``: the named tenant only)."""

    def __init__(
        self,
        source: WritebackSettings | AccountSource,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.source: AccountSource = (
            SettingsAccounts(source) if isinstance(source, WritebackSettings) else source
        )
        self._clock = clock or SystemClock()
        self._retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(clock=self._clock)
        self._sleep = sleep
        self._tenants: dict[str, TenantConnectors] = {}
        self._lock = threading.Lock()

    def systems(self, tenant_id: str, *, session: Session | None = None) -> frozenset[str]:
        """The tenant's configured systems, re-reading its accounts (once per pass)."""
        connectors = self._connectors(tenant_id)
        connectors.update(self.source.accounts(tenant_id, session=session))
        return connectors.systems()

    def for_tenant(self, tenant_id: str) -> TenantConnectors:
        """The tenant's connectors, with the accounts of its last ``systems`` call (read now
        if there was none)."""
        with self._lock:
            connectors = self._tenants.get(tenant_id)
        if connectors is None:
            self.systems(tenant_id)
            connectors = self._connectors(tenant_id)
        return connectors

    def _connectors(self, tenant_id: str) -> TenantConnectors:
        with self._lock:
            connectors = self._tenants.get(tenant_id)
            if connectors is None:
                options = ConnectorOptions(
                    tenant_id=tenant_id,
                    retry=self._retry,
                    breaker=self.breaker,
                    clock=self._clock,
                    sleep=self._sleep,
                )
                connectors = TenantConnectors(accounts={}, options=options)
                self._tenants[tenant_id] = connectors
            return connectors

    def close(self) -> None:
        with self._lock:
            tenants, self._tenants = list(self._tenants.values()), {}
        for connectors in tenants:
            connectors.close()
