"""The registry: which connector call performs each (system, operation) an outbox row names.

Every operation has three parts the worker runs in order:

- ``precheck`` reads the vendor and compares it with the facts the decision was taken on
  (the payload's ``expect``); a difference stops the write (status ``conflict``). When an
  earlier attempt may have reached the vendor (``Call.sent_before``) it also looks for our
  own earlier effect (a crash after the write), returning its result so the write is not
  repeated; on a message's first attempt nothing was ever sent under its key, so there is
  nothing of ours to find and that look is skipped.
- ``execute`` performs the write with the message's idempotency key.
- ``confirm`` reads back and says whether the effect is really there. It is skipped when
  ``answer_confirms`` finds the effect in the write's own answer (the vendor answered with
  the resource in its resulting state): reading it again right away tells nothing new.

Operations are plain values in one explicit table; the vendor knowledge lives in the
``operations`` modules and the connectors beneath them.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from orderops.domain.errors import ConfigurationError
from orderops.writeback.connectors.crm import CrmConnector
from orderops.writeback.connectors.easypost import EasyPostConnector
from orderops.writeback.connectors.shopify import ShopifyConnector
from orderops.writeback.connectors.stripe import StripeConnector
from orderops.writeback.connectors.transport import ApiClient
from orderops.writeback.connectors.wms import WmsConnector
from orderops.writeback.connectors.zendesk import ZendeskConnector


class Connectors(Protocol):
    """The connectors of one tenant; each raises ConfigurationError when not configured."""

    def stripe(self) -> StripeConnector: ...
    def shopify(self) -> ShopifyConnector: ...
    def easypost(self) -> EasyPostConnector: ...
    def easypost_api(self) -> ApiClient: ...
    def wms(self) -> WmsConnector: ...
    def crm(self) -> CrmConnector: ...
    def zendesk(self) -> ZendeskConnector: ...


@dataclass(frozen=True)
class Call:
    """One message as an operation sees it: the key fixed at decision time and the payload."""

    idempotency_key: str
    payload: Mapping[str, Any]
    sent_before: bool = True
    """Whether an earlier attempt may have reached the vendor under this key: False only
    on the message's first claim (its durable attempt count is 1), when no request was
    ever sent for it, so there is no earlier effect of ours to look for."""

    def expect(self, fact: str, default: Any) -> Any:
        expected = self.payload.get("expect") or {}
        return expected.get(fact, default)


@dataclass(frozen=True)
class Difference:
    """One fact the decision relied on that the vendor no longer shows."""

    fact: str
    expected: Any
    actual: Any

    def as_json(self) -> dict[str, Any]:
        return {"fact": self.fact, "expected": self.expected, "actual": self.actual}


@dataclass(frozen=True)
class Precheck:
    differences: tuple[Difference, ...] = ()
    earlier_result: dict[str, Any] | None = None
    """Our own effect is already there (found by key or marker): its result."""


Result = dict[str, Any]
PrecheckFn = Callable[[Connectors, Call], Precheck]
ExecuteFn = Callable[[Connectors, Call], Result]
ConfirmFn = Callable[[Connectors, Call, Result], bool]
AnswerCheck = Callable[[Result], bool]


def no_precheck(_connectors: Connectors, _call: Call) -> Precheck:
    """For effects the vendor deduplicates by key and that rest on no outside fact."""
    return Precheck()


@dataclass(frozen=True)
class Operation:
    system: str
    name: str
    execute: ExecuteFn
    confirm: ConfirmFn
    precheck: PrecheckFn = field(default=no_precheck)
    summary_fields: tuple[str, ...] = ()
    """Payload fields copied into each attempt's request summary (no personal data)."""
    answer_confirms: AnswerCheck | None = None
    """Whether a fresh write's result already shows the effect in the state wanted; None
    when the vendor's answer does not tell, and only ``confirm``'s read-back can."""


def fresh_answer(result: Result) -> bool:
    """The answer came from the write itself, not replayed from an earlier request (whose
    stored answer describes the resource as it was then) nor found by a look-first."""
    return not result.get("replayed")


class Registry:
    def __init__(self, operations: list[Operation]) -> None:
        self._operations = {(op.system, op.name): op for op in operations}

    def get(self, system: str, name: str) -> Operation:
        operation = self._operations.get((system, name))
        if operation is None:
            raise ConfigurationError(f"no writeback operation {system}.{name} is registered")
        return operation

    def names(self) -> list[tuple[str, str]]:
        return sorted(self._operations)

    def systems(self) -> frozenset[str]:
        return frozenset(system for system, _ in self._operations)


def default_registry() -> Registry:
    """Every operation OrderOps can write back, across the connectors it ships with."""
    from orderops.writeback.operations import (
        credits,
        disputes,
        fulfilment,
        messages,
        order_changes,
        payment_holds,
        payments,
        shipping,
        stock,
    )

    return Registry(
        [
            *payments.OPERATIONS,
            *fulfilment.OPERATIONS,
            *messages.OPERATIONS,
            *payment_holds.OPERATIONS,
            *order_changes.OPERATIONS,
            *stock.OPERATIONS,
            *shipping.OPERATIONS,
            *credits.OPERATIONS,
            *disputes.OPERATIONS,
        ]
    )
