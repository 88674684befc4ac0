"""Operations screens: the outbox (retry, cancel), dead letters (replay), and sources.

Thin shells over the services the API and CLI call: ``writeback.admin`` for the outbox
(the same permission as ``POST /v1/outbox/{id}/retry|cancel``, ``outbox:manage``, and the
same ``writeback.retried|cancelled`` audit rows, recorded as the signed-in person) and
``workflow.replay`` for dead letters, which ``orderops deadletters replay`` runs too; a
replay from the console is audited as ``dead_letter.replayed`` with its outcome.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from orderops.console.order_names import order_names
from orderops.console.source_health import source_health
from orderops.console.web import (
    PREFIX,
    ConsoleRoute,
    Signed,
    Viewer,
    app_of,
    form_of,
    redirect,
    render,
)
from orderops.decide.communications import settle_deliveries
from orderops.domain.roles import Permission
from orderops.storage.repositories.intake import DeadLetterStatus
from orderops.storage.uow import UnitOfWork
from orderops.workflow.replay import replay_dead_letter
from orderops.writeback import admin
from orderops.writeback.states import OUTBOX_MOVES, OutboxStatus

router = APIRouter(prefix=f"{PREFIX}/ops", route_class=ConsoleRoute, include_in_schema=False)
PAGE = 50
RETRYABLE = frozenset(
    str(s)
    for s, moves in OUTBOX_MOVES.items()
    if OutboxStatus.PENDING in moves and s is not OutboxStatus.IN_FLIGHT  # a worker's own move
)
CANCELLABLE = frozenset(
    str(s) for s, moves in OUTBOX_MOVES.items() if OutboxStatus.CANCELLED in moves
)
"""What the page offers; ``check_outbox_move`` refuses anything else on the server."""


def _page(value: str | None) -> int:
    return max(0, min(int(value), 10_000)) if value and value.isdigit() else 0


@router.get("/outbox")
async def outbox_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.CASES_READ)
    app = app_of(request)
    params = request.query_params
    status = params.get("status") or None
    if status is not None and status not in set(OutboxStatus):
        status = None
    where = admin.OutboxFilter(
        status=status,
        system=(params.get("system") or "").strip()[:40] or None,
        order_ref=(params.get("order") or "").strip()[:200] or None,
    )
    page = _page(params.get("page"))

    def read() -> Any:
        with UnitOfWork(
            app.sessions, tenant_id=viewer.tenant_id, write=False, scope=viewer.scope
        ) as uow:
            found = admin.list_messages(uow, where, limit=PAGE, offset=page * PAGE)
            names = order_names(uow, [m.order_ref for m in found.items if m.order_ref])
            for message in found.items:
                uow.session.expunge(message)
            return found, names

    found, names = await run_in_threadpool(read)
    return render(
        request,
        "outbox.html",
        names=names,
        messages=found.items,
        total=found.total,
        where=where,
        statuses=list(OutboxStatus),
        page=page,
        pages=(found.total + PAGE - 1) // PAGE,
        retryable=RETRYABLE,
        cancellable=CANCELLABLE,
    )


@router.post("/outbox/{message_id}/retry")
async def outbox_retry(request: Request, viewer: Signed, message_id: str) -> Response:
    return await _outbox_change(request, viewer, message_id, "retry")


@router.post("/outbox/{message_id}/cancel")
async def outbox_cancel(request: Request, viewer: Signed, message_id: str) -> Response:
    return await _outbox_change(request, viewer, message_id, "cancel")


async def _outbox_change(request: Request, viewer: Viewer, message_id: str, verb: str) -> Response:
    """As ``POST /v1/outbox/{id}/retry|cancel``: the same service, permission and audit."""
    viewer.need(Permission.OUTBOX_MANAGE)
    await form_of(request, viewer)
    app = app_of(request)

    def write() -> str:
        change = admin.retry_message if verb == "retry" else admin.cancel_message
        now = app.clock.now()
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, scope=viewer.scope) as uow:
            changed = change(uow, message_id, actor=viewer.principal.identity, now=now)
            if verb == "cancel":  # a customer message it carried fails, saying so
                settle_deliveries(uow, [changed], now)
            label = f"{changed.system} {changed.operation}"
            uow.commit()
            return label

    label = await run_in_threadpool(write)
    done = "Queued again" if verb == "retry" else "Cancelled"
    return redirect(f"{PREFIX}/ops/outbox", message=f"{done}: {label}.")


@router.get("/dead-letters")
async def dead_letters_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.DEAD_LETTERS_READ)
    app = app_of(request)
    status = request.query_params.get("status", DeadLetterStatus.OPEN)
    if status not in (DeadLetterStatus.OPEN, DeadLetterStatus.REPLAYED):
        status = DeadLetterStatus.OPEN

    def read() -> Any:
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, write=False) as uow:
            letters = list(uow.dead_letters.list(status=status, limit=200))
            for letter in letters:
                uow.session.expunge(letter)
            return letters

    letters = await run_in_threadpool(read)
    return render(request, "dead_letters.html", letters=letters, shown=status)


@router.post("/dead-letters/replay")
async def replay(request: Request, viewer: Signed) -> Response:
    """Run the letter the form names again (after its cause was fixed), as ``orderops
    deadletters replay``; it is looked up in the viewer's own tenant only."""
    viewer.need(Permission.DEAD_LETTERS_READ)
    viewer.need(Permission.EVENTS_WRITE)
    form = await form_of(request, viewer)
    letter_id = form.get("letter_id", "").strip()[:32]
    app = app_of(request)

    def run() -> str:
        result = replay_dead_letter(
            app.sessions, tenant_id=viewer.tenant_id, letter_id=letter_id, clock=app.clock
        )
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id) as uow:
            uow.audit.append(
                at=app.clock.now(),
                actor=viewer.principal.identity,
                action="dead_letter.replayed",
                entity_type="dead_letter",
                entity_id=letter_id,
                data={"ok": result.ok, "message": result.message[:500]},
            )
            uow.commit()
        return ("Replayed: " if result.ok else "Still failing: ") + result.message

    message = await run_in_threadpool(run)
    return redirect(f"{PREFIX}/ops/dead-letters", message=message)


@router.get("/sources")
async def sources_page(request: Request, viewer: Signed) -> Response:
    viewer.need(Permission.SOURCES_MANAGE)
    app = app_of(request)
    now = app.clock.now()  # deliveries are stamped by the business clock

    def read() -> Any:
        with UnitOfWork(app.sessions, tenant_id=viewer.tenant_id, write=False) as uow:
            return source_health(uow, now=now)

    return render(request, "sources.html", sources=await run_in_threadpool(read), now=now)
