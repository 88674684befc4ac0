"""An action stays "approved" for the record after its writeback is delivered or fails:
the approvals an evidence pack and a draft's fact check are given include actions that
moved on to EXECUTED or FAILED, and never a rejected one."""

from __future__ import annotations

from datetime import timedelta

import pytest

from builders.similar_corpus import resolve_now, write_corpus
from orderops.bootstrap import App
from orderops.domain.actions import ActionStatus
from orderops.domain.clock import FixedClock
from orderops.recommend.service import approved_actions
from orderops.storage.uow import UnitOfWork


@pytest.mark.parametrize(
    ("status", "listed"),
    [
        (ActionStatus.APPROVED, True),
        (ActionStatus.EXECUTED, True),
        (ActionStatus.FAILED, True),
        (ActionStatus.REJECTED, False),
        (ActionStatus.AWAITING_APPROVAL, False),
    ],
)
def test_an_approved_action_is_listed_whatever_its_delivery_became(
    app: App, clock: FixedClock, status: ActionStatus, listed: bool
) -> None:
    corpus = write_corpus(app.sessions, tenant_id="acme", now=clock.now(), resolved=0, open_cases=1)
    (case_id,) = corpus.open
    resolve_now(
        app.sessions,
        tenant_id="acme",
        case_id=case_id,
        at=clock.now() + timedelta(minutes=5),
        kind="refund",
        status=status,
    )

    with UnitOfWork(app.sessions, tenant_id="acme", write=False) as uow:
        kinds = [a["kind"] for a in approved_actions(uow, case_id)]

    assert kinds == (["refund"] if listed else [])
