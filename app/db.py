import asyncio
import functools
import json
import os
import sqlite3
import time
import uuid
import weakref
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from itertools import chain
from typing import Any

from sqlalchemy import (
    JSON,
    BindParameter,
    ColumnElement,
    DateTime,
    Integer,
    MetaData,
    Select,
    Table,
    Text,
    TextClause,
    and_,
    bindparam,
    cast,
    event,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as SATimeoutError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Session, SessionTransaction
from sqlalchemy.pool import QueuePool
from sqlalchemy.sql.dml import Insert, UpdateBase
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
    """A UUID whose first 48 bits are the time in milliseconds (version 7, RFC 9562 section 5.7),
    the other 74 random."""
    milliseconds = time.time_ns() // 1_000_000
    value = (milliseconds & 0xFFFF_FFFF_FFFF) << 80 | int.from_bytes(os.urandom(10))
    value = value & ~(0xF000 << 64) | 0x7000 << 64  # version
    value = value & ~(0xC << 60) | 0x8 << 60  # variant
    return str(uuid.UUID(int=value))


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

    def bind_processor(self, dialect: Dialect) -> Any:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)

        # SQLite's own DATETIME text, "YYYY-MM-DD HH:MM:SS.ffffff", in one C call rather than
        # through two processors: a batch of 1,000 sightings binds some 10,000 times, most of
        # them the one moment it was recorded at, converted once.
        @functools.lru_cache(maxsize=1024)
        def to_text(value: datetime | None) -> str | None:
            naive = self.process_bind_param(value, dialect)
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return to_text

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
            json_serializer=_json_text,
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
        json_serializer=_json_text,
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


def lends_at_once(session: AsyncSession) -> bool:
    """Whether the session's engine would lend a connection without waiting: an idle one, or
    one it may still open.

    For a writer about to hold a second connection while it holds the first: waiting for one
    could wait for ever when every connection is held by writers doing the same.
    """
    bind = session.bind
    pool = bind.sync_engine.pool if isinstance(bind, AsyncEngine) else None
    if not isinstance(pool, QueuePool) or pool.checkedin() > 0:
        return True
    # A pool opens connections as they are asked for, up to its size and overflow: until
    # then, all of them being busy does not make the next one wait.
    max_overflow: int = pool._max_overflow
    return max_overflow < 0 or pool.overflow() < max_overflow


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False, autoflush=False)


def table_of(model: type[Base]) -> Table:
    """A model's table, for Core statements: an executemany of them is one statement, where the
    ORM's bulk insert splits rows by which of their values are None."""
    table = model.__table__
    assert isinstance(table, Table)
    return table


# Keys per lookup on SQLite: a few parameters each, well under its limit.
KEYS_PER_LOOKUP = 256


