import asyncio
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    ColumnElement,
    CompoundSelect,
    DateTime,
    MetaData,
    Select,
    Table,
    TextClause,
    event,
    text,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
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
from sqlalchemy.util.concurrency import await_

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

    def result_processor(self, dialect: Dialect, coltype: object) -> Any:
        # asyncpg already gives a timestamptz as an aware datetime in UTC: converting it again,
        # once per value, is a fifth of the time a large chain takes to read.
        if dialect.name == "postgresql" and dialect.driver == "asyncpg":
            return None
        return super().result_processor(dialect, coltype)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# SQLSTATE classes and codes that say "try again later", not "your request is wrong":
# connection exceptions, serialization failure, deadlock, too many connections, the server
# shutting down or starting, and a statement cancelled by its timeout.
_TRANSIENT_SQLSTATE_CLASSES = ("08",)
_TRANSIENT_SQLSTATES = {"40001", "40P01", "53300", "57P01", "57P02", "57P03", "57014"}
_RETRYABLE_SQLSTATES = {"40001", "40P01"}
# SQLite's words for another writer holding the file, or the file being unreadable.
# "interrupted" is the statement guard below stopping a statement that ran too long.
_TRANSIENT_SQLITE = (
    "database is locked",
    "database table is locked",
    "disk i/o error",
    "interrupted",
)


def _sqlstate(exc: BaseException) -> str | None:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)


def is_transient(exc: BaseException) -> bool:
    """Whether `exc` is the database being away or busy, which a later retry can cure."""
    if isinstance(exc, SATimeoutError | ConnectionError | asyncio.TimeoutError):
        return True  # the pool had no connection to give, or the server could not be reached
    if isinstance(exc, OSError):
        return True  # asyncpg reports an unreachable server as a bare OSError
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated or isinstance(exc, InterfaceError):
        return True
    state = _sqlstate(exc)
    if state is not None:
        return state in _TRANSIENT_SQLSTATES or state.startswith(_TRANSIENT_SQLSTATE_CLASSES)
    return isinstance(exc, OperationalError) and any(
        words in str(exc.orig).lower() for words in _TRANSIENT_SQLITE
    )


def is_retryable(exc: BaseException) -> bool:
    """A deadlock or serialization failure: the transaction may simply be run again."""
    return isinstance(exc, DBAPIError) and _sqlstate(exc) in _RETRYABLE_SQLSTATES


def create_engine(settings: Settings) -> AsyncEngine:
    """The engine for the configured database, every statement bounded in time.

    Parameters are never written into error messages: they hold key hashes and encrypted
    webhook secrets, and error messages end up in logs.
    """
    if not settings.is_sqlite:
        timeout_ms = str(int(settings.statement_timeout_seconds * 1000))
        # A transaction left idle this long (a process stuck between statements) is ended by
        # the server, so it cannot hold locks and a connection for ever.
        idle_ms = str(int(max(60.0, 4 * settings.statement_timeout_seconds) * 1000))
        return create_async_engine(
            settings.database_url,
            hide_parameters=True,
            # No ping before each checkout: on asyncpg it is three round trips (BEGIN, a
            # statement, ROLLBACK) added to every request. A connection that died with the
            # server fails its first statement instead; that request answers 503 and the pool
            # drops every connection older than the failure, so the next ones reconnect.
            pool_pre_ping=False,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_timeout=settings.db_pool_timeout_seconds,
            connect_args={
                "timeout": settings.db_connect_timeout_seconds,
                "server_settings": {
                    "statement_timeout": timeout_ms,
                    "idle_in_transaction_session_timeout": idle_ms,
                    # Without fresh statistics a recursive walk is estimated at hundreds of
                    # thousands of rows, and compiling its expressions (JIT) costs more than
                    # running it: tens of milliseconds per statement of a request.
                    "jit": "off",
                },
            },
        )
    engine = create_async_engine(
        settings.database_url,
        hide_parameters=True,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_timeout=settings.db_pool_timeout_seconds,
        connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000},
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _sqlite_pragmas(dbapi_connection: Any, record: Any) -> None:
        cursor = dbapi_connection.cursor()
        # WAL lets readers go on while one writer writes; foreign keys are off by default.
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(settings.sqlite_busy_timeout_ms)}")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()
        record.info["started"] = _guard_sqlite_statements(
            dbapi_connection, settings.statement_timeout_seconds
        )

    @event.listens_for(engine.sync_engine, "before_cursor_execute")
    def _statement_starts(conn: Any, *_args: Any) -> None:
        started = conn.connection.info.get("started")
        if started is not None:
            started[0] = time.monotonic()

    return engine


