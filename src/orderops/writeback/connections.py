"""Where the vendors are and how to reach them: settings, and the connectors per tenant.

Vendor addresses and credentials come from ``ORDEROPS_WRITEBACK_*`` (validated once);
a system without a URL is simply not configured, and the worker leaves its messages
queued rather than failing them. Connectors are built per tenant (the circuit breaker's
key is system and tenant) and reused across passes, closing their HTTP clients on exit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic_settings import BaseSettings, SettingsConfigDict

from orderops.domain.clock import Clock, SystemClock
from orderops.domain.errors import ConfigurationError
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
        urls = {
            "stripe": self.stripe_url,
            "shopify": self.shopify_url,
            "easypost": self.easypost_url,
            "wms": self.wms_url,
            "crm": self.crm_url,
            "zendesk": self.zendesk_url,
        }
        return frozenset(system for system, url in urls.items() if url)


@dataclass
class TenantConnectors:
    """The ``registry.Connectors`` of one tenant, each built on first use."""

    settings: WritebackSettings
    options: ConnectorOptions
    _made: dict[str, ConnectorBase | ApiClient] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def stripe(self) -> StripeConnector:
        url = self._url("stripe", self.settings.stripe_url)
        return self._get(
            "stripe",
            StripeConnector,
            lambda: StripeConnector(
                base_url=url, api_key=self.settings.stripe_api_key, options=self.options
            ),
        )

    def shopify(self) -> ShopifyConnector:
        url = self._url("shopify", self.settings.shopify_url)
        return self._get(
            "shopify",
            ShopifyConnector,
            lambda: ShopifyConnector(
                base_url=url,
                access_token=self.settings.shopify_access_token,
                options=self.options,
            ),
        )

    def easypost(self) -> EasyPostConnector:
        url = self._url("easypost", self.settings.easypost_url)
        return self._get(
            "easypost",
            EasyPostConnector,
            lambda: EasyPostConnector(
                base_url=url, api_key=self.settings.easypost_api_key, options=self.options
            ),
        )

    def easypost_api(self) -> ApiClient:
        url = self._url("easypost", self.settings.easypost_url)
        return self._get(
            "easypost_api",
            ApiClient,
            lambda: ApiClient(
                system="easypost",
                base_url=url,
                options=self.options,
                parse_error=parse_easypost_error,
                auth=(self.settings.easypost_api_key, ""),
            ),
        )

    def wms(self) -> WmsConnector:
        url = self._url("wms", self.settings.wms_url)
        return self._get(
            "wms",
            WmsConnector,
            lambda: WmsConnector(
                base_url=url, api_key=self.settings.wms_api_key, options=self.options
            ),
        )

    def crm(self) -> CrmConnector:
        url = self._url("crm", self.settings.crm_url)
        return self._get(
            "crm",
            CrmConnector,
            lambda: CrmConnector(
                base_url=url, api_token=self.settings.crm_api_token, options=self.options
            ),
        )

    def zendesk(self) -> ZendeskConnector:
        url = self._url("zendesk", self.settings.zendesk_url)
        return self._get(
            "zendesk",
            ZendeskConnector,
            lambda: ZendeskConnector(
                base_url=url,
                email=self.settings.zendesk_email,
                api_token=self.settings.zendesk_api_token,
                options=self.options,
            ),
        )

    def close(self) -> None:
        with self._lock:
            made, self._made = list(self._made.values()), {}
        for client in made:
            client.close()

    def _url(self, system: str, url: str | None) -> str:
        if not url:
            raise ConfigurationError(f"writeback to {system} is not configured")
        return url

    def _get(self, name: str, kind: type[C], build: Callable[[], C]) -> C:
        with self._lock:
            made = self._made.get(name)
            if made is None:
                made = build()  # type: ignore[assignment]
                self._made[name] = made  # type: ignore[assignment]
        assert isinstance(made, kind)
        return made


class ConnectorPool:
    """Connectors for every tenant, sharing one circuit breaker (keyed by system and tenant)."""

    def __init__(
        self,
        settings: WritebackSettings,
        *,
        clock: Clock | None = None,
        retry: RetryPolicy | None = None,
        breaker: CircuitBreaker | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings
        self._clock = clock or SystemClock()
        self._retry = retry or RetryPolicy()
        self.breaker = breaker or CircuitBreaker(clock=self._clock)
        self._sleep = sleep
        self._tenants: dict[str, TenantConnectors] = {}
        self._lock = threading.Lock()

    def for_tenant(self, tenant_id: str) -> TenantConnectors:
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
                connectors = TenantConnectors(settings=self.settings, options=options)
                self._tenants[tenant_id] = connectors
            return connectors

    def close(self) -> None:
        with self._lock:
            tenants, self._tenants = list(self._tenants.values()), {}
        for connectors in tenants:
            connectors.close()
