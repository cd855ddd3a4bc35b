"""One claim carried 1,000, 10,000 and 100,000 times: what each read of it costs.

Serves Tracer as `tracer serve` in a subprocess, loads one claim through the batch endpoint
(300 outlets, a third of them official and denying it; each sighting cites one to three of the
200 before it) and, at each size, measures every read a dashboard makes of the claim: time,
bytes received, and the growth of the server's resident memory above its level before the
request (sampled every few milliseconds from /proc while the request runs).

Run on purpose: `python -m bench.chain_at_scale [--sizes 1000,10000,100000]` (SQLite), and with
`TRACER_BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test` also PostgreSQL
(a private database is created and dropped). Sizes grow one claim, so they come in order.

Loading through the batch endpoint takes a few seconds per batch of 1,000, so 100,000 sightings
take about ten minutes on PostgreSQL and four on SQLite. `--load direct` writes all but the
last batch of each size straight into the tables (the same rows, counted as recording counts
them, then `ANALYZE` on PostgreSQL, as autovacuum would) and sends only the last batch through
the endpoint: the reads measured are the same.
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
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims import chain_counts
from app.config import Settings
from app.db import create_engine
from app.enums import CitationBasis
from app.models import Citation, Sighting
from bench.harness import private_postgres_database, wait_until_answering

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
    # The same request straight after: the first read of rows just loaded also sets their
    # hint bits (PostgreSQL) and brings them into the caches.
    again: float = 0.0


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


def _item(
    k: int, claim_id: str, ids: list[str], batch_start: int, rng: random.Random
) -> dict[str, Any]:
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


async def _write_directly(
    url: str, items: list[dict[str, Any]], ids: list[str], outlet_ids: dict[str, str]
) -> None:
    """These items as rows, with the ids the batch endpoint would have given them."""
    rows, citations = [], []
    for item in items:
        sid = str(uuid.uuid4())
        rows.append(
            {
                "id": sid,
                "claim_id": item["claim_id"],
                "outlet_id": outlet_ids[item["outlet"]],
                "url": item["url"],
                "published_at": datetime.fromisoformat(item["published_at"]),
                "stance": item["stance"],
                "recorded_by": "bench",
                "revised_by": "bench",
            }
        )
        ids.append(sid)
        cited = item.get("cites", []) + [ids[int(ref)] for ref in item.get("cites_refs", [])]
        citations += [
            {"citing_id": sid, "cited_id": c, "basis": CitationBasis.cites} for c in cited
        ]
    engine = create_engine(Settings(database_url=url))
    async with AsyncSession(engine) as session, session.begin():
        for start in range(0, len(rows), 5000):
            await session.execute(insert(Sighting), rows[start : start + 5000])
        for start in range(0, len(citations), 5000):
            await session.execute(insert(Citation), citations[start : start + 5000])
        # What recording would have counted of these citations.
        await chain_counts.recount(session, items[0]["claim_id"])
    if engine.dialect.name == "postgresql":
        async with engine.connect() as connection:
            await connection.execution_options(isolation_level="AUTOCOMMIT")
            await connection.execute(text("ANALYZE"))
    await engine.dispose()


async def _grow(
    http: httpx.AsyncClient,
    claim_id: str,
    ids: list[str],
    size: int,
    rng: random.Random,
    direct: tuple[str, dict[str, str]] | None,
) -> float:
    started = time.perf_counter()
    if direct is not None and size - len(ids) > BATCH:
        first = len(ids)
        items = [_item(k, claim_id, ids, first, rng) for k in range(first, size - BATCH)]
        await _write_directly(direct[0], items, ids, direct[1])
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
    figures = []
    for name, url, params in reads:
        figure = await _measure(http, pid, name, url, **params)
        figure.again = (await _measure(http, pid, name, url, **params)).seconds
        figures.append(figure)
    return figures


def _print_size(size: int, loading: float, figures: list[Figure]) -> None:
    print(f"| {size:,} | load | 200 | {loading:.1f} s | | | |")
    for f in figures:
        print(
            f"| {size:,} | {f.request} | {f.status} | {f.seconds:.2f} s | {f.again:.2f} s "
            f"| {f.size / 1e6:.1f} MB | {f.memory_growth / 1e6:+.0f} MB |",
            flush=True,
        )


async def _drive(
    base: str, pid: int, sizes: list[int], direct_url: str | None
) -> list[tuple[int, float, list[Figure]]]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with httpx.AsyncClient(base_url=base, headers=headers, timeout=900) as http:
        await wait_until_answering(http, "/readyz", seconds=60)
        outlet_ids = {}
        for n in range(OUTLETS):
            kind = "official" if n % OFFICIAL_EVERY == 0 else "news_outlet"
            body = {"slug": f"outlet-{n}", "name": f"Outlet {n}", "kind": kind}
            body["country"] = ["RU", "UA", "KP", "US", "DE"][n % 5]
            created = await http.post("/v1/outlets", json=body)
            assert created.status_code == 201
            outlet_ids[body["slug"]] = created.json()["id"]
        direct = (direct_url, outlet_ids) if direct_url else None
        created = await http.post("/v1/claims", json={"statement": "A claim gone viral"})
        claim_id = created.json()["id"]
        ids: list[str] = []
        rng = random.Random(20221128)
        results = []
        for size in sizes:
            loading = await _grow(http, claim_id, ids, size, rng, direct)
            results.append((size, loading, await _reads(http, pid, claim_id, ids[0])))
            _print_size(*results[-1])
        return results


def _run(name: str, url: str, sizes: list[int], direct: bool) -> None:
    port = _free_port()
    env = {**os.environ, "TRACER_DATABASE_URL": url, "TRACER_BOOTSTRAP_ADMIN_KEY": KEY}
    env["TRACER_CAPTURE"] = "false"  # made-up URLs: capturing them would reach for the web
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    print(
        f"\n{name}: one claim; time (first read, then the same again), bytes received, server "
        "memory growth during the first"
    )
    print("| sightings | request | status | time | again | size | memory growth |")
    print("|---:|---|---:|---:|---:|---:|---:|", flush=True)
    # The server's log goes to a file: a pipe nobody reads fills up and stalls the server.
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=log)
        try:
            base = f"http://127.0.0.1:{port}"
            asyncio.run(_drive(base, server.pid, sizes, url if direct else None))
        finally:
            server.terminate()
            server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,100000", help="comma-separated, growing")
    parser.add_argument("--engines", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument("--load", choices=["batch", "direct"], default="batch")
    args = parser.parse_args()
    direct = args.load == "direct"
    sizes = sorted(int(size) for size in args.sizes.split(","))
    engines = args.engines.split(",")
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as folder:
            _run("sqlite", f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}", sizes, direct)
    admin_url = os.environ.get("TRACER_BENCH_POSTGRES_URL")
    if "postgresql" in engines and admin_url:

        async def fresh() -> None:
            async with private_postgres_database(admin_url) as url:
                await asyncio.to_thread(_run, "postgresql", url, sizes, direct)

        asyncio.run(fresh())
    elif "postgresql" in engines:
        print("(set TRACER_BENCH_POSTGRES_URL to also measure PostgreSQL)")


if __name__ == "__main__":
    main()
