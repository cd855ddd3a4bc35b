"""Alembic, driven from code: `tracer migrate`, `tracer serve` and the tests share this."""

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

import migrations


def alembic_config(connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrations.__file__).parent))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _upgrade(connection: Connection) -> None:
    command.upgrade(alembic_config(connection), "head")


async def upgrade_to_head(engine: AsyncEngine) -> None:
    """Bring the database to the newest revision."""
    if engine.dialect.name != "sqlite":
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade)
        return
    # SQLite alters a table by copying it and dropping the original, and a drop deletes its rows
    # first: with foreign keys on, that would cascade into every table that refers to it. The
    # pragma only takes effect outside a transaction, so it is set before the migration begins.
    async with engine.connect() as connection:
        await connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        await connection.commit()
        try:
            await connection.run_sync(_upgrade)
            broken = (await connection.exec_driver_sql("PRAGMA foreign_key_check")).first()
            if broken is not None:
                raise RuntimeError(f"the migration left a broken reference: {tuple(broken)}")
            await connection.commit()
        finally:
            await connection.rollback()
            await connection.exec_driver_sql("PRAGMA foreign_keys=ON")


def _is_current(connection: Connection) -> bool:
    heads = set(ScriptDirectory.from_config(alembic_config()).get_heads())
    return set(MigrationContext.configure(connection).get_current_heads()) == heads


async def is_at_head(engine: AsyncEngine) -> bool:
    """Whether the database is reachable and carries every revision."""
    async with engine.connect() as connection:
        return await connection.run_sync(_is_current)
