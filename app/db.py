import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Boolean, DateTime, MetaData, Table, event
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import TypeDecorator

from app.config import Settings

# One naming convention, so Alembic names constraints identically on SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored as UTC and always read back timezone-aware.

    SQLite has no timezone type: values are stored as naive UTC text, which also keeps their
    lexical order equal to their time order.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def create_engine(settings: Settings) -> AsyncEngine:
    """The engine for the configured database, with SQLite tuned for concurrent use."""
    if not settings.is_sqlite:
        return create_async_engine(settings.database_url, pool_pre_ping=True)
    engine = create_async_engine(
        settings.database_url,
        connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers go on while one writer writes; foreign keys are off by default.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    return engine


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def _dialect_insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def insert_many_or_ignore(
    session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]
) -> None:
    """Insert rows, skipping those whose key exists already."""
    if rows:
        statement = _dialect_insert(session)(model.__table__).on_conflict_do_nothing()
        await session.execute(statement, rows)


async def insert_or_ignore(
    session: AsyncSession, model: type[Base], values: dict[str, Any], conflict_on: list[str]
) -> str | None:
    """Insert a row unless one with the same `conflict_on` values exists; return its key.

    Concurrent creators of the same slug or statement both succeed this way: the loser's
    insert waits for the winner, does nothing, and the caller reads the winner's row.
    """
    insert = _dialect_insert(session)
    table = model.__table__
    assert isinstance(table, Table)
    first_key = next(iter(table.primary_key.columns))
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_on)
        .returning(first_key)
    )
    inserted: str | None = await session.scalar(statement)
    return inserted


class json_array_contains(FunctionElement[bool]):
    """`json_array_contains(column, value)`: whether a JSON array column holds a string."""

    type = Boolean()
    inherit_cache = True
    name = "json_array_contains"


@compiles(json_array_contains, "postgresql")
def _json_array_contains_postgresql(element: Any, compiler: Any, **kw: Any) -> str:
    column, value = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"(CAST({column} AS JSONB) @> jsonb_build_array(CAST({value} AS TEXT)))"


@compiles(json_array_contains, "sqlite")
def _json_array_contains_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    column, value = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"EXISTS (SELECT 1 FROM json_each({column}) WHERE json_each.value = {value})"
