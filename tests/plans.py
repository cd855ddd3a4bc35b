"""What the database plans to do for a statement, for tests that a hot query stays on its index
whatever the planner knows about the tables' contents (PostgreSQL's autovacuum may be off)."""

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def plan_of(session: AsyncSession, statement: Any) -> str:
    """The engine's plan for `statement`, its lines joined into one string."""
    dialect = session.get_bind().dialect
    compiled = statement.compile(dialect=dialect, compile_kwargs={"literal_binds": True})
    explain = "EXPLAIN QUERY PLAN " if dialect.name == "sqlite" else "EXPLAIN "
    rows = await session.execute(text(explain + str(compiled)))
    return " ".join(str(row[-1]) for row in rows)
