"""One trace follows an event from the API's accept to the vendor call it caused.

The steps run apart in time (and, in production, in other processes): the API stores the
event, a worker processes it later, a writeback worker delivers the outbox message that
processing queued. The trace context travels in the rows (``telemetry/tracing.py``), so
an in-memory exporter sees one trace: the API's server span, the processing span under
it, the delivery span under that, and the Shopify call under the delivery, which sends
``traceparent`` on to the vendor. Without tracing configured nothing is stamped.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind
from sqlalchemy import select, update

from builders.access import Person
from builders.events import scan, shipment
from builders.holds import hold_row, place_hold
from builders.telemetry import Spans
from builders.worker import work
from builders.writeback import Sandboxes, drain, fast_runtime, make_case, served_sandboxes
from orderops.api.app import create_app
from orderops.bootstrap import App
from orderops.domain.clock import FixedClock
from orderops.storage.tables import Case, InboxEvent
from orderops.storage.uow import UnitOfWork


@pytest.fixture(scope="module")
def served() -> Iterator[Sandboxes]:
    with served_sandboxes() as sandboxes:
        yield sandboxes


@pytest.fixture
def sandboxes(served: Sandboxes) -> Sandboxes:
    served.renew()
    return served


def held_case(app: App, clock: FixedClock, sandboxes: Sandboxes, agent: Person) -> str:
    """A late-shipment case on a Shopify order whose fulfilment the desk holds there."""
    order_id, _ = sandboxes.shopify.add_order(total_price="40.00", skus=("SKU-1",))
    case_id = make_case(app, clock, order_ref=str(order_id), exception_type="shipment_late")
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.execute(update(Case).where(Case.id == case_id).values(status="new"))
        uow.commit()
    placed = place_hold(app, clock, agent, case_id=case_id)
    drain(app, fast_runtime(sandboxes.settings(), clock), clock)
    assert hold_row(app, "acme", placed.hold_id).status == "active"
    reopen(app, case_id)  # the hold's delivery resolved it; the parcel is still late
    return str(order_id)


def reopen(app: App, case_id: str) -> None:
    with UnitOfWork(app.sessions, tenant_id="acme") as uow:
        uow.session.execute(
            update(Case).where(Case.id == case_id).values(status="new", closed_at=None)
        )
        uow.commit()


def test_one_trace_spans_the_accept_the_worker_the_outbox_and_the_vendor_call(
    app: App,
    clock: FixedClock,
    sandboxes: Sandboxes,
    agent: Person,
    service_key: str,
    spans: Spans,
) -> None:
    order_ref = held_case(app, clock, sandboxes, agent)
    spans.exporter.clear()  # the hold's own placement is another story
    with TestClient(_api(app)) as http:
        answer = http.post(
            "/v1/events",
            content=json.dumps(
                [
                    shipment(order_ref, at=clock.now(), tracking="1ZTRACE"),
                    scan("delivered", at=clock.now(), tracking="1ZTRACE", order_ref=order_ref),
                ]
            ),
            headers={"Authorization": f"Bearer {service_key}"},
        )
    assert answer.status_code == 202, answer.text
    work(app)  # the shipment clears the case: its hold is released through the outbox
    drain(app, fast_runtime(sandboxes.settings(), clock), clock)

    finished = spans.finished()
    (accept,) = [s for s in finished if s.name == "POST /v1/events"]
    (deliver,) = [s for s in finished if s.name == "outbox.deliver shopify.release_hold"]
    (process,) = [s for s in finished if s.context.span_id == _parent_id(deliver)]
    calls = [s for s in finished if s.kind is SpanKind.CLIENT]

    assert {s.context.trace_id for s in finished} == {accept.context.trace_id}
    assert accept.kind is SpanKind.SERVER
    assert accept.parent is None
    assert process.name == "inbox.process"
    assert _parent_id(process) == accept.context.span_id
    assert calls, "the release reached Shopify over HTTP"
    assert {_parent_id(call) for call in calls} == {deliver.context.span_id}
    assert {call.attributes["orderops.system"] for call in calls if call.attributes} == {"shopify"}


def test_without_tracing_no_row_carries_a_trace_context(
    app: App, clock: FixedClock, service_key: str
) -> None:
    with TestClient(_api(app)) as http:
        answer = http.post(
            "/v1/events",
            content=json.dumps(shipment("o-untraced", at=clock.now())),
            headers={"Authorization": f"Bearer {service_key}", "traceparent": TRACEPARENT},
        )
    assert answer.status_code == 202, answer.text
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (envelope,) = uow.session.scalars(select(InboxEvent.envelope)).all()
    assert "traceparent" not in envelope


TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"


def test_a_callers_traceparent_makes_the_accept_a_child_of_its_trace(
    app: App, clock: FixedClock, service_key: str, spans: Spans
) -> None:
    with TestClient(_api(app)) as http:
        answer = http.post(
            "/v1/events",
            content=json.dumps(shipment("o-traced", at=clock.now())),
            headers={"Authorization": f"Bearer {service_key}", "traceparent": TRACEPARENT},
        )
    assert answer.status_code == 202, answer.text
    (accept,) = [s for s in spans.finished() if s.name == "POST /v1/events"]
    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        (envelope,) = uow.session.scalars(select(InboxEvent.envelope)).all()

    assert format(accept.context.trace_id, "032x") == "4bf92f3577b34da6a3ce929d0e0e4736"
    assert _parent_id(accept) == 0x00F067AA0BA902B7
    assert envelope["traceparent"].split("-")[1:3] == [
        "4bf92f3577b34da6a3ce929d0e0e4736",
        format(accept.context.span_id, "016x"),
    ]


def _parent_id(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


def _api(app: App) -> FastAPI:
    return create_app(app)
