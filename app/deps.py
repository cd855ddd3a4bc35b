"""Request dependencies every domain shares: the moment a read is answered at, If-Match, and
a turn among the heavy reads."""

import asyncio
import re
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Header, Query, Request

from app.db import utcnow
from app.errors import Busy, Invalid
from app.schemas import TimestampIn


async def _as_of(
    as_of: Annotated[
        TimestampIn | None,
        Query(
            description="Answer as this request was answered at that moment of recording time "
            "(RFC 3339 with an offset)."
        ),
    ] = None,
) -> datetime | None:
    if as_of is not None and as_of > utcnow():
        raise Invalid("as_of is in the future", loc=["as_of"], source="query")
    return as_of


AsOf = Annotated[datetime | None, Depends(_as_of)]


_ENTITY_TAG = re.compile(r'^\s*(?:W/)?"(\d{1,9})"\s*$')


async def _if_match(
    if_match: Annotated[
        str | None,
        Header(
            max_length=100,
            description='`"<revision>"`: refuse the change (412) if the record has moved on.',
        ),
    ] = None,
) -> int | None:
    if if_match is None or if_match.strip() == "*":
        return None
    found = _ENTITY_TAG.match(if_match)
    if found is None:
        raise Invalid(
            'If-Match must be "*" or an ETag this service gave, like "3"',
            loc=["If-Match"],
            source="header",
        )
    return int(found.group(1))


IfMatch = Annotated[int | None, Depends(_if_match)]


async def _heavy_read(request: Request) -> AsyncIterator[None]:
    """A turn among the few reads sized by a chain that a process runs at once, held until the
    response has been sent (a streamed body is read while it is sent)."""
    settings = request.app.state.settings
    turns: asyncio.Semaphore = request.app.state.heavy_reads
    try:
        async with asyncio.timeout(settings.heavy_read_wait_seconds):
            await turns.acquire()
    except TimeoutError:
        raise Busy(
            "too many chain, trace and spread reads are running; retry after the time in "
            "Retry-After",
            retry_after=settings.unavailable_retry_after_seconds,
        ) from None
    try:
        yield
    finally:
        turns.release()


# Taken before the read's own dependencies, so a read waiting for its turn holds no connection.
HeavyRead = Annotated[None, Depends(_heavy_read, scope="request")]
