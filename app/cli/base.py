"""What every `tracer` command shares: the command itself and the database it opens."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import typer
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings, get_settings
from app.db import create_engine, create_sessionmaker
from app.migrate import upgrade_to_head

cli = typer.Typer(help="Tracer: where a claim came from, where it went, and who denied it.")


@asynccontextmanager
async def opened(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """The configured database for one command, closed when the command is done with it."""
    engine = create_engine(settings)
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


async def _migrate(settings: Settings) -> None:
    engine = create_engine(settings)
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


def migrated_settings() -> Settings:
    """The settings, once the database they name is at the newest schema: commands that read or
    write the ledger never meet a schema older than their code."""
    settings = get_settings()
    asyncio.run(_migrate(settings))
    return settings
