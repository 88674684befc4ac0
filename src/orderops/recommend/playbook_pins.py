"""Pinning a case to the playbook version it was first recommended with.

A reviewer who saw Monday's advice for a case must get the same rules on Tuesday, even
if operations stored a new playbook in between; otherwise "recommend again" silently
changes what the desk offers mid-case. So a case's first recommendation pins the
tenant's current version (``cases.playbook_version``), every later one follows the pin,
and only an explicit, audited re-evaluation (``recommend.playbook_reevaluation``) moves
it, as approval policies do (``decide.policy_versions``). Version 0 is the packaged
default playbook, as in ``service.current_playbook``.

The pin is written with a plain table UPDATE, never through the ORM: ``Case.version``
is the case's optimistic lock, and pinning is not an edit that should make a reviewer's
concurrent change conflict. The UPDATE compares and sets, so two first recommendations
racing pin one version, and a move happens once however many re-evaluations race.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Table, func, select, update
from sqlalchemy.orm.attributes import set_committed_value

from orderops.domain.errors import NotFound
from orderops.recommend.playbook import Playbook, default_playbook, parse_playbook
from orderops.storage.tables import Case
from orderops.storage.tables.recommend import TenantPlaybook
from orderops.storage.uow import UnitOfWork

_cases: Table = Case.__table__  # type: ignore[assignment]


@dataclass(frozen=True, kw_only=True)
class PlaybookPin:
    """Which playbook version applies to a case, and whether a newer one exists."""

    case_id: str
    pinned_version: int | None
    """None: never recommended; its first recommendation pins ``current_version``."""
    current_version: int

    @property
    def applies(self) -> int:
        return self.current_version if self.pinned_version is None else self.pinned_version

    @property
    def newer_available(self) -> bool:
        return self.applies < self.current_version

    def as_json(self) -> dict[str, Any]:
        return {
            "version": self.applies,
            "pinned": self.pinned_version is not None,
            "current_version": self.current_version,
            "newer_available": self.newer_available,
        }


def current_version(uow: UnitOfWork) -> int:
    latest = uow.session.scalar(
        select(func.max(TenantPlaybook.version)).where(TenantPlaybook.tenant_id == uow.tenant_id)
    )
    return int(latest or 0)


def playbook_at(uow: UnitOfWork, version: int) -> Playbook:
    """The tenant's playbook as stored at ``version`` (0: the packaged default)."""
    if version == 0:
        return default_playbook()
    row = uow.session.scalar(
        select(TenantPlaybook).where(
            TenantPlaybook.tenant_id == uow.tenant_id, TenantPlaybook.version == version
        )
    )
    if row is None:
        raise NotFound(f"no playbook version {version}")
    return parse_playbook(row.document)


def pin_of(uow: UnitOfWork, case: Case) -> PlaybookPin:
    return PlaybookPin(
        case_id=case.id, pinned_version=case.playbook_version, current_version=current_version(uow)
    )


def pinned_playbook(uow: UnitOfWork, case: Case) -> tuple[Playbook, int]:
    """The playbook a recommendation for ``case`` follows: its pin, or the current version,
    which the case is pinned to from now on."""
    if case.playbook_version is None:
        move_pin(uow, case, expected=None, to=current_version(uow))
    version = case.playbook_version
    assert version is not None  # move_pin leaves the stored pin, whoever set it
    return playbook_at(uow, version), version


def move_pin(uow: UnitOfWork, case: Case, *, expected: int | None, to: int) -> bool:
    """Set the pin to ``to`` if it is still ``expected``; True if this call moved it.

    Either way ``case.playbook_version`` ends as the stored pin: on PostgreSQL a
    concurrent writer's UPDATE holds the row until it commits, after which ours finds
    the pin changed and updates nothing, and the re-read sees the winner's value."""
    current = _cases.c.playbook_version
    moved = uow.session.execute(
        update(_cases)
        .where(
            _cases.c.tenant_id == uow.tenant_id,
            _cases.c.id == case.id,
            current.is_(None) if expected is None else current == expected,
        )
        .values(playbook_version=to)
    )
    stored = uow.session.scalar(
        select(current).where(_cases.c.tenant_id == uow.tenant_id, _cases.c.id == case.id)
    )
    set_committed_value(case, "playbook_version", stored)
    return bool(getattr(moved, "rowcount", 0))
