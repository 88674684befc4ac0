"""Usage counters and quotas (``domain/usage.py``).

A counter row is one tenant's use of one meter on one UTC day, in one environment, broken
down by one dimension; it only ever grows, by an upsert that adds (``storage/repositories/
usage.py``). The key leads with the tenant and then the meter and the day, because the
read that runs at the door (a quota check: this tenant, this meter, this month) must be a
short range of it; the report reads the tenant's days meter by meter. The day is text
(``YYYY-MM-DD``): it sorts and compares as a date on both databases and is written as an
invoice shows it.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, PrimaryKeyConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from orderops.domain.usage import DEFAULT_ENVIRONMENT
from orderops.storage.base import Base, tenant_column


class UsageCounter(Base):
    __tablename__ = "usage_counters"
    __table_args__ = (
        PrimaryKeyConstraint("tenant_id", "meter", "day", "environment", "dimension"),
    )

    tenant_id: Mapped[str] = tenant_column()
    meter: Mapped[str] = mapped_column(String(32))
    day: Mapped[str] = mapped_column(String(10))
    environment: Mapped[str] = mapped_column(
        String(16), default=DEFAULT_ENVIRONMENT, server_default=DEFAULT_ENVIRONMENT
    )
    dimension: Mapped[str] = mapped_column(String(100))
    quantity: Mapped[int] = mapped_column(BigInteger)


class UsageQuota(Base):
    """A tenant's monthly limits on one meter (``orderops usage quota set``)."""

    __tablename__ = "usage_quotas"
    __table_args__ = (PrimaryKeyConstraint("tenant_id", "meter"),)

    tenant_id: Mapped[str] = tenant_column()
    meter: Mapped[str] = mapped_column(String(32))
    soft_limit: Mapped[int | None] = mapped_column(BigInteger)
    hard_limit: Mapped[int | None] = mapped_column(BigInteger)
    warned_month: Mapped[str | None] = mapped_column(String(7))
    """``YYYY-MM`` of the last month whose soft-limit warning was recorded (audited once)."""
    updated_at: Mapped[datetime]
    updated_by: Mapped[str] = mapped_column(String(200))
