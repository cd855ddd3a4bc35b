"""What the service costs per request, against a bare FastAPI endpoint measured in the same run.

    python -m bench.api_overhead [--seconds 10] [--rounds 5] [--concurrency 16] [--postgres]

Starts three single-process uvicorn servers on this machine and drives each with the same
client for the same time, in alternating rounds:

- bare: a FastAPI app whose one endpoint returns a constant JSON object (no database, no
  middleware): the ceiling any endpoint of this stack can reach here;
- tracer: `GET /v1/claims/{id}/denial` on the worked example's denied claim, with every layer
  in place (request ids, metrics, input guard, authentication, rate limit);
- tracer, rate limit off (`TRACER_RATE_LIMIT=0`): the same, without the limiter's counting.

Prints requests per second for each, the denial endpoint as a share of bare (goal: at least
50%) and the rate limiter's overhead (goal: at most 10%). SQLite by default; `--postgres`
uses a private database on the server named by TRACER_BENCH_POSTGRES_URL.
"""

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from fastapi import FastAPI

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.demo import loader as demo
from app.migrate import upgrade_to_head
from bench.harness import private_postgres_database

ADMIN_KEY = "trk_bench_admin_key"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"

bare = FastAPI()


@bare.get("/bare")
async def bare_endpoint() -> dict[str, str]:
    return {"claim_id": "x", "status": "denied"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _prepare(url: str) -> str:
    """Migrate, load the worked example; the id of its denied claim."""
    engine = create_engine(Settings(database_url=url))
    try:
        await upgrade_to_head(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            loaded = await demo.load(session=session)
    finally:
        await engine.dispose()
    return next(iter(loaded.claim_ids.values()))


@asynccontextmanager
async def _server(app: str, env: dict[str, str]) -> AsyncIterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", app, "--port", str(port), "--log-level", "error"]
    if app.endswith("create_app"):
        command.append("--factory")
    process = await asyncio.create_subprocess_exec(
        *command, env=env, stdout=asyncio.subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as http:
            for _ in range(300):
                try:
                    await http.get(f"{base}/healthz" if "create_app" in app else f"{base}/bare")
                    break
                except httpx.TransportError:
                    await asyncio.sleep(0.1)
        yield base
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), 20)


async def _drive(http: httpx.AsyncClient, url: str, seconds: float, concurrency: int) -> int:
    """How many requests `concurrency` clients get answered 200 by `url` in `seconds`."""
    done = 0
    deadline = time.perf_counter() + seconds

    async def one_client() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            response = await http.get(url)
            assert response.status_code == 200, response.text
            done += 1

    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    return done


async def _measure(url: str, seconds: float, concurrency: int, rounds: int) -> dict[str, float]:
    """Requests per second of each server; rounds alternate between them, so that a busy
    moment of the machine falls on all three alike."""
    claim_id = await _prepare(url)
    denial = f"/v1/claims/{claim_id}/denial"
    with tempfile.TemporaryDirectory() as tmp:
        base_env = {
            **{k: v for k, v in os.environ.items() if not k.startswith("TRACER_")},
            "TRACER_DATABASE_URL": url,
            "TRACER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
            "TRACER_DISPATCH_IN_APP": "false",
            "TRACER_SECRET_KEY_FILE": str(Path(tmp) / "secret"),
        }
        # A limit no run reaches, so every request is counted and none refused.
        limited = base_env | {"TRACER_RATE_LIMIT": "100000000"}
        unlimited = base_env | {"TRACER_RATE_LIMIT": "0"}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
        async with (
            _server("bench.api_overhead:bare", base_env) as bare_base,
            _server("app.main:create_app", limited) as limited_base,
            _server("app.main:create_app", unlimited) as unlimited_base,
            httpx.AsyncClient(limits=limits, headers=headers, timeout=30) as http,
        ):
            targets = {
                "bare": f"{bare_base}/bare",
                "denial": f"{limited_base}{denial}",
                "denial_unlimited": f"{unlimited_base}{denial}",
            }
            for target in targets.values():  # warm up: connections, caches, statements
                for _ in range(50):
                    assert (await http.get(target)).status_code == 200
            done = dict.fromkeys(targets, 0)
            for _ in range(rounds):
                for name, target in targets.items():
                    done[name] += await _drive(http, target, seconds / rounds, concurrency)
    return {name: count / seconds for name, count in done.items()}


async def main(seconds: float, concurrency: int, postgres: bool, rounds: int) -> None:
    if postgres:
        admin = os.environ.get("TRACER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
        async with private_postgres_database(admin) as url:
            figures = await _measure(url, seconds, concurrency, rounds)
        engine = "PostgreSQL"
    else:
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            figures = await _measure(sqlite, seconds, concurrency, rounds)
        engine = "SQLite"
    share = figures["denial"] / figures["bare"]
    overhead = 1 - figures["denial"] / figures["denial_unlimited"]
    print(
        f"{engine}, {concurrency} concurrent clients, {seconds:g} s per server in {rounds} "
        "alternating rounds, one process per server"
    )
    print(f"  bare FastAPI endpoint:            {figures['bare']:8.0f} req/s")
    print(f"  GET /v1/claims/{{id}}/denial:       {figures['denial']:8.0f} req/s")
    print(f"  same, rate limit off:             {figures['denial_unlimited']:8.0f} req/s")
    print(f"  denial as a share of bare:        {share:8.0%}   (goal >= 50%)")
    print(f"  rate limiter overhead:            {overhead:8.1%}   (goal <= 10%)")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--postgres", action="store_true")
    arguments = parser.parse_args()
    asyncio.run(
        main(arguments.seconds, arguments.concurrency, arguments.postgres, arguments.rounds)
    )
