"""Answers too large to build whole: rows read in chunks, JSON written as bytes piece by piece."""

from collections.abc import AsyncIterator, Sequence
from typing import Any

import asyncpg
import orjson
from fastapi import Response
from fastapi.responses import StreamingResponse
from sqlalchemy import Enum, Select, String, inspect, type_coerce
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncResult, AsyncSession

# Rows fetched per round trip while a response streams: large enough that round trips cost
# little, small enough that a chunk's rows and their JSON stay a few megabytes.
CHUNK_ROWS = 2000
# Below this many bytes an answer is sent whole: most answers are small, and a whole one costs
# less to send, carries its length, and can still become an error response if a read fails.
WHOLE_BELOW = 256 * 1024


def encode(value: Any) -> bytes:
    """JSON as the API writes it (timestamps in UTC with `Z`, enums as their values): orjson
    encodes a chunk of rows many times faster than validating them through pydantic."""
    return orjson.dumps(value, option=orjson.OPT_UTC_Z)


def json_items(values: list[Any]) -> bytes:
    """Values as the items of a JSON array, without its brackets."""
    return encode(values)[1:-1]


def raw(column: Any, name: str) -> Any:
    """The column labelled `name`; an enum comes as its plain string value, which documents
    write as is and which compares equal to the enum member, without a conversion per row."""
    if isinstance(column.type, Enum):
        return type_coerce(column, String).label(name)
    return column.label(name)


def columns_of(entity: Any, fields: list[str] | None = None) -> list[Any]:
    """The mapped columns of an entity, model or alias alike, labelled by their attribute keys:
    those among `fields` (a document's fields, in order, plus what it is built from), or every
    one, so that columns added to a model flow into the documents built from it."""
    keys = [attr.key for attr in inspect(entity).mapper.column_attrs]
    if fields is not None:
        keys = [name for name in fields if name in keys]
    return [raw(getattr(entity, key), key) for key in keys]


def time_order(session: AsyncSession, entity: Any) -> list[Any]:
    """The contract's time order: publication, then recording, then id as Python compares it."""
    return time_order_in(session.get_bind().dialect.name, entity)


def time_order_in(dialect: str, entity: Any) -> list[Any]:
    """`time_order` for a statement built once per dialect rather than per session."""
    sighting_id = entity.id
    if dialect == "postgresql":
        # A database collation may order ids unlike Python; byte order is what `rules` uses.
        sighting_id = sighting_id.collate("C")
    return [entity.published_at, entity.recorded_at, sighting_id]


async def _stream(
    session: AsyncSession, statement: Select[Any], params: dict[str, Any] | None
) -> AsyncResult[Any]:
    # Run on the session's connection, as Core: the rows are plain tuples, and the ORM's
    # per-row loading machinery (a third of the time on a big chain) is skipped.
    connection = await session.connection()
    result: AsyncResult[Any] = await connection.stream(
        statement, params, execution_options={"yield_per": CHUNK_ROWS}
    )
    return result


async def stream_rows(
    session: AsyncSession, statement: Select[Any], params: dict[str, Any] | None = None
) -> AsyncIterator[Sequence[Any]]:
    """The statement's rows in chunks, fetched as they are consumed (a server-side cursor on
    PostgreSQL), so no more than a chunk is held at once."""
    result = await _stream(session, statement, params)
    async for chunk in result.partitions(CHUNK_ROWS):
        yield chunk


def _driver_statement(statement: Select[Any], dialect: Any) -> tuple[str, list[Any]] | None:
    """The statement as asyncpg takes it, text and arguments, when its values go to the driver
    as they are (none is converted by a column type, none expands a list); otherwise None."""
    compiled = statement.compile(dialect=dialect)
    if compiled.positiontup is None:
        return None
    arguments = []
    for name in compiled.positiontup:
        bind = compiled.binds.get(name)
        if bind is None or bind.expanding:
            return None
        if bind.type.dialect_impl(dialect).bind_processor(dialect) is not None:
            return None
        arguments.append(compiled.params[name])
    return compiled.string, arguments


async def stream_tuples(
    session: AsyncSession, statement: Select[Any]
) -> AsyncIterator[Sequence[Any]]:
    """`stream_rows`, as the driver's own records when it is asyncpg and the statement allows:
    for answers of hundreds of thousands of rows, wrapping each in SQLAlchemy's row costs a
    third of the time they take to send."""
    connection = await session.connection()
    driver = (await connection.get_raw_connection()).driver_connection
    plain = None
    if connection.dialect.driver == "asyncpg" and driver is not None and driver.is_in_transaction():
        plain = _driver_statement(statement, connection.dialect)
    if plain is None:
        async for chunk in stream_rows(session, statement):
            yield chunk
        return
    assert driver is not None
    text, arguments = plain
    try:
        cursor = await driver.cursor(text, *arguments)
        while rows := await cursor.fetch(CHUNK_ROWS):
            yield rows
    except (asyncpg.PostgresError, asyncpg.InterfaceError) as error:
        # Raised as SQLAlchemy raises the driver's errors, so that the service answers a
        # database that is away or busy as such (app.errors), not as a fault of its own.
        raise DBAPIError.instance(
            text, arguments, error, asyncpg.PostgresError, hide_parameters=True
        ) from error


def _plain(keys: Any) -> list[str]:
    # A column's own name may come as SQLAlchemy's `quoted_name`, a str subclass that orjson
    # refuses as a key.
    return [str(key) for key in keys]


async def stream_dicts(
    session: AsyncSession,
    statement: Select[Any],
    params: dict[str, Any] | None = None,
    *,
    at_most: int | None = None,
) -> AsyncIterator[list[dict[str, Any]]]:
    """`stream_rows` as dictionaries keyed by column label. When the rows are known to be at
    most a chunk (`at_most`), they are read in one plain fetch: a server-side cursor costs a
    small read more round trips than it saves."""
    if at_most is not None and at_most <= CHUNK_ROWS:
        connection = await session.connection()
        rows = await connection.execute(statement, params)
        keys = _plain(rows.keys())
        yield [dict(zip(keys, row, strict=True)) for row in rows]
        return
    result = await _stream(session, statement, params)
    keys = _plain(result.keys())
    async for chunk in result.partitions(CHUNK_ROWS):
        yield [dict(zip(keys, row, strict=True)) for row in chunk]


async def respond(parts: AsyncIterator[bytes], media_type: str) -> Response:
    """The body `parts` make, sent whole if it is small and streamed as it is made if not.

    The parts are read from sessions that stay open until the response has been sent
    (`SnapshotDep`), so a streamed remainder can go on reading after this returns.
    """
    buffered: list[bytes] = []
    size = 0
    async for part in parts:
        buffered.append(part)
        size += len(part)
        if size >= WHOLE_BELOW:

            async def remainder() -> AsyncIterator[bytes]:
                yield b"".join(buffered)
                async for rest in parts:
                    yield rest

            return StreamingResponse(remainder(), media_type=media_type)
    return Response(b"".join(buffered), media_type=media_type)
