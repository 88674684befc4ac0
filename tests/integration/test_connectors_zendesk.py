"""ZendeskConnector: external_id and marker tags stand in for the missing idempotency header."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orderops.sandbox import AppSlot, Fault, FaultKind, run_sandbox
from orderops.sandbox.zendesk import ZendeskSandbox
from orderops.writeback.connectors.base import PermanentError, RetryPolicy
from orderops.writeback.connectors.transport import ConnectorOptions
from orderops.writeback.connectors.zendesk import ZendeskConnector, external_id_for

EMAIL, TOKEN = "agent@shop.test", "zd-token"
FAST = RetryPolicy(max_attempts=3, initial_backoff=0.001, max_backoff=0.002, jitter=0.0)
OPTIONS = ConnectorOptions(tenant_id="t-1", retry=FAST, sleep=lambda _: None)


@pytest.fixture(scope="module")
def served() -> Iterator[tuple[AppSlot, str]]:
    slot = AppSlot()
    with run_sandbox(slot) as url:
        yield slot, url


@pytest.fixture
def sandbox(served: tuple[AppSlot, str]) -> ZendeskSandbox:
    fresh = ZendeskSandbox(email=EMAIL, api_token=TOKEN)
    served[0].app = fresh.app
    return fresh


@pytest.fixture
def connector(served: tuple[AppSlot, str], sandbox: ZendeskSandbox) -> Iterator[ZendeskConnector]:
    with ZendeskConnector(
        base_url=served[1], email=EMAIL, api_token=TOKEN, options=OPTIONS
    ) as made:
        yield made


@pytest.mark.parametrize("kind", [FaultKind.CRASH_AFTER_EFFECT, FaultKind.DROP_AFTER_EFFECT])
def test_ticket_created_once_despite_crash_after_effect(
    sandbox: ZendeskSandbox, connector: ZendeskConnector, kind: FaultKind
) -> None:
    sandbox.control.inject(Fault(kind=kind, method="POST"))

    ticket = connector.create_ticket(
        subject="Order #1001 delayed",
        body="Your parcel is late; we have refunded shipping.",
        requester_email="ana@example.com",
        idempotency_key="tk-1",
        tags=("delay",),
    )

    assert ticket.replayed is True
    assert ticket.external_id == external_id_for("tk-1")
    assert ticket.tags == ("delay",)
    assert len(sandbox.control.ledger.entries("ticket.created")) == 1


def test_update_adds_comment_and_status_once(
    sandbox: ZendeskSandbox, connector: ZendeskConnector
) -> None:
    ticket = connector.create_ticket(
        subject="Refund", body="Opened", requester_email="b@example.com", idempotency_key="tk-2"
    )
    sandbox.control.inject(Fault(kind=FaultKind.CRASH_AFTER_EFFECT, method="PUT"))

    updated = connector.update_ticket(
        ticket_id=ticket.id, idempotency_key="up-2", comment="Refund sent", status="solved"
    )
    again = connector.update_ticket(
        ticket_id=ticket.id, idempotency_key="up-2", comment="Refund sent", status="solved"
    )

    assert (updated.status, updated.replayed, again.replayed) == ("solved", True, True)
    assert connector.list_comments(ticket.id) == ["Opened", "Refund sent"]
    assert len(sandbox.control.ledger.entries("ticket.updated")) == 1


def test_invalid_status_is_permanent(sandbox: ZendeskSandbox, connector: ZendeskConnector) -> None:
    ticket = connector.create_ticket(
        subject="x", body="y", requester_email="c@example.com", idempotency_key="tk-3"
    )

    with pytest.raises(PermanentError) as raised:
        connector.update_ticket(ticket_id=ticket.id, idempotency_key="up-3", status="archived")

    assert raised.value.status == 422
    assert sandbox.ticket(ticket.id)["status"] == "new"


def test_wrong_token_is_permanent(served: tuple[AppSlot, str], sandbox: ZendeskSandbox) -> None:
    with (
        ZendeskConnector(
            base_url=served[1], email=EMAIL, api_token="wrong", options=OPTIONS
        ) as bad,
        pytest.raises(PermanentError) as raised,
    ):
        bad.get_ticket(1)

    assert raised.value.status == 401
    assert raised.value.message.endswith("Couldn't authenticate you")
