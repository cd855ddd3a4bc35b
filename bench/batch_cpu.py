"""The CPU a batch's rows cost the API, without a network or other processes in the way.

    python -m bench.batch_cpu [--engine sqlite|postgresql] [--batches 20] [--warm 4] [--clients 1]

The app and its client share this one process (the ASGI transport, no indexing, no captures,
no dispatcher), so the process's CPU time is the API's own cost of `POST /v1/sightings/batch`
plus the client's small share, with far less noise than the served benchmark (`bench.intake`),
whose rate follows whatever else the machine's cores run. The rows are `bench.intake`'s, the
clients (one by default) taking batches from one queue. Prints CPU milliseconds per row, rows
per second, and the garbage collector's sweeps and their time. With several clients, the rate
shows how far one request's work overlaps another's in the one process (on SQLite, a statement
running in the driver's thread while the event loop checks another batch). Run under
`py-spy record -- python -m bench.batch_cpu` for a profile of the same work.

PostgreSQL uses a private database on the server named by TRACER_BENCH_POSTGRES_URL.
"""

import argparse
import asyncio
import gc
import os
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from app.config import Settings
from app.db import create_engine
from app.main import create_app
from app.migrate import upgrade_to_head
from bench.harness import create_news_outlets, private_postgres_database
from bench.intake import DEFAULT_POSTGRES, KEY, batch_rows

OUTLETS = 500


@asynccontextmanager
async def database(engine: str) -> AsyncIterator[str]:
    if engine == "postgresql":
        admin = os.environ.get("TRACER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
        async with private_postgres_database(admin) as url:
            yield url
        return
    with tempfile.TemporaryDirectory() as scratch:
        yield f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"


class Sweeps:
    """The garbage collector's sweeps while counting: how many, and their seconds."""

    def __init__(self) -> None:
        self.count, self.seconds, self._started = 0, 0.0, 0.0
        self.counting = False

    def __call__(self, phase: str, info: dict[str, Any]) -> None:
        if not self.counting:
            return
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.count += 1
            self.seconds += time.perf_counter() - self._started


async def run(engine: str, batches: int, warm: int, clients: int) -> None:
    async with database(engine) as url:
        settings = Settings(
            database_url=url,
            bootstrap_admin_key=KEY,
            rate_limit=0,
            index_in_app=False,
            dispatch_in_app=False,
            capture=False,
        )
        migrator = create_engine(settings)
        await upgrade_to_head(migrator)
        await migrator.dispose()
        app = create_app(settings)
        async with LifespanManager(app, startup_timeout=120, shutdown_timeout=60):
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {KEY}"}
            async with httpx.AsyncClient(
                transport=transport, base_url="http://tracer.bench", headers=headers, timeout=600
            ) as http:
                await create_news_outlets(http, OUTLETS)
                work = batch_rows((warm + batches) * 1000, 2000, OUTLETS)
                for items in work[:warm]:
                    response = await http.post("/v1/sightings/batch", json={"items": items})
                    assert response.status_code == 200, response.text[:500]
                queue = list(reversed(work[warm:]))

                async def client() -> None:
                    while queue:
                        items = queue.pop()
                        response = await http.post("/v1/sightings/batch", json={"items": items})
                        assert response.status_code == 200, response.text[:500]

                sweeps = Sweeps()
                gc.callbacks.append(sweeps)
                sweeps.counting = True
                started, started_cpu = time.perf_counter(), time.process_time()
                await asyncio.gather(*(client() for _ in range(clients)))
                wall = time.perf_counter() - started
                cpu = time.process_time() - started_cpu
                gc.callbacks.remove(sweeps)
    rows = batches * 1000
    print(
        f"{engine}: {batches} batches of 1,000 after {warm} warming ones, {clients} client(s); "
        f"CPU {cpu / rows * 1000:.3f} ms a row, {rows / wall:,.0f} rows/s; "
        f"{sweeps.count} collector sweeps taking {sweeps.seconds:.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--warm", type=int, default=4)
    parser.add_argument("--clients", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(run(args.engine, args.batches, args.warm, args.clients))


if __name__ == "__main__":
    main()
