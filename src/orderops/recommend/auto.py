"""Recommending for cases that opened since the last pass, so a reviewer who opens a case
finds a fix already proposed. Run by the worker; each case in its own transaction, so one
case the playbook cannot handle never holds up the rest.

The similar-case index is brought up to date once per pass, in the transaction that finds
the waiting cases, and shared by all of them: the pass reads past cases only when some
closed since the last pass (``recommend.history_index``)."""

from __future__ import annotations

import logging

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.clock import Clock
from orderops.recommend.history_index import similar_cases
from orderops.recommend.service import recommend_case
from orderops.recommend.settings import RecommendSettings
from orderops.storage.tables import Case
from orderops.storage.tables.recommend import Recommendation
from orderops.storage.uow import UnitOfWork

log = logging.getLogger(__name__)

ACTOR = "recommender"


def recommend_new_cases(
    sessions: sessionmaker[Session], *, tenant_id: str, clock: Clock, limit: int = 100
) -> int:
    """Recommend for up to ``limit`` open cases that have no recommendation yet."""
    with UnitOfWork(sessions, tenant_id=tenant_id, write=False) as uow:
        waiting = list(
            uow.session.scalars(
                select(Case.id)
                .where(
                    Case.tenant_id == tenant_id,
                    Case.status.not_in([str(s) for s in CLOSED_STATUSES]),
                    ~exists().where(
                        Recommendation.tenant_id == tenant_id, Recommendation.case_id == Case.id
                    ),
                )
                .order_by(Case.opened_at)
                .limit(limit)
            )
        )
        if not waiting:
            return 0
        settings = RecommendSettings()
        index = similar_cases(uow, settings)
    done = 0
    for case_id in waiting:
        try:
            with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
                recommend_case(
                    uow, case_id, now=clock.now(), actor=ACTOR, settings=settings, index=index
                )
                uow.commit()
                done += 1
        except Exception:
            log.exception("recommending for case %s failed; the next pass tries again", case_id)
    return done
