"""Live and test: two environments of one account, each a tenant of its own.

An environment is its own ``tenants`` row (``account_id`` names the retailer,
``environment`` says which of its two environments the row is), so whatever already keeps
tenants apart keeps a test environment apart from live with no new filter anywhere: keys
and references that lead with ``tenant_id``, row-level security, the unit of work's guard,
a webhook URL's endpoint token, an API key's tenant. Only naming is decided here.

The live environment keeps the account's own id (``acme``), so every tenant created before
environments existed is simply its account's live environment; the test environment adds
a suffix (``acme.test``). A dot, not a tilde, because a tenant id also names folders (the
evidence store allows letters, digits, ``_``, ``.`` and ``-``), and account ids given to
``orderops tenant create`` may not contain one, so a suffix is never part of an account.
"""

from __future__ import annotations

import re
from enum import StrEnum

from orderops.domain.errors import InvalidEvent


class Environment(StrEnum):
    LIVE = "live"
    TEST = "test"


SUFFIX_SEPARATOR = "."
ACCOUNT_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,58}$")
"""Letters, digits, ``_`` and ``-``: the id plus ``.test`` fits ``tenants.id`` (64)."""


class InvalidAccount(InvalidEvent):
    code = "invalid-account"


def check_account_id(account_id: str) -> str:
    if not ACCOUNT_ID.match(account_id):
        raise InvalidAccount(
            f"account id {account_id!r} must be 1-59 letters, digits, '_' or '-', starting "
            "with a letter or digit (its test environment's tenant id adds '.test')"
        )
    return account_id


def tenant_id_for(account_id: str, environment: Environment) -> str:
    """The tenant id of an account's environment: ``acme`` (live) or ``acme.test``."""
    if environment is Environment.LIVE:
        return account_id
    return f"{account_id}{SUFFIX_SEPARATOR}{environment}"


def read_tenant_id(tenant_id: str) -> tuple[str, Environment]:
    """The (account, environment) a tenant id names when nothing else says.

    ``acme.test`` is acme's test environment only when ``acme`` is a valid account id;
    anything else is an account of its own, live (as every tenant before environments)."""
    account, separator, suffix = tenant_id.rpartition(SUFFIX_SEPARATOR)
    if separator and suffix == Environment.TEST and ACCOUNT_ID.match(account):
        return account, Environment.TEST
    return tenant_id, Environment.LIVE
