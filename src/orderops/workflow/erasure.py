"""Erasing a data subject (GDPR art. 17): their personal data leaves every table.

``erase_customer`` finds the subject (a customer id, or an email that may name several
customer rows or none), collects what identifies them (email, phone and its digits, name,
the street lines of their addresses), and in one transaction:

1. refuses while a legal hold applies (``holds_of``): an open fraud, refund or
   duplicate-charge case on their orders, or any case whose action is awaiting approval,
   approved or executing (art. 17(3)(e): the data is needed for a claim in progress); a
   person settles the case first, then erasure runs;
2. clears what is theirs (``personal_data.CLEARED``), deletes aliases and alias waits
   keyed by their email or phone, clears raw bodies that name them, and replaces every
   other occurrence in any text or JSON column with ``[erased]``;
3. deletes evidence blobs named only on their cases' timelines (the timelines keep the
   hashes);
4. redacts audit records whose payload names them (``audit/chain.py``: the chain keeps
   each payload's digest, so it verifies afterwards) and appends one ``customer.erased``
   record (who, when, why, how many rows of each table, which seqs: never the data);
5. keeps a ``customer_erasures`` row with the same counts.

Running it again changes nothing more and records the request again. Audit records
hashed before digests (migration 0038) cannot be redacted; they are counted and reported.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, Text, and_, cast, delete, func, null, or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from orderops.audit.chain import redaction_marker
from orderops.domain.cases import CLOSED_STATUSES, CaseStatus, ExceptionType
from orderops.domain.clock import Clock
from orderops.domain.errors import NotFound, OrderOpsError
from orderops.evidence.store import FileBlobStore
from orderops.storage.base import Base
from orderops.storage.tables import (
    AuditRecord,
    Case,
    CaseTimelineEntry,
    Communication,
    CommunicationEvent,
    Customer,
    CustomerErasure,
    EvidenceBlob,
    Order,
    SupportTicket,
)
from orderops.storage.uow import UnitOfWork
from orderops.workflow.personal_data import (
    DELETED_WHEN_NAMED,
    ERASED,
    WHOLE_WHEN_NAMED,
    is_json,
    scrubbed_columns,
)

HOLD_TYPES = frozenset(
    {ExceptionType.FRAUD_REVIEW, ExceptionType.REFUND_PENDING, ExceptionType.DUPLICATE_CHARGE}
)
IN_FLIGHT = frozenset({CaseStatus.AWAITING_APPROVAL, CaseStatus.APPROVED, CaseStatus.EXECUTING})
MIN_NEEDLE = 4
"""Identifiers shorter than this are not searched for: they would erase other people's
words (a two-letter first name inside every text)."""
AUDIT_DATA: ColumnElement[Any] = AuditRecord.__table__.c.data
ADDRESS_KEY = re.compile(r"line|address|street|name|phone|email", re.IGNORECASE)


class LegalHold(OrderOpsError):
    """The subject's data is still needed for a claim or case in progress."""

    code = "legal-hold"


@dataclass(frozen=True)
class ErasureReport:
    erasure_id: str | None
    customer_ids: list[str]
    counts: dict[str, int]
    """Rows changed per ``table.column`` (``table`` for deleted rows)."""
    redacted_audit_seqs: list[int]
    legacy_audit_records: int
    """Audit records naming the subject, hashed before digests: kept as they are."""
    holds: list[str] = field(default_factory=list)
    audit_seq: int | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class _Subject:
    customer_ids: list[str]
    order_ids: list[str]
    order_refs: list[str]
    emails: list[str]
    needles: list[str]


