import asyncio

from alembic import context
from sqlalchemy.engine import Connection

from app.config import get_settings
from app.db import create_engine
from app.models import Base

target_metadata = Base.metadata


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        compare_type=True,
        # SQLite cannot ALTER most things: batch mode rebuilds tables there (a no-op on PostgreSQL).
        render_as_batch=connection.dialect.name == "sqlite",
    )


def _run_with(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_online() -> None:
    engine = create_engine(get_settings())
    async with engine.connect() as connection:
        await connection.run_sync(_run_with)
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("Offline SQL generation is not supported; run against a database.")

# Callers that already hold a connection (tests, `tracer migrate`) pass it in; otherwise connect.
existing: Connection | None = context.config.attributes.get("connection")
if existing is not None:
    _run_with(existing)
else:
    asyncio.run(_run_online())
