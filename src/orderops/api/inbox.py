"""/v1/inbox/lag: how far processing lags behind acceptance, for the caller's own tenant.

The same figures as the ``orderops_inbox_*`` and ``orderops_outbox_*`` gauges on
/metrics, for a tenant's own monitoring, which holds an API key and not the metrics token.
Read inside a unit of work bound to the caller's tenant: there is no parameter that
could name another one.

Permission: ``dead_letters:read`` (admin and service keys), the inbox's read permission;
failed events are counted here, and each is a dead letter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, Field

from orderops.api.auth import app_of, require
from orderops.api.body import SafeJsonRoute
from orderops.bootstrap import App
from orderops.domain.roles import Permission
from orderops.storage.uow import UnitOfWork
from orderops.tenancy.tenants import Principal
from orderops.workflow.lag import TenantLag, tenant_lag

router = APIRouter(prefix="/v1/inbox", tags=["inbox"], route_class=SafeJsonRoute)
Reader = Annotated[Principal, Depends(require(Permission.DEAD_LETTERS_READ))]


class LagRead(BaseModel):
    tenant_id: str
    measured_at: datetime
    pending: int = Field(description="Accepted events not yet processed.")
    deferred: int = Field(description="Events waiting for a key no entity has yet.")
    failed: int = Field(description="Events that failed every attempt (dead-lettered).")
    oldest_pending_age_seconds: float | None = Field(
        description="Seconds since the oldest pending event was received; null: none pending."
    )
    outbox_due: int = Field(description="Writebacks due for delivery now.")
    oldest_due_age_seconds: float | None = Field(
        description="Seconds the longest-due writeback has been due; null: none due."
    )


@router.get("/lag", summary="Processing lag of the caller's tenant", response_model=LagRead)
async def lag(request: Request, principal: Reader) -> LagRead:
    app = app_of(request)
    measured_at = app.clock.now()
    found = await run_in_threadpool(_read, app, principal.tenant_id, measured_at)
    return LagRead(measured_at=measured_at, **found.as_json())


def _read(app: App, tenant_id: str, now: datetime) -> TenantLag:
    with UnitOfWork(app.sessions, tenant_id=tenant_id, write=False) as uow:
        return tenant_lag(uow, now=now)
