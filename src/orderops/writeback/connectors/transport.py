"""One HTTP attempt against a vendor, turned into a result or a named connector error.

Connectors compose their operations from ``ApiClient.request`` calls and wrap each whole
operation in ``ApiClient.run``, so a retry repeats the operation (including the read that
looks for an earlier effect), never just the last HTTP call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from orderops.domain.clock import Clock, SystemClock
from orderops.telemetry import steps
from orderops.telemetry.metrics import METRICS
from orderops.telemetry.tracing import outgoing
from orderops.writeback.connectors.base import (
    BreakerKey,
    BreakerState,
    CircuitBreaker,
    ConnectorError,
    PermanentError,
    RetryableError,
    RetryPolicy,
    error_class_for_status,
)

T = TypeVar("T")

DEFAULT_TIMEOUT = httpx.Timeout(10.0, connect=3.0)


@dataclass(frozen=True)
class ProviderError:
    """The vendor's own error code and message, pulled out of its error body."""

    code: str | None
    message: str


ErrorParser = Callable[[httpx.Response], ProviderError]


@dataclass(frozen=True, kw_only=True)
class ConnectorOptions:
    """Everything about a connector that is not the vendor's address and credentials."""

    tenant_id: str
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    breaker: CircuitBreaker | None = None
    timeout: httpx.Timeout = field(default_factory=lambda: DEFAULT_TIMEOUT)
    clock: Clock = field(default_factory=SystemClock)
    sleep: Callable[[float], None] = time.sleep
    transport: httpx.BaseTransport | None = None


class ApiClient:
    def __init__(
        self,
        *,
        system: str,
        base_url: str,
        options: ConnectorOptions,
        parse_error: ErrorParser,
        auth: httpx.Auth | tuple[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.system = system
        self._options = options
        self._parse_error = parse_error
        self._key = BreakerKey(system, options.tenant_id)
        self._http = httpx.Client(
            base_url=base_url,
            auth=auth,
            headers=headers,
            timeout=options.timeout,
            transport=options.transport,
        )

    def close(self) -> None:
        self._http.close()

    def run(self, operation: Callable[[], T]) -> T:
        """Run a whole operation under the retry policy."""
        return self._options.retry.run(operation, sleep=self._options.sleep)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        """One attempt: breaker check, send, and raise the named error for a failure."""
        breaker = self._options.breaker
        if breaker is not None:
            breaker.before_call(self._key)
        healthy = False
        try:
            with steps.vendor_call(self.system, method, path):  # traceparent to the vendor
                response = self._send(
                    method, path, params=params, json=json, data=data, headers=outgoing(headers)
                )
            error = self._error_for(response)
            healthy = not isinstance(error, RetryableError)
            if error is not None:
                raise error
            return response
        finally:
            if breaker is not None:
                if healthy:
                    breaker.record_success(self._key)
                else:
                    breaker.record_failure(self._key)
                is_open = breaker.state(self._key) is BreakerState.OPEN
                METRICS.circuit(self.system, self._options.tenant_id, is_open=is_open)

    def request_json(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        json: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        response = self.request(method, path, params=params, json=json, data=data, headers=headers)
        return self.body(response)

    def body(self, response: httpx.Response) -> dict[str, Any]:
        try:
            parsed = response.json()
        except ValueError as exc:
            raise PermanentError(
                f"{self.system} answered {response.status_code} without a JSON body",
                system=self.system,
                status=response.status_code,
            ) from exc
        if not isinstance(parsed, dict):
            raise PermanentError(
                f"{self.system} answered with a JSON {type(parsed).__name__}, not an object",
                system=self.system,
                status=response.status_code,
            )
        return parsed

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None,
        json: dict[str, Any] | None,
        data: dict[str, str] | None,
        headers: dict[str, str] | None,
    ) -> httpx.Response:
        try:
            return self._http.request(
                method, path, params=params, json=json, data=data, headers=headers
            )
        except httpx.TimeoutException as exc:
            raise RetryableError(
                f"{self.system} timed out: {exc}", system=self.system, provider_code="timeout"
            ) from exc
        except httpx.TransportError as exc:
            raise RetryableError(
                f"{self.system} connection failed: {exc}",
                system=self.system,
                provider_code="connection_error",
            ) from exc

    def _error_for(self, response: httpx.Response) -> ConnectorError | None:
        error_class = error_class_for_status(response.status_code)
        if error_class is None:
            return None
        detail = self._parse_error(response)
        return error_class(
            f"{self.system} answered {response.status_code}: {detail.message}",
            system=self.system,
            status=response.status_code,
            provider_code=detail.code,
            retry_after=parse_retry_after(response.headers.get("retry-after"), self._now()),
        )

    def _now(self) -> float:
        return self._options.clock.now().timestamp()


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a Retry-After header: delta seconds (Shopify sends "2.0") or a date."""
    if value is None or not value.strip():
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, moment.timestamp() - now)


class ConnectorBase:
    """Lifecycle shared by connectors: they own an HTTP client and must be closed."""

    _api: ApiClient

    def close(self) -> None:
        self._api.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