def erase_customer(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    actor: str,
    reason: str,
    clock: Clock,
    customer_id: str | None = None,
    email: str | None = None,
    evidence: FileBlobStore | None = None,
    dry_run: bool = False,
) -> ErasureReport:
    """Erase one data subject of ``tenant_id``; ``dry_run`` counts and rolls back."""
    if not customer_id and not email:
        raise NotFound("name the subject by customer id or email")
    now = clock.now()
    with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
        s = uow.session
        subject = _subject(s, tenant_id, customer_id, email)
        holds = holds_of(s, tenant_id, subject.order_ids)
        if holds and not dry_run:
            raise LegalHold("erasure refused while a legal hold applies: " + "; ".join(holds))
        counts: dict[str, int] = {}
        _clear_own(s, tenant_id, subject, counts)
        _delete_named(s, tenant_id, subject.needles, counts)
        blobs = _evidence_of(s, tenant_id, subject.order_ids)
        _scrub(s, tenant_id, subject.needles, counts)
        if blobs:
            s.execute(
                delete(EvidenceBlob).where(
                    EvidenceBlob.tenant_id == tenant_id, EvidenceBlob.sha256.in_(blobs)
                )
            )
            counts["evidence_blobs"] = len(blobs)
        redact, legacy = _audit_naming(s, tenant_id, subject.needles)
        counts = {name: n for name, n in sorted(counts.items()) if n}
        record = uow.audit.append(
            at=now,
            actor=actor,
            action="customer.erased",
            entity_type="customer",
            entity_id=subject.customer_ids[0] if subject.customer_ids else "unknown",
            data={
                "reason": _scrubbed(reason, _patterns(subject.needles)),
                "customers": subject.customer_ids,
                "counts": counts,
                "redacted_seqs": [r.seq for r in redact],
                "legacy_records_kept": legacy,
            },
        )
        for row in redact:
            row.data = redaction_marker(record.seq)
        erasure = CustomerErasure(
            tenant_id=tenant_id,
            customer_id=subject.customer_ids[0] if subject.customer_ids else None,
            actor=actor,
            reason=_scrubbed(reason, _patterns(subject.needles)),
            at=now,
            audit_seq=record.seq,
            counts={**counts, "audit_log.data": len(redact)},
        )
        s.add(erasure)
        s.flush()
        report = ErasureReport(
            erasure_id=None if dry_run else erasure.id,
            customer_ids=subject.customer_ids,
            counts={**counts, **({"audit_log.data": len(redact)} if redact else {})},
            redacted_audit_seqs=[r.seq for r in redact],
            legacy_audit_records=legacy,
            holds=holds,
            audit_seq=None if dry_run else record.seq,
            dry_run=dry_run,
        )
        if dry_run:
            uow.rollback()
            return report
        uow.commit()
    if evidence is not None:
        for sha256 in blobs:
            evidence.delete(tenant_id, sha256)
    return report


def holds_of(session: Session, tenant_id: str, order_ids: list[str]) -> list[str]:
    """Why the subject may not be erased now (empty: nothing holds them)."""
    if not order_ids:
        return []
    cases = session.execute(
        select(Case.id, Case.order_ref, Case.exception_type, Case.status).where(
            Case.tenant_id == tenant_id,
            Case.order_id.in_(order_ids),
            Case.status.not_in(list(CLOSED_STATUSES)),
        )
    ).all()
    return [
        f"case {case_id} ({kind}, {status}) on order {ref}"
        for case_id, ref, kind, status in cases
        if kind in HOLD_TYPES or status in IN_FLIGHT
    ]


def _subject(
    session: Session, tenant_id: str, customer_id: str | None, email: str | None
) -> _Subject:
    query = select(Customer).where(Customer.tenant_id == tenant_id)
    if customer_id:
        customers = list(session.scalars(query.where(Customer.id == customer_id)))
        if not customers:
            raise NotFound(f"no customer {customer_id}")
    else:
        assert email is not None
        customers = list(
            session.scalars(query.where(func.lower(Customer.email) == email.strip().lower()))
        )
    ids = [c.id for c in customers]
    orders = session.execute(
        select(Order.id, Order.order_ref, Order.ship_to).where(
            Order.tenant_id == tenant_id, Order.customer_id.in_(ids)
        )
    ).all()
    found: list[str | None] = [email]
    for customer in customers:
        found += [customer.email, customer.name, customer.phone, *_phone_forms(customer.phone)]
        found += _address_values(customer.address)
    for _, _, ship_to in orders:
        found += _address_values(ship_to)
    needles = sorted(
        {n.strip() for n in found if n and len(n.strip()) >= MIN_NEEDLE}, key=lambda n: -len(n)
    )
    emails = sorted({n.lower() for n in needles if "@" in n})
    return _Subject(ids, [o[0] for o in orders], [o[1] for o in orders], emails, needles)