def _padded(keys: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The keys, with the last repeated up to a power of two: the driver keeps each statement
    it prepares, and a few lengths of a lookup make a few statements rather than one for every
    number of keys."""
    assert 0 < len(keys) <= KEYS_PER_LOOKUP, len(keys)
    return [*keys, *[keys[-1]] * ((1 << (len(keys) - 1).bit_length()) - len(keys))]


def _any_of(columns: Sequence[Any], keys: Sequence[Sequence[Any]]) -> ColumnElement[bool]:
    return or_(
        *(
            and_(*(column == value for column, value in zip(columns, key, strict=True)))
            for key in keys
        )
    )


def key_chunks(keys: Sequence[tuple[Any, ...]]) -> Iterator[Sequence[tuple[Any, ...]]]:
    """The keys in slices as many as `key_in` takes at once on SQLite."""
    for start in range(0, len(keys), KEYS_PER_LOOKUP):
        yield keys[start : start + KEYS_PER_LOOKUP]


def key_in(
    dialect: str, columns: Sequence[Any], keys: Sequence[tuple[Any, ...]]
) -> ColumnElement[bool]:
    """Whether the columns' values are one of these keys (at least one, at most
    `KEYS_PER_LOOKUP` on SQLite).

    SQLite runs a row value IN a list as a scan of the whole table, each row checked against
    the list: 37 ms for 250 keys against 220,000 rows of `outlet_days`, and growing with
    the table. As one equality per key OR-ed together, it looks each key up in the index
    (0.7 ms)."""
    if dialect != "sqlite":
        return tuple_(*columns).in_(keys)
    return _any_of(columns, _padded(keys))


# `keys_present`'s statements on SQLite by columns and number of keys. Built once: an OR of
# hundreds of equalities costs more to build and to key for SQLAlchemy's cache than the lookup
# costs SQLite.
_lookups: dict[tuple[str, ...], Select[Any]] = {}


def _lookup(columns: Sequence[Any], size: int) -> Select[Any]:
    key = (*(str(column) for column in columns), str(size))
    statement = _lookups.get(key)
    if statement is None:
        binds: list[list[BindParameter[Any]]] = [
            [bindparam(f"k{n}_{m}") for m in range(len(columns))] for n in range(size)
        ]
        statement = _lookups[key] = select(*columns).where(_any_of(columns, binds)).distinct()
    return statement


def dialect_insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def execute_many(
    session: AsyncSession, statement: UpdateBase, rows: list[dict[str, Any]]
) -> None:
    """Run one statement once per row (an INSERT or UPDATE), every row with the same keys.

    On SQLite the statement is compiled once and the rows handed to the driver as tuples,
    each column converted by its type in one pass: SQLAlchemy's executemany builds a dict of
    parameters per row through its compiler, which for a batch of 1,000 sightings took about
    a fifth of the event loop's time. An INSERT then goes as a few statements of many rows
    each (`_many_rows`). A statement with defaults computed in Python per row goes the usual way,
    as does everything on PostgreSQL, where the server's time dominates.
    """
    if not rows:
        return
    dialect = session.get_bind().dialect
    if dialect.name == "postgresql":
        await session.execute(statement, rows)
        return
    form = _driver_form(statement, dialect, tuple(rows[0]))
    if form is None:
        await session.execute(statement, rows)
        return
    sql, converters, many = form
    columns = []
    for name, convert in converters:
        values = [row[name] for row in rows]
        if convert is None:
            columns.append(values)
            continue
        first = values[0]
        # A value every row shares (the moment written, the actor, an empty change) is
        # converted once: only the very same object, since equal values of different types
        # (1 and True, 1 and 1.0) convert differently.
        if all(value is first for value in values):
            columns.append([convert(first)] * len(values))
        else:
            columns.append(list(map(convert, values)))
    await session.flush()
    connection = await session.connection()
    if many is None:
        await connection.exec_driver_sql(sql, list(zip(*columns, strict=True)))
        return
    head, one_row, tail = many
    sizes = [size for size in _ROWS_PER_STATEMENT if size * len(converters) <= _SQLITE_VARIABLES]
    start = 0
    for size in sizes or [1]:
        ends = range(start + size, len(rows) + 1, size)
        if not ends:
            continue
        # Every statement of this size in one call, each a single step of the driver's.
        statements = [
            tuple(
                chain.from_iterable(
                    zip(*(column[end - size : end] for column in columns), strict=True)
                )
            )
            for end in ends
        ]
        await connection.exec_driver_sql(head + ", ".join([one_row] * size) + tail, statements)
        start = ends[-1]


# How many parameters one SQLite statement may bind: 32,766 by default since SQLite 3.32,
# 999 before.
_SQLITE_VARIABLES = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999
# The rows of one statement of many rows, largest first: a few sizes only, since the driver
# keeps each statement it prepares (128 a connection), and one of a thousand rows of 25 columns
# holds 2 MB: 128 of them, one for each size a batch happened to have, held 270 MB. What is
# left after the largest goes in the smaller ones, at most 15 rows one by one.
_ROWS_PER_STATEMENT = (256, 16, 1)


def _many_rows(sql: str, width: int) -> tuple[str, str, str] | None:
    """An INSERT of one row of `width` parameters as the parts of the same INSERT of many
    rows: what comes before its row, the row, and what comes after (its ON CONFLICT clause).

    The driver runs an executemany a row at a time and lets go of Python's lock around each
    row's step, taking it back after: with the event loop busy meanwhile (another request
    being read or checked), each taking back waits for the loop's thread to yield, up to the
    interpreter's switch interval (5 ms): with another thread busy in Python, 1,000 rows took
    seconds rather than 10 ms. One statement of many rows is bound at once and stepped once,
    without Python's lock.
    None for anything else, which goes row by row.
    """
    one_row = "(" + ", ".join(["?"] * width) + ")"
    head, found, tail = sql.partition(f" VALUES {one_row}")
    if not sql.startswith("INSERT") or not found or "?" in head or "?" in tail:
        return None
    return f"{head} VALUES ", one_row, tail


# A statement's SQL, its columns' converters and its many-row form (`_many_rows`), by the
# statement's shape and the rows' keys.
_DriverForm = tuple[str, list[tuple[str, Any]], tuple[str, str, str] | None]
_driver_forms: dict[tuple[Any, ...], _DriverForm | None] = {}
_DRIVER_FORMS_KEPT = 512


def _driver_form(
    statement: UpdateBase, dialect: Dialect, keys: tuple[str, ...]
) -> _DriverForm | None:
    """What `execute_many` hands the driver for this statement and these keys, compiled once
    per shape of statement, as SQLAlchemy's own cache does; None when SQLAlchemy must fill in
    values the rows do not carry (a default computed per row, a literal of the statement's
    own)."""
    cache_key = statement._generate_cache_key()
    # By the dialect itself: its converters follow its engine's settings (the JSON encoder).
    key = None if cache_key is None else (dialect, cache_key.key, keys)
    if key is not None and key in _driver_forms:
        return _driver_forms[key]
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    names = compiled.positiontup
    form: _DriverForm | None = None
    if not (
        compiled.insert_prefetch
        or compiled.update_prefetch
        or names is None
        or not set(keys) >= set(names)
    ):
        converters = [
            (name, compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect))
            for name in names
        ]
        form = (compiled.string, converters, _many_rows(compiled.string, len(converters)))
    if key is not None:
        if len(_driver_forms) >= _DRIVER_FORMS_KEPT:
            _driver_forms.clear()
        _driver_forms[key] = form
    return form


async def insert_rows(
    session: AsyncSession,
    table: Table,
    rows: list[dict[str, Any]],
    conflict: Callable[[Any], Any] | None = None,
    returning: Sequence[ColumnElement[Any]] = (),
) -> list[tuple[Any, ...]]:
    """Insert many rows with the same keys in one statement; `conflict` adds an ON CONFLICT
    clause to the dialect's insert.

    On PostgreSQL the rows go as one array per column, unnested by the server: one execution,
    and one compiled statement whatever their number, where an executemany is one execution
    per row and a multi-row VALUES one compilation per batch. SQLite runs in the process, so
    an executemany of one compiled statement is as fast there. `returning` is PostgreSQL's
    alone: an executemany returns nothing.
    """
    if not rows:
        return []
    if session.get_bind().dialect.name != "postgresql":
        assert not returning, "an executemany returns no rows"
        insert = sqlite.insert(table)
        await execute_many(session, conflict(insert) if conflict else insert, rows)
        return []
    statement, columns = unnested_insert(table, rows)
    if conflict:
        statement = conflict(statement)
    if returning:
        statement = statement.returning(*returning)
    result = await session.execute(statement, columns)
    return [tuple(row) for row in result] if returning else []


async def update_rows(
    session: AsyncSession,
    table: Table,
    rows: list[dict[str, Any]],
    key: str = "key",
    before: Insert | None = None,
) -> None:
    """Update many rows of `table`, each found by its id under `key` and set to the row's other
    values, every row with the same keys; `before`, an insert run first that reads the rows as
    they were (their history).

    On PostgreSQL the rows go as one array per column, joined to the table by id: one execution
    rather than one per row, `before` with it (a statement in its WITH reads the rows as they
    stood when the statement began). The join takes the rows in no set order, so a caller that
    may meet another writer of them locks them in order first.
    """
    if not rows:
        return
    names = [name for name in rows[0] if name != key]
    if session.get_bind().dialect.name != "postgresql":
        if before is not None:
            await session.execute(before)
        statement = update(table).where(table.c.id == bindparam(key))
        await execute_many(session, statement, rows)
        return
    types = {key: table.c.id.type} | {name: table.c[name].type for name in names}
    source, columns = _unnested(rows, types)
    given = source.subquery()
    statement = (
        update(table)
        .where(table.c.id == given.c[key])
        .values({name: given.c[name] for name in names})
    )
    if before is not None:
        statement = statement.add_cte(before.cte("before_update"))
    await session.execute(statement, columns)


class EncodedJson(str):
    """A JSON value encoded already (by pydantic, in one pass), which a JSON column stores as
    it is rather than encoding it again."""


def _json_text(value: Any) -> str:
    """A JSON column's value as the text stored."""
    return value if isinstance(value, EncodedJson) else json.dumps(value)


