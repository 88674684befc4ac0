"""Path and query parameter types shared by the API routes, bounded where the data is.

Every text parameter refuses NUL characters (PostgreSQL text cannot hold them) and is
as long as its column at most; numbers stay inside the columns they are compared with
(32-bit versions). Declared with pydantic constraints, so the OpenAPI document shows
them and a request outside them is a 422 before any query runs.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

NO_NUL = r"^[^\x00]*$"
"""Any text without a NUL character."""

MAX_INT32 = 2**31 - 1

Id = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL)]
"""An id OrderOps assigned (cases, actions, messages, outbox rows, incidents, packs)."""

Name = Annotated[str, Path(min_length=1, max_length=64, pattern=NO_NUL)]
"""A short name: a queue, a queue member, a webhook source or endpoint token."""

Member = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL)]
"""A queue member: the person's name or subject as queues store it."""

OrderRef = Annotated[str, Path(min_length=1, max_length=200, pattern=NO_NUL)]
"""A retailer's order reference, as the store named it."""

Sha256 = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$")]