def _phone_forms(phone: str | None) -> list[str]:
    if not phone:
        return []
    digits = re.sub(r"\D", "", phone)
    return [digits, f"+{digits}"] if digits else []


def _address_values(address: Any) -> list[str]:
    if not isinstance(address, dict):
        return []
    found = []
    for key, value in address.items():
        if isinstance(value, str) and ADDRESS_KEY.search(str(key)):
            found.append(value)
            if "phone" in str(key).lower():
                found += _phone_forms(value)
    return found


def _clear_own(session: Session, tenant_id: str, subject: _Subject, counts: dict[str, int]) -> None:
    """Set to nothing the columns that are the subject's data on rows that are theirs."""
    cleared = {"email": None, "phone": None, "name": None, "address": None}
    _update(session, tenant_id, Customer, Customer.id.in_(subject.customer_ids), cleared, counts)
    _update(session, tenant_id, Order, Order.id.in_(subject.order_ids), {"ship_to": None}, counts)
    tickets = or_(
        func.lower(SupportTicket.customer_email).in_(subject.emails),
        SupportTicket.order_ref.in_(subject.order_refs),
    )
    values = {"customer_email": None, "subject": ERASED, "body": ERASED}
    _update(session, tenant_id, SupportTicket, tickets, values, counts)
    cases = select(Case.id).where(Case.tenant_id == tenant_id, Case.order_id.in_(subject.order_ids))
    messages = select(Communication.id).where(
        Communication.tenant_id == tenant_id, Communication.case_id.in_(cases)
    )
    values = {"recipient": None, "subject": None, "body": ERASED}
    _update(session, tenant_id, Communication, Communication.id.in_(messages), values, counts)
    history = CommunicationEvent.communication_id.in_(messages)
    values = {"subject": None, "body": ERASED}
    _update(session, tenant_id, CommunicationEvent, history, values, counts)


def _update(
    session: Session,
    tenant_id: str,
    model: Any,
    where: Any,
    values: dict[str, Any],
    counts: dict[str, int],
) -> None:
    """Set ``values`` on the rows ``where`` picks that do not hold them yet (so a second
    erasure counts nothing); None is SQL NULL, also in JSON columns."""
    table = model.__table__
    differs = [
        table.c[name].is_not(None) if value is None else table.c[name].is_distinct_from(value)
        for name, value in values.items()
    ]
    rows = session.execute(
        update(table)
        .where(table.c.tenant_id == tenant_id, where, or_(*differs))
        .values({name: null() if value is None else value for name, value in values.items()})
    )
    count = int(getattr(rows, "rowcount", 0) or 0)
    if count:
        counts[f"{table.name}.{','.join(values)}"] = count


def _delete_named(
    session: Session, tenant_id: str, needles: list[str], counts: dict[str, int]
) -> None:
    """Delete rows keyed by the subject's identifiers; clear raw bodies naming them."""
    for table_name, column_name in DELETED_WHEN_NAMED:
        table = Base.metadata.tables[table_name]
        column = table.c[column_name]
        where = and_(table.c.tenant_id == tenant_id, _names(column, needles))
        gone = session.execute(delete(table).where(where))
        counts[table_name] = int(getattr(gone, "rowcount", 0) or 0)
    for table_name, column_name in WHOLE_WHEN_NAMED:
        table = Base.metadata.tables[table_name]
        column = table.c[column_name]
        values: dict[str, Any] = {column_name: ""}
        if "headers" in table.c:
            values["headers"] = {}
        where = and_(table.c.tenant_id == tenant_id, _names(column, needles))
        done = session.execute(update(table).where(where).values(values))
        counts[f"{table_name}.{column_name}"] = int(getattr(done, "rowcount", 0) or 0)


