"""Queues and routing rules over HTTP: the queue overview, queue settings and rosters,
and publishing a new version of the tenant's routing rules."""

from __future__ import annotations

from collections.abc import Iterable

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool

from orderops.api.auth import app_of
from orderops.api.body import SafeJsonRoute
from orderops.api.case_work_schemas import (
    QueueConfigBody,
    QueueList,
    QueueRead,
    RoutingRuleRead,
    RulesBody,
    RulesRead,
)
from orderops.api.params import Member, Name
from orderops.api.work_common import (
    Manager,
    Reader,
    actor_of,
)
from orderops.cases.conflicts import InvalidWorkRequest
from orderops.cases.queues import add_member, configure_queue, remove_member
from orderops.cases.routing import active_rules, publish_rules
from orderops.domain.routing import RoutingRule, rule_to_dict, rules_from_dicts
from orderops.storage.repositories.queues import queues_of
from orderops.storage.uow import UnitOfWork

router = APIRouter(tags=["queues"], route_class=SafeJsonRoute)


@router.get("/v1/queues", response_model=QueueList, summary="Queues with their open work")
async def list_queues(request: Request, principal: Reader) -> QueueList:
    def read() -> QueueList:  # counts of the cases the caller may see
        with UnitOfWork(
            app_of(request).sessions,
            tenant_id=principal.tenant_id,
            write=False,
            scope=principal.scope,
        ) as uow:
            counts = queues_of(uow).counts()
        return QueueList(items=[QueueRead(**vars(c)) for c in counts])

    return await run_in_threadpool(read)


@router.put("/v1/queues/{name}", response_model=QueueRead, summary="Create or configure a queue")
async def configure(
    request: Request,
    principal: Manager,
    name: Name,
    body: QueueConfigBody,
) -> QueueRead:
    app = app_of(request)

    def write() -> QueueRead:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            try:
                configure_queue(
                    uow,
                    name=name,
                    kind=body.kind,
                    escalation_queue=body.escalation_queue,
                    sla_minutes=body.sla_minutes,
                    actor=actor_of(principal),
                    now=app.clock.now(),
                )
            except ValueError as exc:
                raise InvalidWorkRequest(str(exc)) from exc
            uow.commit()
            (counts,) = [c for c in queues_of(uow).counts() if c.name == name]
        return QueueRead(**vars(counts))

    return await run_in_threadpool(write)


@router.put("/v1/queues/{name}/members/{member}", status_code=204, response_class=Response)
async def join_queue(request: Request, principal: Manager, name: Name, member: Member) -> Response:
    app = app_of(request)

    def write() -> None:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            add_member(
                uow, queue=name, member=member, actor=actor_of(principal), now=app.clock.now()
            )
            uow.commit()

    await run_in_threadpool(write)
    return Response(status_code=204)


@router.delete("/v1/queues/{name}/members/{member}", status_code=204, response_class=Response)
async def leave_queue(request: Request, principal: Manager, name: Name, member: Member) -> Response:
    app = app_of(request)

    def write() -> None:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            remove_member(
                uow, queue=name, member=member, actor=actor_of(principal), now=app.clock.now()
            )
            uow.commit()

    await run_in_threadpool(write)
    return Response(status_code=204)


@router.get(
    "/v1/routing-rules",
    response_model=RulesRead,
    response_model_exclude_none=True,  # a rule's unset conditions are left out, as stored
    summary="The routing rules in force",
)
async def get_rules(request: Request, principal: Reader) -> RulesRead:
    def read() -> RulesRead:
        with UnitOfWork(
            app_of(request).sessions, tenant_id=principal.tenant_id, write=False
        ) as uow:
            rules = active_rules(uow)
        return RulesRead(version=rules.version, rules=_read(rules.rules))

    return await run_in_threadpool(read)


@router.post(
    "/v1/routing-rules", response_model=RulesRead, response_model_exclude_none=True, status_code=201
)
async def publish(request: Request, principal: Manager, body: RulesBody) -> RulesRead:
    """Publish a new version of the rules; cases already routed keep their decision until
    they are re-routed."""
    app = app_of(request)
    try:
        rules = rules_from_dicts(body.rules)
    except ValueError as exc:
        raise InvalidWorkRequest(str(exc)) from exc

    def write() -> RulesRead:
        with UnitOfWork(app.sessions, tenant_id=principal.tenant_id, scope=principal.scope) as uow:
            version = publish_rules(
                uow, rules=rules, actor=actor_of(principal), now=app.clock.now()
            )
            uow.commit()
        return RulesRead(version=version, rules=_read(rules))

    return await run_in_threadpool(write)


def _read(rules: Iterable[RoutingRule]) -> list[RoutingRuleRead]:
    return [RoutingRuleRead.model_validate(rule_to_dict(rule)) for rule in rules]
