"""The migrations build exactly the schema the models describe, on both engines."""

import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from app.config import Settings
from app.db import Base, create_engine
from app.migrate import is_at_head, upgrade_to_head
from tests.conftest import BACKENDS, create_postgres_database, drop_postgres_database


def _differences(connection: Connection) -> list[object]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, Base.metadata))


async def _upgrade_and_compare(url: str) -> list[object]:
    engine = create_engine(Settings(database_url=url))
    try:
        assert not await is_at_head(engine)
        await upgrade_to_head(engine)
        assert await is_at_head(engine)
        async with engine.connect() as connection:
            return await connection.run_sync(_differences)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_migrations_match_models(backend: str, tmp_path: Path) -> None:
    if backend == "sqlite":
        assert (
            asyncio.run(_upgrade_and_compare(f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}")) == []
        )
        return
    url = create_postgres_database()
    try:
        assert asyncio.run(_upgrade_and_compare(url)) == []
    finally:
        drop_postgres_database(url)