def _scrub(session: Session, tenant_id: str, needles: list[str], counts: dict[str, int]) -> None:
    """Replace every occurrence of the subject's identifiers in every other text or JSON
    column with ``[erased]``."""
    patterns = _patterns(needles)
    for table, column in scrubbed_columns():
        key = list(table.primary_key.columns)
        rows = session.execute(
            select(*key, column).where(table.c.tenant_id == tenant_id, _names(column, needles))
        ).all()
        changed = 0
        for row in rows:
            *ids, value = row
            new = _scrubbed(value, patterns)
            if new != value:
                where = and_(*(k == v for k, v in zip(key, ids, strict=True)))
                session.execute(update(table).where(where).values({column.name: new}))
                changed += 1
        if changed:
            counts[f"{table.name}.{column.name}"] = (
                counts.get(f"{table.name}.{column.name}", 0) + changed
            )


def _evidence_of(session: Session, tenant_id: str, order_ids: list[str]) -> list[str]:
    """Blobs named on the subject's cases' timelines and on no other case's."""
    if not order_ids:
        return []
    data = CaseTimelineEntry.data
    named = func.coalesce(data["sha256"].as_string(), data["snapshot"].as_string())
    theirs = select(Case.id).where(Case.tenant_id == tenant_id, Case.order_id.in_(order_ids))
    mine = set(
        session.scalars(
            select(named).where(
                CaseTimelineEntry.tenant_id == tenant_id, CaseTimelineEntry.case_id.in_(theirs)
            )
        )
    )
    mine.discard(None)
    if not mine:
        return []
    shared = set(
        session.scalars(
            select(named).where(
                CaseTimelineEntry.tenant_id == tenant_id,
                CaseTimelineEntry.case_id.not_in(theirs),
                named.in_(mine),
            )
        )
    )
    held = set(
        session.scalars(
            select(EvidenceBlob.sha256).where(
                EvidenceBlob.tenant_id == tenant_id, EvidenceBlob.sha256.in_(mine - shared)
            )
        )
    )
    return sorted(held)


def _audit_naming(
    session: Session, tenant_id: str, needles: list[str]
) -> tuple[list[AuditRecord], int]:
    """Audit records whose payload names the subject: those that can be redacted (hashed
    through a digest) and how many cannot (hashed inline, before migration 0038)."""
    rows = list(
        session.scalars(
            select(AuditRecord)
            .where(AuditRecord.tenant_id == tenant_id, _names(AUDIT_DATA, needles))
            .order_by(AuditRecord.seq)
        )
    )
    redactable = [row for row in rows if row.data_digest is not None]
    return redactable, len(rows) - len(redactable)


def _names(column: ColumnElement[Any], needles: Iterable[str]) -> Any:
    """``column`` (as text) contains one of ``needles``, in any case, raw or JSON-escaped."""
    text = cast(column, Text) if is_json(column) else column
    lowered: set[str] = set()
    exact: set[str] = set()
    for needle in needles:
        for form in (needle, json.dumps(needle)[1:-1]):
            lowered.add(form.lower())
            if not form.isascii():  # SQLite's lower() folds ASCII only: match as written too
                exact |= {form, form.lower()}
    if not lowered:
        return and_(column.is_(None), column.is_not(None))
    # one comparison per form keeps the statement small: erasure compiles one per column
    return or_(
        *(func.lower(text).contains(form, autoescape=True) for form in sorted(lowered)),
        *(text.contains(form, autoescape=True) for form in sorted(exact)),
    )


def _patterns(needles: list[str]) -> list[re.Pattern[str]]:
    return [re.compile(re.escape(needle), re.IGNORECASE) for needle in needles]


def _scrubbed(value: Any, patterns: list[re.Pattern[str]]) -> Any:
    if isinstance(value, str):
        for pattern in patterns:
            value = pattern.sub(ERASED, value)
        return value
    if isinstance(value, dict):
        return {k: _scrubbed(v, patterns) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v, patterns) for v in value]
    return value
