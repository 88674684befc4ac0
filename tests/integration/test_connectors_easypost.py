"""EasyPostConnector: address checks, and postage bought once even when the answer is lost."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orderops.sandbox import AppSlot, Fault, FaultKind, run_sandbox
from orderops.sandbox.easypost import EasyPostSandbox
from orderops.writeback.connectors.base import PermanentError, RetryPolicy
from orderops.writeback.connectors.easypost import EasyPostConnector
from orderops.writeback.connectors.transport import ConnectorOptions

KEY = "EZTK_test"
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002, jitter=0.0)
OPTIONS = ConnectorOptions(tenant_id="t-1", retry=FAST, sleep=lambda _: None)
HOME = {
    "street1": "417 Montgomery St",
    "city": "San Francisco",
    "state": "CA",
    "zip": "94104",
    "country": "US",
}
SHOP = {
    "street1": "1 Warehouse Way",
    "city": "Oakland",
    "state": "CA",
    "zip": "94607",
    "country": "US",
}


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[AppSlot, str]]:
    slot = AppSlot()
    with run_sandbox(slot) as url:
        yield slot, url


@pytest.fixture
def sandbox(served: tuple[AppSlot, str]) -> EasyPostSandbox:
    fresh = EasyPostSandbox(api_key=KEY)
    served[0].app = fresh.app
    return fresh


@pytest.fixture
def connector(served: tuple[AppSlot, str], sandbox: EasyPostSandbox) -> Iterator[EasyPostConnector]:
    with EasyPostConnector(base_url=served[1], api_key=KEY, options=OPTIONS) as made:
        yield made


@pytest.mark.parametrize(
    ("street1", "deliverable"),
    [("417 Montgomery St", True), ("Montgomery St", False), ("", False)],
)
def test_address_verification(
    connector: EasyPostConnector, street1: str, deliverable: bool
) -> None:
    result = connector.verify_address({**HOME, "street1": street1})

    assert result.deliverable is deliverable
    assert bool(result.errors) is not deliverable


@pytest.mark.parametrize("kind", [FaultKind.CRASH_AFTER_EFFECT, FaultKind.DROP_AFTER_EFFECT])
def test_postage_is_bought_once_despite_a_lost_answer(
    sandbox: EasyPostSandbox, connector: EasyPostConnector, kind: FaultKind
) -> None:
    shipment = connector.create_shipment(
        to_address=HOME, from_address=SHOP, parcel={"weight": 16.0}, reference="case-7"
    )
    cheapest = min(shipment.rates, key=lambda r: r.amount)
    sandbox.control.inject(Fault(kind=kind, path_contains="/buy"))

    bought = connector.buy(shipment_id=shipment.id, rate_id=cheapest.id, idempotency_key="b-1")

    assert bought.replayed is True
    assert bought.selected_rate_id == cheapest.id
    assert bought.tracking_code is not None
    assert len(sandbox.control.ledger.entries("shipment.bought")) == 1


def test_unknown_rate_is_permanent(sandbox: EasyPostSandbox, connector: EasyPostConnector) -> None:
    shipment = connector.create_shipment(
        to_address=HOME, from_address=SHOP, parcel={"weight": 3.0}, reference="case-8"
    )

    with pytest.raises(PermanentError) as raised:
        connector.buy(shipment_id=shipment.id, rate_id="rate_nope", idempotency_key="b-2")

    assert raised.value.provider_code == "SHIPMENT.RATE.NOT_FOUND"
    assert connector.get_shipment(shipment.id).tracking_code is None


def test_wrong_key_is_permanent(served: tuple[AppSlot, str], sandbox: EasyPostSandbox) -> None:
    with (
        EasyPostConnector(base_url=served[1], api_key="EZTK_wrong", options=OPTIONS) as bad,
        pytest.raises(PermanentError) as raised,
    ):
        bad.verify_address(HOME)

    assert (raised.value.status, raised.value.provider_code) == (401, "APIKEY.INACTIVE")