def unnested_insert(
    table: Table, rows: list[dict[str, Any]], *, in_order: bool = False
) -> tuple[Any, dict[str, list[Any]]]:
    """PostgreSQL's insert of many rows with the same keys as one array per column, and the
    arrays to pass it. `in_order`: the rows take the values of the table's sequence in the
    order given, which an unnest yields them in without promising it."""
    names = [name for name in rows[0] if not _null_in_all(table, rows, name)]
    source, columns = _unnested(rows, {name: table.c[name].type for name in names})
    if in_order:
        position = func.unnest(bindparam("position", type_=postgresql.ARRAY(Integer)))
        given = source.add_columns(position.label("position")).subquery()
        source = select(*(given.c[name] for name in names)).order_by(given.c.position)
        columns["position"] = list(range(len(rows)))
    return postgresql.insert(table).from_select(names, source), columns


def _null_in_all(table: Table, rows: list[dict[str, Any]], name: str) -> bool:
    """Whether no row gives the column a value and it takes none by default: left out, it is
    NULL all the same, where the driver would check each of a thousand Nones in its array (the
    driver's checks are most of what a batch's insert costs the process)."""
    column = table.c[name]
    if column.default is not None or column.server_default is not None:
        return False
    return all(row[name] is None for row in rows)


def _unnested(
    rows: list[dict[str, Any]], types: dict[str, Any]
) -> tuple[Select[Any], dict[str, list[Any]]]:
    """PostgreSQL's rows from one array per column, each column named as its key and of its
    type in `types`; the select, and the arrays to pass it.

    JSON values go as text, cast by the server: an array of lists would be taken for an array
    of more dimensions, and one of empty lists for nothing at all."""
    unnested: list[ColumnElement[Any]] = []
    columns: dict[str, list[Any]] = {}
    for name, type_ in types.items():
        values = [row[name] for row in rows]
        if isinstance(type_, JSON):
            array = bindparam(name, type_=postgresql.ARRAY(Text))
            unnested.append(cast(func.unnest(array), type_).label(name))
            columns[name] = [
                None if value is None and type_.none_as_null else _json_text(value)
                for value in values
            ]
        else:
            array = bindparam(name, type_=postgresql.ARRAY(type_))
            unnested.append(func.unnest(array).label(name))
            columns[name] = values
    return select(*unnested), columns


