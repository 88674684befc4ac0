"""Reading and appending identity rows, always scoped to the unit of work's tenant."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from orderops.storage.tables import Customer, CustomerIdentity
from orderops.storage.tables.identity import CustomerLink, IdentityRevision


class IdentityStore:
    def __init__(self, session: Session, tenant_id: str) -> None:
        self._session = session
        self.tenant_id = tenant_id

    # customers -------------------------------------------------------------------

    def customers(self) -> Sequence[Customer]:
        return self._session.scalars(
            select(Customer).where(Customer.tenant_id == self.tenant_id).order_by(Customer.id)
        ).all()

    def provider_ids(self) -> dict[str, list[tuple[str, str]]]:
        """customer id -> [(source, external ref)] for every identity of the tenant."""
        rows = self._session.execute(
            select(
                CustomerIdentity.customer_id, CustomerIdentity.source, CustomerIdentity.external_ref
            ).where(CustomerIdentity.tenant_id == self.tenant_id)
        ).all()
        found: dict[str, list[tuple[str, str]]] = defaultdict(list)
        for customer_id, source, ref in rows:
            found[customer_id].append((source, ref))
        return dict(found)

    def customer_ids_by_ref(self) -> dict[str, str]:
        """External ref -> customer id (refs of all sources; the eval uses them)."""
        rows = self._session.execute(
            select(CustomerIdentity.external_ref, CustomerIdentity.customer_id).where(
                CustomerIdentity.tenant_id == self.tenant_id
            )
        ).all()
        return {ref: customer_id for ref, customer_id in rows}

    def customer(self, customer_id: str) -> Customer | None:
        return self._session.scalar(
            select(Customer).where(Customer.tenant_id == self.tenant_id, Customer.id == customer_id)
        )

    # links -----------------------------------------------------------------------

    def current_links(self) -> dict[str, CustomerLink]:
        """customer id -> the link in force (its row with the highest revision)."""
        latest = (
            select(CustomerLink.customer_id, func.max(CustomerLink.revision).label("revision"))
            .where(CustomerLink.tenant_id == self.tenant_id)
            .group_by(CustomerLink.customer_id)
            .subquery()
        )
        rows = self._session.scalars(
            select(CustomerLink)
            .join(
                latest,
                (latest.c.customer_id == CustomerLink.customer_id)
                & (latest.c.revision == CustomerLink.revision),
            )
            .where(CustomerLink.tenant_id == self.tenant_id)
        ).all()
        return {row.customer_id: row for row in rows}

    def history(self, customer_ids: Sequence[str]) -> Sequence[CustomerLink]:
        return self._session.scalars(
            select(CustomerLink)
            .where(
                CustomerLink.tenant_id == self.tenant_id,
                CustomerLink.customer_id.in_(list(customer_ids)),
            )
            .order_by(CustomerLink.revision, CustomerLink.customer_id)
        ).all()

    def links_at(self, revision: int) -> Sequence[CustomerLink]:
        return self._session.scalars(
            select(CustomerLink)
            .where(CustomerLink.tenant_id == self.tenant_id, CustomerLink.revision == revision)
            .order_by(CustomerLink.customer_id)
        ).all()

    def link_before(self, customer_id: str, revision: int) -> CustomerLink | None:
        return self._session.scalar(
            select(CustomerLink)
            .where(
                CustomerLink.tenant_id == self.tenant_id,
                CustomerLink.customer_id == customer_id,
                CustomerLink.revision < revision,
            )
            .order_by(CustomerLink.revision.desc())
            .limit(1)
        )

    def add_link(self, link: CustomerLink) -> None:
        link.tenant_id = self.tenant_id
        self._session.add(link)

    # revisions -------------------------------------------------------------------

    def next_revision(self) -> int:
        """One more than the newest; a concurrent writer taking the same number fails on
        the unique (tenant, revision) constraint instead of interleaving."""
        newest = self._session.scalar(
            select(func.max(IdentityRevision.revision)).where(
                IdentityRevision.tenant_id == self.tenant_id
            )
        )
        return (newest or 0) + 1

    def revision(self, number: int) -> IdentityRevision | None:
        return self._session.scalar(
            select(IdentityRevision).where(
                IdentityRevision.tenant_id == self.tenant_id, IdentityRevision.revision == number
            )
        )

    def undoing(self, number: int) -> IdentityRevision | None:
        return self._session.scalar(
            select(IdentityRevision).where(
                IdentityRevision.tenant_id == self.tenant_id, IdentityRevision.undoes == number
            )
        )

    def add_revision(self, revision: IdentityRevision) -> None:
        revision.tenant_id = self.tenant_id
        self._session.add(revision)
        self._session.flush()
