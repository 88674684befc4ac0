"""The audit records a reader limited to a scope may see: those about its cases.

The chain is tenant-wide (one sequence, one head), but most records are about a case: the
case's own (``entity_type == "case"``) and those of what hangs off it (actions, approvals,
messages, evidence packs, writebacks), which name it in ``data["case_id"]``. A reader
limited to some brands, stores, channels or regions sees the records whose case sits in
their scope, and nothing else: records about the tenant's administration (users, keys,
policies) or that name no case are for unscoped readers, as the API's tenant-wide routes
are. An unscoped reader sees every record, as before.

The cases in scope come from the unit of work's guard (``storage/scope_criteria.py``
narrows every ``Case`` read), so this module names no scope values itself.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, or_, select

from orderops.storage.tables import AuditRecord, Case
from orderops.storage.uow import UnitOfWork


def latest_records(uow: UnitOfWork, *, limit: int) -> list[AuditRecord]:
    """The newest ``limit`` records the unit of work's principal may read, newest first."""
    query = select(AuditRecord).where(AuditRecord.tenant_id == uow.tenant_id)
    if not uow.scope.unrestricted:
        query = query.where(about_cases_in_scope(uow))
    return list(uow.session.scalars(query.order_by(AuditRecord.seq.desc()).limit(limit)))


def about_cases_in_scope(uow: UnitOfWork) -> ColumnElement[bool]:
    """A record is about a case the unit of work's guard lets it read."""
    cases = select(Case.id).where(Case.tenant_id == uow.tenant_id)
    return or_(
        and_(AuditRecord.entity_type == "case", AuditRecord.entity_id.in_(cases)),
        AuditRecord.data["case_id"].as_string().in_(cases),
    )