def _guard_sqlite_statements(dbapi_connection: Any, limit_seconds: float) -> list[float]:
    """SQLite's statement timeout: a progress handler interrupts a statement past its time.

    SQLite calls the handler every few thousand virtual-machine steps of a running statement;
    a true answer aborts it with "interrupted", which the error handlers answer as 503.
    """
    started = [time.monotonic()]

    def too_long() -> int:
        return int(time.monotonic() - started[0] > limit_seconds)

    driver = dbapi_connection.driver_connection
    await_(driver.set_progress_handler(too_long, 10_000))
    return started


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements: an executemany of them is one statement, where the
    ORM's bulk insert splits rows by which of their values are None."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


def dialect_insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def insert_many_or_ignore(
    session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]
) -> None:
    """Insert rows, skipping those whose key exists already."""
    if rows:
        statement = dialect_insert(session)(model.__table__).on_conflict_do_nothing()
        await session.execute(statement, rows)


async def insert_or_ignore(
    session: AsyncSession,
    model: type[Base],
    values: dict[str, Any],
    conflict_on: list[str],
    where: ColumnElement[bool] | TextClause | None = None,
) -> str | None:
    """Insert a row unless one with the same `conflict_on` values exists; return its key.

    Concurrent creators of the same slug or statement both succeed this way: the loser's
    insert waits for the winner, does nothing, and the caller reads the winner's row. `where`
    names a partial unique index by its condition.
    """
    insert = dialect_insert(session)
    table = model.__table__
    assert isinstance(table, Table)
    first_key = next(iter(table.primary_key.columns))
    statement = (
        insert(table)
        .values(**values)
        .on_conflict_do_nothing(index_elements=conflict_on, index_where=where)
        .returning(first_key)
    )
    inserted: str | None = await session.scalar(statement)
    return inserted


async def lock_names(session: AsyncSession, names: list[str]) -> None:
    """Hold a transaction-scoped lock on each name, taken in sorted order (PostgreSQL).

    SQLite needs none: it lets one writer at a time into the whole file.
    """
    if session.get_bind().dialect.name != "postgresql":
        return
    for name in sorted(set(names)):
        await session.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:name, 0))"), {"name": name}
        )


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


class not_indexed(FunctionElement[Any]):
    """`not_indexed(column)`: the column, which the database may not use an index to look up.

    Without fresh statistics (SQLite has none unless asked; PostgreSQL here runs without
    autovacuum), a planner may drive a join from the side an index makes look cheap and probe
    the other side once per pair of rows: quadratic in the chain. Written so that no index
    matches (SQLite's unary `+`, as its documentation advises; `COALESCE(x, x)` on
    PostgreSQL), the column is only checked on rows reached through the join's keys.
    """

    inherit_cache = True
    name = "not_indexed"

    def __init__(self, column: Any) -> None:
        super().__init__(column)
        self.type = column.type


@compiles(not_indexed)
def _not_indexed(element: Any, compiler: Any, **kw: Any) -> str:
    column = compiler.process(element.clauses.clauses[0], **kw)
    return f"COALESCE({column}, {column})"


@compiles(not_indexed, "sqlite")
def _not_indexed_sqlite(element: Any, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses.clauses[0], **kw))


class in_by_key(ColumnElement[bool]):
    """`column IN (values)`, each of the values looked up through the column's index.

    Without fresh statistics PostgreSQL may hash the values and scan the whole table for them
    instead; given them as one array computed before the scan (`= ANY(ARRAY(...))`), it can
    only look them up. SQLite looks up an IN list's values by index already.
    """

    inherit_cache = False
    type = Boolean()
    # A condition in itself: without it, SQLite's rendering compares it to 1, and the
    # comparison hides the IN from the planner, which then scans the table.
    _is_implicitly_boolean = True

    def __init__(self, column: Any, values: Select[Any] | CompoundSelect[Any]) -> None:
        self.column = column
        self.values = values.scalar_subquery()

    def get_children(self, **kw: Any) -> tuple[Any, ...]:
        return (self.column, self.values)


@compiles(in_by_key)
def _in_by_key(element: in_by_key, compiler: Any, **kw: Any) -> str:
    return f"{compiler.process(element.column, **kw)} IN {compiler.process(element.values, **kw)}"


@compiles(in_by_key, "postgresql")
def _in_by_key_postgresql(element: in_by_key, compiler: Any, **kw: Any) -> str:
    column, values = compiler.process(element.column, **kw), compiler.process(element.values, **kw)
    return f"{column} = ANY(ARRAY{values})"


class Unindexed:
    """An entity whose columns read as `not_indexed`: for a condition written for an entity
    (such as a chain's `Members`) applied to the far side of a join."""

    def __init__(self, entity: Any) -> None:
        self._entity = entity

    def __getattr__(self, name: str) -> Any:
        return not_indexed(getattr(self._entity, name))
