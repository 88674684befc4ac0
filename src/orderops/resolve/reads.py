"""Resolve's reads of its own records (links, suggestions, refunds, holds), answered by
the rows a processing chunk already holds when it holds them, by a query otherwise.

The queries themselves are ``ResolveRepository``'s; this only decides whether one is
needed (``storage/repositories/loaded.py`` says why a kept answer is never stale).
"""

from __future__ import annotations

from collections.abc import Sequence

from orderops.storage.repositories.loaded import LoadedRows, loaded_rows
from orderops.storage.repositories.resolve import ResolveRepository
from orderops.storage.tables import LinkSuggestion, OrderRefund, RecordLink
from orderops.storage.tables.resolve import FulfillmentHold
from orderops.storage.uow import UnitOfWork


def _loaded(uow: UnitOfWork) -> LoadedRows | None:
    rows = loaded_rows(uow.session)
    return rows if rows is not None and rows.tenant_id == uow.tenant_id else None


def _repo(uow: UnitOfWork) -> ResolveRepository:
    return ResolveRepository(uow.session, uow.tenant_id)


def record_links(uow: UnitOfWork, record_type: str, record_ref: str) -> Sequence[RecordLink]:
    """Every link the record ever had, in force or revoked, oldest first."""

    def fetch() -> Sequence[RecordLink]:
        return _repo(uow).links_for_record(record_type, record_ref, active=False)

    loaded = _loaded(uow)
    if loaded is None:
        return fetch()
    where = {"record_type": record_type, "record_ref": record_ref}
    return loaded.rows(RecordLink, where, order_by=("created_at", "id"), fetch=fetch)


def active_links_for_record(
    uow: UnitOfWork, record_type: str, record_ref: str
) -> Sequence[RecordLink]:
    """The record's links in force (normally one), oldest first."""
    if _loaded(uow) is None:
        return _repo(uow).links_for_record(record_type, record_ref)
    return [link for link in record_links(uow, record_type, record_ref) if link.revoked_at is None]


def suggestion(uow: UnitOfWork, record_type: str, record_ref: str) -> LinkSuggestion | None:
    """The record's suggestion (one per record, whatever its status), if any."""

    def fetch() -> LinkSuggestion | None:
        return _repo(uow).suggestion_for(record_type, record_ref)

    loaded = _loaded(uow)
    if loaded is None:
        return fetch()
    where = {"record_type": record_type, "record_ref": record_ref}
    return loaded.one(LinkSuggestion, where, fetch=fetch)


def refund(uow: UnitOfWork, source: str, refund_ref: str) -> OrderRefund | None:
    def fetch() -> OrderRefund | None:
        return _repo(uow).refund(source, refund_ref)

    loaded = _loaded(uow)
    where = {"source": source, "refund_ref": refund_ref}
    return loaded.one(OrderRefund, where, fetch=fetch) if loaded is not None else fetch()


def hold(uow: UnitOfWork, source: str, fulfillment_order_ref: str) -> FulfillmentHold | None:
    def fetch() -> FulfillmentHold | None:
        return _repo(uow).hold(source, fulfillment_order_ref)

    loaded = _loaded(uow)
    where = {"source": source, "fulfillment_order_ref": fulfillment_order_ref}
    return loaded.one(FulfillmentHold, where, fetch=fetch) if loaded is not None else fetch()


def holds_for(uow: UnitOfWork, order_ref: str) -> Sequence[FulfillmentHold]:
    """The order's held fulfillment orders, oldest status first."""

    def fetch() -> Sequence[FulfillmentHold]:
        return _repo(uow).holds_for(order_ref)

    loaded = _loaded(uow)
    if loaded is None:
        return fetch()
    order = ("status_at", "fulfillment_order_ref")
    return loaded.rows(FulfillmentHold, {"order_ref": order_ref}, order_by=order, fetch=fetch)
