"""One claim carried 1,000, 10,000 and 100,000 times: what each read of it costs.

Serves Tracer as `tracer serve` in a subprocess, loads one claim through the batch endpoint
(300 outlets, a third of them official and denying it; each sighting cites one to three of the
200 before it) and, at each size, measures every read a dashboard makes of the claim: time,
bytes received, and the growth of the server's resident memory above its level before the
request (sampled every few milliseconds from /proc while the request runs).

Run on purpose: `python -m bench.chain_at_scale [--sizes 1000,10000,100000]` (SQLite), and with
`TRACER_BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test` also PostgreSQL
(a private database is created and dropped). Sizes grow one claim, so they come in order.
"""

import argparse
import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from bench.harness import private_postgres_database

KEY = "trk_bench_admin_key"
OUTLETS = 300
OFFICIAL_EVERY = 3  # every third outlet is official, and denies the claim
CITED_WINDOW = 200
BATCH = 1000
START = datetime(2022, 8, 1, tzinfo=UTC)
SPREADING = ["asserts", "reports", "reports", "questions"]


@dataclass
class Figure:
    request: str
    status: int
    seconds: float
    size: int
    memory_growth: int


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _rss(pid: int) -> int:
    """Resident memory of a process and its children, in bytes."""
    total = 0
    for task in [pid, *_children(pid)]:
        try:
            for line in Path(f"/proc/{task}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except FileNotFoundError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        listed = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except FileNotFoundError:
        return []
    return [int(child) for child in listed]


@contextmanager
def _peak_growth(pid: int) -> Iterator[list[int]]:
    """Samples the server's memory while the block runs; yields [growth in bytes] after it."""
    before = _rss(pid)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, _rss(pid))
            done.wait(0.005)

    sampler = threading.Thread(target=sample)
    sampler.start()
    result: list[int] = []
    try:
        yield result
    finally:
        done.set()
        sampler.join()
        result.append(max(peak, _rss(pid)) - before)


def _item(k: int, claim_id: str, ids: list[str], batch_start: int, rng: random.Random) -> dict:
    outlet = rng.randrange(OUTLETS)
    official = outlet % OFFICIAL_EVERY == 0
    item: dict[str, Any] = {
        "ref": str(k),
        "claim_id": claim_id,
        "outlet": f"outlet-{outlet}",
        "url": f"https://example.org/{k}",
        "published_at": (START + timedelta(minutes=k)).isoformat(),
        "stance": "denies" if official else rng.choice(SPREADING),
    }
    if k and rng.random() > 0.01:  # one in a hundred starts afresh, an origin
        earlier = range(max(0, k - CITED_WINDOW), k)
        cited = rng.sample(earlier, min(len(earlier), rng.randint(1, 3)))
        item["cites"] = [ids[j] for j in cited if j < batch_start]
        item["cites_refs"] = [str(j) for j in cited if j >= batch_start]
    return item


async def _grow(
    http: httpx.AsyncClient, claim_id: str, ids: list[str], size: int, rng: random.Random
) -> float:
    started = time.perf_counter()
    for offset in range(len(ids), size, BATCH):
        items = [
            _item(k, claim_id, ids, offset, rng) for k in range(offset, min(size, offset + BATCH))
        ]
        response = await http.post("/v1/sightings/batch", json={"items": items, "atomic": True})
        assert response.status_code == 200, response.text[:500]
        ids += [result["id"] for result in response.json()["results"]]
    return time.perf_counter() - started


async def _measure(http: httpx.AsyncClient, pid: int, name: str, url: str, **params: Any) -> Figure:
    size = 0
    with _peak_growth(pid) as growth:
        started = time.perf_counter()
        async with http.stream("GET", url, params=params) as response:
            async for part in response.aiter_raw():
                size += len(part)
        seconds = time.perf_counter() - started
    return Figure(name, response.status_code, seconds, size, growth[0])


async def _reads(http: httpx.AsyncClient, pid: int, claim_id: str, origin: str) -> list[Figure]:
    chain = f"/v1/claims/{claim_id}/chain"
    reads: list[tuple[str, str, dict[str, Any]]] = [
        ("chain", chain, {}),
        ("chain compact", chain, {"shape": "compact"}),
        ("chain graphml", chain, {"format": "graphml"}),
        ("chain gexf", chain, {"format": "gexf"}),
        ("chain csv", chain, {"format": "csv"}),
        ("trace downstream", f"/v1/sightings/{origin}/trace", {"direction": "downstream"}),
        ("denial report", f"/v1/claims/{claim_id}/denial", {}),
        ("spread (day)", f"/v1/claims/{claim_id}/spread", {"bucket": "day"}),
    ]
    return [await _measure(http, pid, name, url, **params) for name, url, params in reads]


async def _drive(base: str, pid: int, sizes: list[int]) -> list[tuple[int, float, list[Figure]]]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=900) as http:
        for _ in range(300):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                await asyncio.sleep(0.2)
        for n in range(OUTLETS):
            kind = "official" if n % OFFICIAL_EVERY == 0 else "news_outlet"
            body = {"slug": f"outlet-{n}", "name": f"Outlet {n}", "kind": kind}
            body["country"] = ["RU", "UA", "KP", "US", "DE"][n % 5]
            assert (await http.post("/v1/outlets", json=body)).status_code == 201
        created = await http.post("/v1/claims", json={"statement": "A claim gone viral"})
        claim_id = created.json()["id"]
        ids: list[str] = []
        rng = random.Random(20221128)
        results = []
        for size in sizes:
            loading = await _grow(http, claim_id, ids, size, rng)
            results.append((size, loading, await _reads(http, pid, claim_id, ids[0])))
        return results


def _run(name: str, url: str, sizes: list[int]) -> None:
    port = _free_port()
    env = {**os.environ, "TRACER_DATABASE_URL": url, "TRACER_BOOTSTRAP_ADMIN_KEY": KEY}
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        results = asyncio.run(_drive(f"http://127.0.0.1:{port}", server.pid, sizes))
    finally:
        server.terminate()
        server.wait(timeout=60)
    print(f"\n{name}: one claim; time, bytes received, server memory growth during the request")
    print("| sightings | request | status | time | size | memory growth |")
    print("|---:|---|---:|---:|---:|---:|")
    for size, loading, figures in results:
        print(f"| {size:,} | load (batches of {BATCH:,}) | 200 | {loading:.1f} s | | |")
        for f in figures:
            print(
                f"| {size:,} | {f.request} | {f.status} | {f.seconds:.2f} s "
                f"| {f.size / 1e6:.1f} MB | {f.memory_growth / 1e6:+.0f} MB |"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated, growing")
    parser.add_argument("--engines", default="sqlite,postgresql", help="sqlite and/or postgresql")
    args = parser.parse_args()
    sizes = sorted(int(size) for size in args.sizes.split(","))
    engines = args.engines.split(",")
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as folder:
            _run("sqlite", f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", sizes)
    admin_url = os.environ.get("TRACER_BENCH_POSTGRES_URL")
    if "postgresql" in engines and admin_url:

        async def fresh() -> None:
            async with private_postgres_database(admin_url) as url:
                await asyncio.to_thread(_run, "postgresql", url, sizes)

        asyncio.run(fresh())
    elif "postgresql" in engines:
        print("(set TRACER_BENCH_POSTGRES_URL to also measure PostgreSQL)")


if __name__ == "__main__":
    main()
