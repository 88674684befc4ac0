"""Settings from the environment (``ORDEROPS_*``) or a ``.env`` file, validated once at start.

A ``Settings`` object is passed to every factory; nothing reads the environment later.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_SECRET = "demo-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ORDEROPS_", env_file=".env", extra="ignore")

    data_dir: Path = Path("data")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL; defaults to a SQLite file under data_dir."
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: str = DEMO_SECRET
    demo_mode: bool = False
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_batch_events: int = Field(default=1000, ge=1)
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    log_sql: bool = False

    @model_validator(mode="after")
    def _refuse_unsafe_defaults(self) -> Settings:
        if not self.demo_mode and self.secret_key == DEMO_SECRET:
            raise ValueError(
                "ORDEROPS_SECRET_KEY is the demo placeholder; set a real secret outside the demo"
            )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'orderops.db').as_posix()}"
