"""What several benchmarks need: a private PostgreSQL database for the length of a run, a
server they started answering before they measure it, and the CPU time processes used."""

import asyncio
import os
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

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


async def create_news_outlets(http: httpx.AsyncClient, count: int) -> None:
    """News outlets `outlet-0` to `outlet-{count - 1}`, which the benchmarks' rows name by slug."""
    for n in range(count):
        outlet = {"slug": f"outlet-{n}", "name": f"Outlet {n}", "kind": "news_outlet"}
        created = await http.post("/v1/outlets", json=outlet)
        assert created.status_code == 201, created.text


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


def _stat(pid: str) -> tuple[str, int, float] | None:
    """A process's command name, parent and CPU seconds so far, from Linux's /proc."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name, fields = raw[raw.index("(") + 1 : raw.rindex(")")], raw[raw.rindex(")") + 2 :].split()
    return name, int(fields[1]), (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_seconds(
    *, pid: int | None = None, children_of: int | None = None, named: str | None = None
) -> float | None:
    """CPU seconds used so far by one process (`pid`), by its living children (`children_of`),
    or by every process of this machine with a command name (`named`, e.g. PostgreSQL's
    backends); None where /proc cannot tell (another system, or none of them here)."""
    if not Path("/proc/self/stat").exists():
        return None
    stats = {int(n): _stat(n) for n in os.listdir("/proc") if n.isdigit()}
    found = [
        seconds
        for number, stat in stats.items()
        if stat is not None
        for name, parent, seconds in [stat]
        if number == pid or parent == children_of or (named is not None and name == named)
    ]
    return sum(found) if found else None
