"""What several benchmarks need: a private PostgreSQL database for the length of a run, and a
server they started answering before they measure it."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine


async def _admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def new_postgres_database(admin_url: str, prefix: str = "tracer_bench") -> str:
    """A new database on the server `admin_url` points at; its URL."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    await _admin(admin_url, f'CREATE DATABASE "{name}"')
    return make_url(admin_url).set(database=name).render_as_string(hide_password=False)


@asynccontextmanager
async def private_postgres_database(
    admin_url: str, prefix: str = "tracer_bench"
) -> AsyncIterator[str]:
    """A new database on the server `admin_url` points at, dropped afterwards; its URL."""
    url = await new_postgres_database(admin_url, prefix)
    try:
        yield url
    finally:
        name = make_url(url).database
        await _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


async def wait_until_answering(http: httpx.AsyncClient, path: str, *, seconds: float) -> None:
    """Ask `path` until it answers 200 (a starting server loads its matching model first), for
    at most `seconds`; the measurement that follows reports a server that never came up."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if (await http.get(path)).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.1)