async def keys_present(
    session: AsyncSession, columns: list[Any], keys: list[tuple[Any, ...]]
) -> set[tuple[Any, ...]]:
    """Which of these keys (values of `columns`, all of one table) have a row."""
    found: set[tuple[Any, ...]] = set()
    if not keys:
        return found
    if session.get_bind().dialect.name == "postgresql":
        # The keys as arrays, each asked for one row: a row-value IN list of hundreds of keys
        # is planned as as many index scans OR-ed together, several times slower, and a join
        # would read every row under a key (an outlet's days of a claim) to keep one.
        arrays = [
            func.unnest(
                bindparam(f"key_{n}", type_=postgresql.ARRAY(column.type)), type_=column.type
            ).label(f"k{n}")
            for n, column in enumerate(columns)
        ]
        wanted = select(*arrays).subquery()
        matched = and_(*(column == wanted.c[f"k{n}"] for n, column in enumerate(columns)))
        statement = select(*wanted.c).where(
            select(literal(1)).select_from(columns[0].table).where(matched).exists()
        )
        params = {f"key_{n}": [key[n] for key in keys] for n in range(len(columns))}
        found.update(tuple(row) for row in await session.execute(statement, params))
        return found
    for chunk in key_chunks(keys):
        padded = _padded(chunk)
        values = {f"k{n}_{m}": value for n, key in enumerate(padded) for m, value in enumerate(key)}
        rows = await session.execute(_lookup(columns, len(padded)), values)
        found.update(tuple(row) for row in rows)
    return found


