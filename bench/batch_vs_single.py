"""Rows per second: one POST /v1/sightings per row against POST /v1/sightings/batch.

Serves Tracer with uvicorn on 127.0.0.1 against a fresh database and drives it over HTTP, as a
client would. Run: `python -m bench.batch_vs_single [--rows 2000] [--database-url URL]`
(default: a temporary SQLite file; a PostgreSQL URL must name an empty database).
"""

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from app.config import Settings
from app.db import create_engine
from app.migrate import upgrade_to_head
from bench.harness import create_news_outlets, wait_until_answering

KEY = "trk_bench_admin_key"
CLAIMS = 20
OUTLETS = 50
SERVE_ARGS = ["--host", "127.0.0.1", "--log-level", "warning"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def _migrate(url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    await upgrade_to_head(engine)
    await engine.dispose()


def _row(run: str, n: int, claim_ids: list[str]) -> dict[str, Any]:
    start = datetime(2022, 8, 1, tzinfo=UTC)
    return {
        "claim_id": claim_ids[n % CLAIMS],
        "outlet": f"outlet-{n % OUTLETS}",
        "url": f"https://example.org/{run}/{n}",
        "published_at": (start + timedelta(minutes=n)).isoformat(),
        "stance": "reports",
        "title": f"Row {n} of the {run} run",
    }


async def _setup(http: httpx.AsyncClient) -> list[str]:
    await create_news_outlets(http, OUTLETS)
    claim_ids = []
    for n in range(CLAIMS):
        created = await http.post("/v1/claims", json={"statement": f"Benchmark claim number {n}"})
        claim_ids.append(created.json()["id"])
    return claim_ids


async def _single(http: httpx.AsyncClient, claim_ids: list[str], rows: int) -> float:
    started = time.perf_counter()
    for n in range(rows):
        response = await http.post("/v1/sightings", json=_row("single", n, claim_ids))
        assert response.status_code == 201, response.text
    return rows / (time.perf_counter() - started)


async def _batch(http: httpx.AsyncClient, claim_ids: list[str], rows: int) -> float:
    started = time.perf_counter()
    for offset in range(0, rows, 1000):
        items = [_row("batch", n, claim_ids) for n in range(offset, min(rows, offset + 1000))]
        response = await http.post("/v1/sightings/batch", json={"items": items})
        assert response.status_code == 200, response.text
        assert {r["status"] for r in response.json()["results"]} == {"created"}
    return rows / (time.perf_counter() - started)


async def _drive(base: str, rows: int) -> tuple[float, float]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=600) as http:
        await wait_until_answering(http, "/healthz", seconds=10)
        claim_ids = await _setup(http)
        single = await _single(http, claim_ids, rows)
        batch = await _batch(http, claim_ids, rows)
        return single, batch


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}"
        asyncio.run(_migrate(url))
        port = _free_port()
        env = {**os.environ, "TRACER_DATABASE_URL": url, "TRACER_BOOTSTRAP_ADMIN_KEY": KEY}
        env["TRACER_CAPTURE"] = "false"  # made-up URLs: capturing them would reach for the web
        command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
        server = subprocess.Popen([*command, *SERVE_ARGS, "--port", str(port)], env=env)
        try:
            single, batch = asyncio.run(_drive(f"http://127.0.0.1:{port}", args.rows))
        finally:
            server.terminate()
            server.wait(timeout=30)
    engine = url.split(":", 1)[0].split("+", 1)[0]
    print(f"database:        {engine}")
    print(f"rows per run:    {args.rows}")
    print(f"single POSTs:    {single:8.1f} rows/s")
    print(f"batch of 1,000:  {batch:8.1f} rows/s")
    print(f"batch / single:  {batch / single:8.1f}x")


if __name__ == "__main__":
    main()
