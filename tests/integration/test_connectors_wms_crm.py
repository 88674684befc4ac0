"""WMS and CRM connectors: Idempotency-Key systems keep one effect through crashes and retries."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from orderops.sandbox import AppSlot, Fault, FaultKind, run_sandbox
from orderops.sandbox.crm import CrmSandbox
from orderops.sandbox.wms import WmsSandbox
from orderops.writeback.connectors.base import ConflictError, PermanentError, RetryPolicy
from orderops.writeback.connectors.crm import CrmConnector
from orderops.writeback.connectors.transport import ConnectorOptions
from orderops.writeback.connectors.wms import WmsConnector

FAST = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002, jitter=0.0)
OPTIONS = ConnectorOptions(tenant_id="t-1", retry=FAST, sleep=lambda _: None)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[AppSlot, str]]:
    slot = AppSlot()
    with run_sandbox(slot) as url:
        yield slot, url


@pytest.fixture
def wms(served: tuple[AppSlot, str]) -> Iterator[tuple[WmsSandbox, WmsConnector]]:
    sandbox = WmsSandbox(api_key="wms-key")
    sandbox.set_stock("MUG-RED", 5)
    sandbox.set_stock("MUG-BLUE", 2)
    served[0].app = sandbox.app
    with WmsConnector(base_url=served[1], api_key="wms-key", options=OPTIONS) as connector:
        yield sandbox, connector


@pytest.fixture
def crm(served: tuple[AppSlot, str]) -> Iterator[tuple[CrmSandbox, CrmConnector]]:
    sandbox = CrmSandbox(api_token="crm-token")
    served[0].app = sandbox.app
    with CrmConnector(base_url=served[1], api_token="crm-token", options=OPTIONS) as connector:
        yield sandbox, connector


@pytest.mark.parametrize("kind", [FaultKind.CRASH_AFTER_EFFECT, FaultKind.DROP_AFTER_EFFECT])
def test_reservation_survives_a_crash_after_effect_once(
    wms: tuple[WmsSandbox, WmsConnector], kind: FaultKind
) -> None:
    sandbox, connector = wms
    sandbox.control.inject(Fault(kind=kind))

    reservation = connector.reserve(order_id="o-1", sku="MUG-RED", quantity=2, idempotency_key="r1")

    assert reservation.replayed is True
    assert len(sandbox.control.ledger.entries("reservation.created")) == 1
    assert connector.get_stock("MUG-RED").available == 3


def test_substitution_moves_the_reservation_to_the_new_sku(
    wms: tuple[WmsSandbox, WmsConnector],
) -> None:
    _, connector = wms
    connector.reserve(order_id="o-2", sku="MUG-RED", quantity=1, idempotency_key="r2")

    substitution = connector.substitute(
        order_id="o-2", from_sku="MUG-RED", to_sku="MUG-BLUE", quantity=1, idempotency_key="s2"
    )

    statuses = {(r.sku, r.status) for r in connector.list_reservations("o-2")}
    assert statuses == {("MUG-RED", "released"), ("MUG-BLUE", "active")}
    assert substitution.reservation_id in {r.id for r in connector.list_reservations("o-2")}
    assert connector.get_stock("MUG-BLUE").available == 1


def test_a_substitution_naming_its_reservation_leaves_the_orders_other_one_of_the_sku_held(
    wms: tuple[WmsSandbox, WmsConnector],
) -> None:
    _, connector = wms
    original = connector.reserve(order_id="o-4", sku="MUG-RED", quantity=1, idempotency_key="a")
    second = connector.reserve(order_id="o-4", sku="MUG-RED", quantity=2, idempotency_key="b")

    swap = connector.substitute(
        order_id="o-4",
        from_sku="MUG-RED",
        to_sku="MUG-BLUE",
        quantity=1,
        idempotency_key="s4",
        reservation_id=second.id,
    )

    assert swap.released_reservation_ids == (second.id,)
    red = {r.id: (r.quantity, r.status) for r in connector.list_reservations("o-4", sku="MUG-RED")}
    assert red.pop(original.id) == (1, "active")
    assert red.pop(second.id) == (2, "released")
    assert list(red.values()) == [(1, "active")]  # what the swap did not take stays held
    assert [r.sku for r in connector.list_reservations("o-4", sku="MUG-BLUE")] == ["MUG-BLUE"]


def test_a_substitution_naming_another_skus_reservation_is_refused(
    wms: tuple[WmsSandbox, WmsConnector],
) -> None:
    _, connector = wms
    blue = connector.reserve(order_id="o-5", sku="MUG-BLUE", quantity=1, idempotency_key="c")

    with pytest.raises(PermanentError, match="holds MUG-BLUE"):
        connector.substitute(
            order_id="o-5",
            from_sku="MUG-RED",
            to_sku="MUG-BLUE",
            quantity=1,
            idempotency_key="s5",
            reservation_id=blue.id,
        )
    assert [r.status for r in connector.list_reservations("o-5")] == ["active"]


def test_releasing_twice_with_new_keys_is_a_conflict(wms: tuple[WmsSandbox, WmsConnector]) -> None:
    _, connector = wms
    reservation = connector.reserve(order_id="o-3", sku="MUG-RED", quantity=1, idempotency_key="r3")
    connector.release(reservation_id=reservation.id, idempotency_key="rel-3a")

    replay = connector.release(reservation_id=reservation.id, idempotency_key="rel-3a")
    with pytest.raises(ConflictError) as raised:
        connector.release(reservation_id=reservation.id, idempotency_key="rel-3b")

    assert replay.replayed is True
    assert raised.value.provider_code == "reservation_not_active"


def test_insufficient_stock_is_permanent(wms: tuple[WmsSandbox, WmsConnector]) -> None:
    sandbox, connector = wms

    with pytest.raises(PermanentError) as raised:
        connector.reserve(order_id="o-4", sku="MUG-BLUE", quantity=3, idempotency_key="r4")

    assert raised.value.provider_code == "insufficient_stock"
    assert sandbox.control.ledger.entries() == []


def test_key_reused_with_another_body_is_refused(
    served: tuple[AppSlot, str], wms: tuple[WmsSandbox, WmsConnector]
) -> None:
    _, connector = wms
    connector.reserve(order_id="o-5", sku="MUG-RED", quantity=1, idempotency_key="r5")

    with pytest.raises(PermanentError) as raised:
        connector.reserve(order_id="o-5", sku="MUG-RED", quantity=2, idempotency_key="r5")

    assert (raised.value.status, raised.value.provider_code) == (422, "idempotency_key_reused")


def test_store_credit_survives_a_crash_after_effect_once(
    crm: tuple[CrmSandbox, CrmConnector],
) -> None:
    sandbox, connector = crm
    customer_id = sandbox.add_customer(email="ana@example.com")
    sandbox.control.inject(Fault(kind=FaultKind.CRASH_AFTER_EFFECT))

    credit = connector.issue_store_credit(
        customer_id=customer_id, amount_minor=1500, currency="eur", idempotency_key="cr1"
    )

    assert (credit.amount_minor, credit.currency, credit.replayed) == (1500, "EUR", True)
    assert connector.get_customer(customer_id).store_credit_balance == {"EUR": 1500}
    assert len(connector.list_store_credits(customer_id)) == 1


def test_note_is_written_once_per_key(crm: tuple[CrmSandbox, CrmConnector]) -> None:
    sandbox, connector = crm
    customer_id = sandbox.add_customer(email="ben@example.com")

    first = connector.add_note(
        customer_id=customer_id, body="Refund approved", idempotency_key="n1"
    )
    again = connector.add_note(
        customer_id=customer_id, body="Refund approved", idempotency_key="n1"
    )

    assert (first.replayed, again.replayed, again.id) == (False, True, first.id)
    assert [n["body"] for n in sandbox.notes(customer_id)] == ["Refund approved"]


def test_crm_wrong_token_is_401(
    served: tuple[AppSlot, str], crm: tuple[CrmSandbox, CrmConnector]
) -> None:
    sandbox, _ = crm
    customer_id = sandbox.add_customer(email="cy@example.com")

    answer = httpx.get(
        f"{served[1]}/v1/customers/{customer_id}", headers={"Authorization": "Bearer nope"}
    )

    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "unauthorized"
