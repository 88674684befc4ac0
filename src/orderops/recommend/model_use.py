"""What a call to the language model spent, kept where the tenant's meters read it.

Drafts and summaries both call the model; each call's tokens are one row of the model's
own ledger (``llm_usage``, by purpose and case) and one count on the tenant's usage meter,
passed or blocked by the claim checker alike: the tokens were spent either way.
"""

from __future__ import annotations

from datetime import datetime

from orderops.metering import usage
from orderops.recommend.llm import Usage
from orderops.storage.tables.recommend import LlmUsage
from orderops.storage.uow import UnitOfWork


def meter_model_use(
    uow: UnitOfWork, used: Usage | None, *, purpose: str, case_id: str | None, now: datetime
) -> None:
    if used is None:
        return
    uow.session.add(
        LlmUsage(
            tenant_id=uow.tenant_id,
            at=now,
            model=used.model,
            purpose=purpose,
            case_id=case_id,
            prompt_tokens=used.prompt_tokens,
            completion_tokens=used.completion_tokens,
        )
    )
    usage.count_model_use(
        uow,
        model=used.model,
        prompt_tokens=used.prompt_tokens,
        completion_tokens=used.completion_tokens,
        at=now,
    )