async def insert_many_or_ignore(
    session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]
) -> None:
    """Insert rows, skipping those whose key exists already."""
    await insert_rows(session, table_of(model), rows, lambda new: new.on_conflict_do_nothing())


async def insert_new(
    session: AsyncSession, model: type[Base], rows: list[dict[str, Any]], key: str
) -> tuple[set[str], dict[Any, str]]:
    """Insert rows with their own ids, skipping those whose unique `key` another writer holds;
    the ids inserted, and by key the ids given to the rows that were not.

    The rows go in in key order, so two writers creating the same records meet their unique
    keys in the same order and neither waits for the other while holding one. A row another
    writer created meanwhile (its insert waited for that one's commit) is that writer's.
    """
    rows.sort(key=lambda row: str(row[key]))
    statement = (
        dialect_insert(session)(model)
        .on_conflict_do_nothing(index_elements=[key])
        .returning(model.__table__.c.id)
    )
    inserted = set(await session.scalars(statement, rows))
    return inserted, {row[key]: row["id"] for row in rows if row["id"] not in inserted}


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


# SQLite lets one writer at a time into the file, and one waiting for it polls, sleeping up to
# 100 ms between tries (its busy handler): four batches queued on the lock left it idle for a
# third of the time. Writers of one process take turns here first, handed on at each commit.
_WRITE_TURNS: weakref.WeakKeyDictionary[Engine, dict[asyncio.AbstractEventLoop, asyncio.Lock]]
_WRITE_TURNS = weakref.WeakKeyDictionary()
_HOLDS_TURN = "tracer_holds_write_turn"


async def take_write_turn(session: AsyncSession) -> None:
    """On SQLite, wait for this process's other writers that asked before, until the session's
    transaction ends (committed or rolled back). Taken once per transaction, before its first
    write; PostgreSQL, whose writers do not shut each other out, takes none."""
    if session.get_bind().dialect.name != "sqlite" or session.info.get(_HOLDS_TURN):
        return
    # Begun first, so that the end of this transaction is sure to come and hand the turn on.
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    if driver is not None and driver.in_transaction:
        # It has written already, so it holds SQLite's lock or waits for it: waiting for a turn
        # too could wait for a writer that is itself waiting for this one's lock.
        return
    engine = session.get_bind()
    assert isinstance(engine, Engine)
    by_loop = _WRITE_TURNS.setdefault(engine, {})
    turn = by_loop.setdefault(asyncio.get_running_loop(), asyncio.Lock())
    await turn.acquire()
    session.info[_HOLDS_TURN] = True
    sync_session = session.sync_session

    def ended(_session: Session, transaction: SessionTransaction) -> None:
        if transaction.parent is None and session.info.pop(_HOLDS_TURN, False):
            turn.release()

    event.listen(sync_session, "after_transaction_end", ended)
