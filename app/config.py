from functools import lru_cache
from pathlib import Path

from pydantic import SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    """Every knob of the service, read from `TRACER_*` environment variables."""

    model_config = SettingsConfigDict(env_prefix="TRACER_", extra="ignore")

    database_url: str = "sqlite+aiosqlite:///./tracer.db"
    bootstrap_admin_key: SecretStr | None = None
    webhook_allow_private: bool = False
    # Where `tracer serve` keeps the admin key it creates on first start of an embedded database.
    admin_key_file: Path = Path(".tracer-admin-key")
    # SQLite waits this long for another writer before answering "database is locked".
    sqlite_busy_timeout_ms: int = 30_000

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
