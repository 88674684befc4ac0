"""Sign-in throttling per account and per client address, counted in the database.

The ``limits`` library supplies the rate items ("5 per 15 minutes") and the fixed-window
strategy; its counters live in ``sign_in_throttle`` through ``SqlWindowStorage`` rather
than in process memory, because a count kept per process is reset by a restart and
multiplied by every worker: an attacker would simply get five guesses per process. A
table works the same on SQLite and PostgreSQL, needs no extra service, and reads the
application clock, so the windows are testable.

Each attempt reserves a slot on every counter *before* the password is checked (one
atomic upsert each), so concurrent guesses cannot slip past the limit; a success then
clears the account's counter and gives the address and the tenant their slots back, so
only failures count. The tenant's counter catches guessing spread over many accounts and
addresses; it is generous, because spending it locks the tenant's password sign-in for
everyone until the window ends (single sign-on and open sessions are unaffected). The
account is keyed by tenant and email whether or not such a person exists, so a refusal
says nothing about who has an account. Keys are hashes: the table holds no emails or
addresses.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import timedelta

from limits import RateLimitItem, parse
from limits.storage import Storage
from limits.strategies import FixedWindowRateLimiter
from sqlalchemy import case, delete, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.clock import Clock
from orderops.domain.errors import Unauthorized
from orderops.storage.base import UtcDateTime
from orderops.storage.engine import SQLITE_BEGIN_OPTION
from orderops.storage.tables.console import SignInThrottle as Counter

PER_TENANT = "200 per 15 minutes"
"""Failed sign-ins a tenant may have in a window (``Settings.sign_in_limit_per_tenant``)."""


class SignInThrottled(Unauthorized):
    code = "sign-in-throttled"

    def __init__(self, retry_after: int) -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        super().__init__(
            f"Too many failed sign-ins. Try again in {minutes} minute(s); "
            "the right password will not work before then."
        )
        self.retry_after = retry_after


class SqlWindowStorage(Storage):
    """A ``limits`` storage over the ``sign_in_throttle`` table and our clock."""

    STORAGE_SCHEME = None

    def __init__(self, sessions: sessionmaker[Session], clock: Clock) -> None:
        super().__init__()
        self._sessions = sessions
        self._clock = clock

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def incr(self, key: str, expiry: int | float, amount: int = 1) -> int:
        """Add ``amount`` to the key's window, starting a new window if the last ended."""
        now = self._clock.now()
        ends = literal(now + timedelta(seconds=expiry), UtcDateTime())
        over = Counter.window_ends_at <= literal(now, UtcDateTime())
        with self._sessions() as session:
            session.connection(execution_options={SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            dialect = session.get_bind().dialect.name
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = (
                insert(Counter)
                .values(key=key, hits=max(amount, 0), window_ends_at=ends)
                .on_conflict_do_update(
                    index_elements=[Counter.key],
                    set_={
                        "hits": case(
                            (over, max(amount, 0)),
                            else_=case((Counter.hits + amount < 0, 0), else_=Counter.hits + amount),
                        ),
                        "window_ends_at": case((over, ends), else_=Counter.window_ends_at),
                    },
                )
                .returning(Counter.hits)
            )
            hits = session.execute(statement).scalar_one()
            session.commit()
        return int(hits)

    def get(self, key: str) -> int:
        row = self._row(key)
        return row.hits if row is not None and row.window_ends_at > self._clock.now() else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        ends = row.window_ends_at if row is not None else self._clock.now()
        return ends.timestamp()

    def check(self) -> bool:
        return True

    def reset(self) -> int | None:
        with self._sessions() as session:
            removed = session.execute(delete(Counter)).rowcount  # type: ignore[attr-defined]
            session.commit()
        return int(removed or 0)

    def clear(self, key: str) -> None:
        with self._sessions() as session:
            session.execute(delete(Counter).where(Counter.key == key))
            session.commit()

    def _row(self, key: str) -> Counter | None:
        with self._sessions() as session:
            return session.scalar(select(Counter).where(Counter.key == key))


@dataclass(frozen=True)
class Attempt:
    tenant: str
    email: str
    address: str

    @property
    def account(self) -> tuple[str, str]:
        return ("sign-in-account", _digest(f"{self.tenant}\0{self.email.strip().lower()}"))

    @property
    def origin(self) -> tuple[str, str]:
        return ("sign-in-address", _digest(self.address))

    @property
    def tenant_wide(self) -> tuple[str, str]:
        return ("sign-in-tenant", _digest(self.tenant))


class SignInThrottle:
    """Reserve before checking a password, settle after; refusals carry Retry-After."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        clock: Clock,
        *,
        per_account: str,
        per_address: str,
        per_tenant: str = PER_TENANT,
    ) -> None:
        self._storage = SqlWindowStorage(sessions, clock)
        self._limiter = FixedWindowRateLimiter(self._storage)
        self._clock = clock
        self._account: RateLimitItem = parse(per_account)
        self._address: RateLimitItem = parse(per_address)
        self._tenant: RateLimitItem = parse(per_tenant)

    @property
    def account_limit(self) -> int:
        return self._account.amount

    def reserve(self, attempt: Attempt) -> None:
        """Count this attempt on every counter; SignInThrottled when any is spent."""
        counters = (
            (self._account, attempt.account),
            (self._address, attempt.origin),
            (self._tenant, attempt.tenant_wide),
        )
        spent = [(item, ident) for item, ident in counters if not self._limiter.hit(item, *ident)]
        if not spent:
            return
        waits = [self._wait(item, *ident) for item, ident in spent]
        raise SignInThrottled(max(waits))

    def failures(self, attempt: Attempt) -> int:
        """How many failures the account has in its current window (this one included)."""
        return self._storage.get(self._account.key_for(*attempt.account))

    def succeeded(self, attempt: Attempt) -> None:
        self._limiter.clear(self._account, *attempt.account)
        self._storage.incr(self._address.key_for(*attempt.origin), 0, amount=-1)
        self._storage.incr(self._tenant.key_for(*attempt.tenant_wide), 0, amount=-1)

    def _wait(self, item: RateLimitItem, *ident: str) -> int:
        reset = self._limiter.get_window_stats(item, *ident).reset_time
        return max(1, math.ceil(reset - self._clock.now().timestamp()))


def _digest(value: str) -> str:
    return hashlib.sha256(value.encode("utf-8")).hexdigest()[:32]
