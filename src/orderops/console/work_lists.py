"""A reviewer's own lists: "my cases" across every queue, and saved views.

"My cases" reads the open cases assigned to the viewer by ``ix_cases_tenant_assignee_opened``
and shows them as a queue's rows (SLA state, sort), through the viewer's scoped unit of
work. A saved view is a console path and the query string of its filters
(``storage/tables/saved_views.py``); only paths of pages with filters may be saved, so a
view cannot be made to point anywhere else.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import parse_qsl, urlencode

from sqlalchemy import select

from orderops.console.queue_view import MAX_ROWS, CaseRow, QueueFilter, rows_of
from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.errors import InvalidEvent, NotFound
from orderops.storage.tables import Case, SavedView
from orderops.storage.uow import UnitOfWork

MAX_VIEWS = 50
MAX_NAME = 100
VIEW_PATHS = ("/console/queues/", "/console/mine")
"""Pages a view may open: a queue (any name) or "my cases"."""
FILTERS = ("type", "priority", "sla", "assignee", "age", "sort")


class InvalidView(InvalidEvent):
    code = "invalid-view"


def my_cases(uow: UnitOfWork, where: QueueFilter, *, me: str, now: datetime) -> list[CaseRow]:
    query = select(Case).where(
        Case.tenant_id == uow.tenant_id,
        Case.assignee == me,
        Case.status.not_in([str(s) for s in CLOSED_STATUSES]),
    )
    if where.exception_type:
        query = query.where(Case.exception_type == where.exception_type)
    if where.priority:
        query = query.where(Case.priority == where.priority)
    cases = uow.session.scalars(query.order_by(Case.opened_at, Case.id).limit(MAX_ROWS)).all()
    return rows_of(uow, cases, where, me=me, now=now)


def clean_query(query: str) -> str:
    """Only the filter fields, in a stable order: a view stores filters, nothing else."""
    pairs = [(k, v) for k, v in parse_qsl(query.lstrip("?")) if k in FILTERS and v]
    return urlencode(sorted(pairs))


def view_path(path: str) -> str:
    queue = path.removeprefix("/console/queues/")
    is_queue = queue != path and bool(queue) and "/" not in queue
    if (path == "/console/mine" or is_queue) and len(path) <= 300 and not {"?", "#"} & set(path):
        return path
    raise InvalidView(f"a view opens a queue or my cases, not {path[:100]!r}")


def list_views(uow: UnitOfWork, *, user_id: str) -> list[SavedView]:
    return list(
        uow.session.scalars(
            select(SavedView)
            .where(SavedView.tenant_id == uow.tenant_id, SavedView.user_id == user_id)
            .order_by(SavedView.name)
            .limit(MAX_VIEWS)
        )
    )


def save_view(
    uow: UnitOfWork, *, user_id: str, name: str, path: str, query: str, now: datetime
) -> SavedView:
    """Save (or, under a name already used, replace) a view of the person's own."""
    name = " ".join(name.split())
    if not name or len(name) > MAX_NAME:
        raise InvalidView(f"a view needs a name of 1 to {MAX_NAME} characters")
    target, filters = view_path(path), clean_query(query)
    existing = uow.session.scalar(
        select(SavedView).where(
            SavedView.tenant_id == uow.tenant_id,
            SavedView.user_id == user_id,
            SavedView.name == name,
        )
    )
    if existing is not None:
        existing.path, existing.query, existing.updated_at = target, filters, now
        return existing
    if len(list_views(uow, user_id=user_id)) >= MAX_VIEWS:
        raise InvalidView(f"at most {MAX_VIEWS} saved views; delete one first")
    view = SavedView(
        tenant_id=uow.tenant_id,
        user_id=user_id,
        name=name,
        path=target,
        query=filters,
        created_at=now,
        updated_at=now,
    )
    uow.session.add(view)
    uow.session.flush()
    return view


def delete_view(uow: UnitOfWork, *, user_id: str, view_id: str) -> str:
    view = uow.session.scalar(
        select(SavedView).where(
            SavedView.tenant_id == uow.tenant_id,
            SavedView.user_id == user_id,
            SavedView.id == view_id,
        )
    )
    if view is None:
        raise NotFound(f"no saved view {view_id}")
    uow.session.delete(view)
    return view.name


def view_url(view: SavedView) -> str:
    return view.path + (f"?{view.query}" if view.query else "")
