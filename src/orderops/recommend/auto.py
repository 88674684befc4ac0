"""Recommending for cases that opened since the last pass, so a reviewer who opens a case
finds a fix already proposed. Run by the worker; each case in its own transaction, so one
case the playbook cannot handle never holds up the rest.

The similar-case index is brought up to date once per pass, in the transaction that finds
the waiting cases, and shared by all of them: the pass reads past cases only when some
closed since the last pass (``recommend.history_index``).

With the language model configured (``ORDEROPS_LLM_ENABLED``; the worker passes its
settings), the first ``MODEL_CASES_PER_PASS`` cases of a pass get model drafts, checked by
the claim checker like every draft, metered, and with the model's error kept when it fails;
the rest of a long backlog get the templates' drafts at once rather than waiting on a slow
model (a person can ask for a model draft on any case later). Replays (the backtest) pass no
settings: they never call a model."""

from __future__ import annotations

import logging

from sqlalchemy import exists, select
from sqlalchemy.orm import Session, sessionmaker

from orderops.domain.cases import CLOSED_STATUSES
from orderops.domain.clock import Clock
from orderops.recommend.history_index import similar_cases
from orderops.recommend.llm import LlmClient, LlmSettings
from orderops.recommend.service import recommend_case
from orderops.recommend.settings import RecommendSettings
from orderops.storage.tables import Case
from orderops.storage.tables.recommend import Recommendation
from orderops.storage.uow import UnitOfWork

log = logging.getLogger(__name__)

ACTOR = "recommender"
MODEL_CASES_PER_PASS = 20


def recommend_new_cases(
    sessions: sessionmaker[Session],
    *,
    tenant_id: str,
    clock: Clock,
    limit: int = 100,
    llm_settings: LlmSettings | None = None,
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
    llm = LlmClient(llm_settings) if llm_settings is not None and llm_settings.enabled else None
    done = 0
    try:
        for n, case_id in enumerate(waiting):
            try:
                with UnitOfWork(sessions, tenant_id=tenant_id) as uow:
                    recommend_case(
                        uow,
                        case_id,
                        now=clock.now(),
                        actor=ACTOR,
                        settings=settings,
                        index=index,
                        llm=llm if n < MODEL_CASES_PER_PASS else None,
                    )
                    uow.commit()
                    done += 1
            except Exception:
                log.exception("recommending for case %s failed; the next pass tries again", case_id)
    finally:
        if llm is not None:
            llm.close()
    return done
