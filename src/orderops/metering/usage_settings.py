"""``ORDEROPS_USAGE_*``: how usage is metered where that is a choice, and what models cost.

Read from the environment where it is used (like ``RecommendSettings``), so a change takes
effect at the next model call or the next API process, without threading a setting through
every caller.
"""

from __future__ import annotations

from pydantic import BaseModel, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ModelPrice(BaseModel):
    """US dollars per million tokens, as providers publish them; that is also micro-dollars
    per token, the unit the ``model_cost`` meter counts in."""

    prompt: float = Field(ge=0)
    completion: float = Field(ge=0)

    def cost_micros(self, prompt_tokens: int, completion_tokens: int) -> int:
        return round(prompt_tokens * self.prompt + completion_tokens * self.completion)


class UsageSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDEROPS_USAGE_", env_file=".env", extra="ignore")

    api_flush_seconds: float = Field(default=5.0, gt=0, le=300)
    """API calls are counted in the process and added to the counters this often; a crash
    loses at most this many seconds of API call counts (and nothing else)."""
    model_prices: dict[str, ModelPrice] = Field(default_factory=dict)
    """Per model name (as the provider answers it), e.g.
    ``{"gpt-4o-mini": {"prompt": 0.15, "completion": 0.6}}``. A model without a price is
    metered in tokens only."""
    model_price_per_1k_tokens: float | None = Field(default=None, ge=0)
    """US dollars per 1,000 tokens (prompt and completion alike) for a model not named in
    ``model_prices``, e.g. a self-hosted one priced at what its machine costs. Unset: such a
    model is metered in tokens only."""
    metrics_max_tenants: int = Field(default=50, ge=0)
    """``/metrics`` shows month-to-date usage per tenant only while the desk serves at most
    this many tenants (each adds a series per meter, and a read at every scrape)."""

    def price_of(self, model: str) -> ModelPrice | None:
        """The model's own price, else the flat price per 1,000 tokens, else None."""
        price = self.model_prices.get(model)
        if price is None and self.model_price_per_1k_tokens is not None:
            per_million = self.model_price_per_1k_tokens * 1000
            price = ModelPrice(prompt=per_million, completion=per_million)
        return price
