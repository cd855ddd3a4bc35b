"""What writing costs: one sighting that creates its claim against one of an existing claim,
batches from concurrent clients against a raw COPY, and how soon a new claim is matched.

    python -m bench.intake [--rows 100000] [--claims 2000] [--outlets 500] [--clients 4]
                           [--singles 100] [--pairs 10] [--postgres [--processes 1]]

Serves Tracer with uvicorn (one process, its indexer in the child it starts; on PostgreSQL
`--processes N` runs N API processes as docs/operations.md does, the first of which embeds and
delivers, and the clients take turns over them) on a fresh database and drives it over HTTP, as
clients would:

- single POSTs, alternating: a sighting creating its claim inline (a long, new wording) and a
  sighting of an existing claim; p50 and p95 of each, and their ratio (goal: p50 within 3x);
- `POST /v1/sightings/batch` of 1,000 items from several concurrent clients taking batches from
  one queue: `rows` sightings of `claims` claims (told inline, so batches share them) in
  `outlets` outlets, 70% titled, 44% citing an earlier item of their batch; rows per second and
  every answer other than 200 (goal on PostgreSQL: 5,000 rows/s, no 503). On PostgreSQL, the
  same rows then go into a sighting-shaped table with its unique key through asyncpg's
  `copy_records_to_table`, and intake is reported as a share of that (goal: 5%). The CPU each
  row cost the server, its slow-work process (embedding the new claims meanwhile), PostgreSQL
  (when it runs on this machine) and the clients tells what a machine's cores are spent on, and
  on PostgreSQL the share of the time the server's transactions were open that they spent
  waiting for a lock (sampled from `pg_stat_activity`), with the statements that waited;
- match lag: an English claim from bench/match_eval.jsonl is recorded, and its paraphrase in
  another language is matched until the claim comes back first; p50 and max.

SQLite by default; `--postgres` uses a private database on the server named by
TRACER_BENCH_POSTGRES_URL.
"""

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from app.config import Settings
from app.db import create_engine
from app.migrate import upgrade_to_head
from bench.batch_vs_single import _free_port
from bench.harness import (
    cpu_seconds,
    create_news_outlets,
    private_postgres_database,
    wait_until_answering,
)

KEY = "trk_bench_admin_key"
DEFAULT_POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
BATCH = 1000
START = datetime(2022, 8, 1, tzinfo=UTC)
LONG = (
    "according to a statement circulated by several regional channels and repeated in the "
    "evening bulletins of at least three outlets, officials are said to have confirmed the "
    "details in a closed briefing that nobody outside the room could verify independently"
)


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def _start(url: str, port: int, first: bool) -> "subprocess.Popen[bytes]":
    env = {**os.environ, "TRACER_DATABASE_URL": url, "TRACER_BOOTSTRAP_ADMIN_KEY": KEY}
    env["TRACER_RATE_LIMIT"] = "0"
    if not first:
        # As docs/operations.md runs several API processes: one embeds and delivers.
        env["TRACER_INDEX_IN_APP"] = env["TRACER_DISPATCH_IN_APP"] = "false"
    # The sightings' URLs are made up: capturing them would only reach for the web.
    env["TRACER_CAPTURE"] = "false"
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
    args = ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    return subprocess.Popen([*command, *args], env=env)


@asynccontextmanager
async def serving(
    url: str, processes: int = 1
) -> AsyncIterator[tuple[list[httpx.AsyncClient], list[int]]]:
    """Clients of Tracer served on `url`'s database by this many API processes, one client per
    process (the first process embeds and delivers), and the processes' ids."""
    engine = create_engine(Settings(database_url=url))
    await upgrade_to_head(engine)
    await engine.dispose()
    ports = [_free_port() for _ in range(processes)]
    servers = [await asyncio.to_thread(_start, url, port, n == 0) for n, port in enumerate(ports)]
    headers = {"Authorization": f"Bearer {KEY}"}
    try:
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    httpx.AsyncClient(
                        base_url=f"http://127.0.0.1:{port}", headers=headers, timeout=600
                    )
                )
                for port in ports
            ]
            for http in clients:
                await wait_until_answering(http, "/healthz", seconds=60)
            yield clients, [server.pid for server in servers]
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=60)


def _cpu(servers: list[int]) -> dict[str, float | None]:
    """CPU seconds so far of Tracer's server, of the child it embeds new claims in, of
    PostgreSQL when it runs on this machine, and of this process's clients: where a batch's
    time goes on a machine of few cores."""
    spent = [cpu_seconds(pid=server) for server in servers]
    return {
        "the API processes": None if None in spent else sum(s or 0.0 for s in spent),
        "the slow-work process": cpu_seconds(children_of=servers[0]),
        "PostgreSQL": cpu_seconds(named="postgres"),
        "the clients": time.process_time(),
    }


def _used(name: str, before: float | None, after: dict[str, float | None]) -> float | None:
    now = after[name]
    return None if before is None or now is None else now - before


async def singles(http: httpx.AsyncClient, count: int) -> dict[str, list[float]]:
    outlet = {"slug": "single-desk", "name": "Single desk", "kind": "news_outlet"}
    first = await http.post(
        "/v1/sightings",
        json={
            "claim": {"statement": "An existing claim every second sighting is of"},
            "outlet": outlet,
            "url": "https://example.org/single/0",
            "published_at": START.isoformat(),
            "stance": "reports",
        },
    )
    existing = first.json()["claim_id"]
    timings: dict[str, list[float]] = {"new claim": [], "existing claim": []}
    for n in range(1, count + 1):
        for kind in timings:
            claim: dict[str, Any] = (
                {"claim": {"statement": f"Claim {n}: {LONG} (variant {n})"}}
                if kind == "new claim"
                else {"claim_id": existing}
            )
            body = {
                **claim,
                "outlet": "single-desk",
                "url": f"https://example.org/single/{kind[0]}/{n}",
                "published_at": (START + timedelta(minutes=n)).isoformat(),
                "stance": "reports",
                "title": f"Title {n}: {LONG}",
            }
            started = time.perf_counter()
            response = await http.post("/v1/sightings", json=body)
            timings[kind].append(time.perf_counter() - started)
            assert response.status_code == 201, response.text
    return timings


def batch_rows(rows: int, claims: int, outlets: int, seed: int = 7) -> list[list[dict[str, Any]]]:
    """The batches, each item telling its claim inline, so that batches share claims."""
    chooser = random.Random(seed)
    batches = []
    for offset in range(0, rows, BATCH):
        items: list[dict[str, Any]] = []
        for n in range(offset, min(rows, offset + BATCH)):
            claim = chooser.randrange(claims)
            item: dict[str, Any] = {
                "ref": str(n),
                "claim": {"statement": f"Bench claim {claim} about the grain corridor"},
                "outlet": f"outlet-{chooser.randrange(outlets)}",
                "url": f"https://example.org/{n}",
                "published_at": (START + timedelta(minutes=n)).isoformat(),
                "stance": "reports",
            }
            if chooser.random() < 0.7:
                item["title"] = f"Report {n} on claim {claim}"
            if items and chooser.random() < 0.44:
                item["cites_refs"] = [items[chooser.randrange(len(items))]["ref"]]
            items.append(item)
        batches.append(items)
    return batches


async def batches(
    http: httpx.AsyncClient | list[httpx.AsyncClient],
    work: list[list[dict[str, Any]]],
    clients: int,
) -> tuple[float, dict[int, int], list[float]]:
    """Rows per second, the answers' statuses and each batch's seconds; the clients take turns
    over the servers' connections (`http`, one per API process), as a load balancer would."""
    servers = http if isinstance(http, list) else [http]
    queue = list(reversed(work))
    statuses: dict[int, int] = {}
    took: list[float] = []

    async def client(server: httpx.AsyncClient) -> None:
        while queue:
            items = queue.pop()
            started = time.perf_counter()
            response = await server.post("/v1/sightings/batch", json={"items": items})
            took.append(time.perf_counter() - started)
            statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
            if response.status_code == 200:
                results = response.json()["results"]
                assert {r["status"] for r in results} == {"created"}, results[:3]

    started = time.perf_counter()
    await asyncio.gather(*(client(servers[n % len(servers)]) for n in range(clients)))
    rows = sum(len(items) for items in work)
    return rows / (time.perf_counter() - started), statuses, took


async def connect(url: str) -> asyncpg.Connection:
    """asyncpg's own connection to the database a SQLAlchemy URL names."""
    return await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))


class LockWaits:
    """How much of the time the server's transactions were open they spent waiting for a lock,
    sampled from `pg_stat_activity` while the batches run, and the statements that waited.

    A batch holds the rows it counts (its claims and their summaries) from its counting to its
    commit; another batch of the same claims waits there meanwhile.
    """

    INTERVAL = 0.02

    def __init__(self, url: str) -> None:
        self.url = url
        self.open = self.waiting = 0
        self.statements: dict[str, int] = {}
        self._task: asyncio.Task[None] | None = None

    async def _sample(self) -> None:
        connection = await connect(self.url)
        try:
            while True:
                rows = await connection.fetch(
                    "SELECT wait_event_type, left(query, 40) AS query FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                    "AND xact_start IS NOT NULL"
                )
                self.open += len(rows)
                for row in rows:
                    if row["wait_event_type"] == "Lock":
                        self.waiting += 1
                        first = " ".join(row["query"].split()[:3])
                        self.statements[first] = self.statements.get(first, 0) + 1
                await asyncio.sleep(self.INTERVAL)
        finally:
            await connection.close()

    async def __aenter__(self) -> "LockWaits":
        self._task = asyncio.create_task(self._sample())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    def report(self) -> str:
        share = self.waiting / self.open if self.open else 0.0
        most = sorted(self.statements.items(), key=lambda item: -item[1])[:3]
        where = ", ".join(f"{query} ({count / self.waiting:.0%})" for query, count in most)
        return (
            f"lock waits: {share:.0%} of the time transactions were open "
            f"({self.open:,} samples){'; waiting in ' + where if where else ''}"
        )


async def raw_copy(url: str, work: list[list[dict[str, Any]]]) -> float:
    """Rows per second of asyncpg's COPY of the same rows into a sighting-shaped table."""
    connection = await connect(url)
    try:
        await connection.execute(
            "CREATE TABLE copied (LIKE sightings INCLUDING DEFAULTS INCLUDING INDEXES)"
        )
        columns = [
            "id",
            "claim_id",
            "outlet_id",
            "url",
            "canonical_url",
            "published_at",
            "stance",
            "title",
        ]
        records = [
            (
                f"{n:036d}",
                f"{hash(item['claim']['statement']) % 10**12:036d}",
                item["outlet"][:36],
                item["url"],
                item["url"],
                datetime.fromisoformat(item["published_at"]),
                item["stance"],
                item.get("title"),
            )
            for n, item in enumerate(i for items in work for i in items)
        ]
        defaults = await connection.fetch(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'copied' "
            "AND is_nullable = 'NO' AND column_default IS NULL"
        )
        missing = [row["column_name"] for row in defaults if row["column_name"] not in columns]
        now = datetime.now(UTC)
        filler = {
            "published_at_precision": "exact",
            "recorded_at": now,
            "recorded_by": "bench",
            "revision": 1,
            "revised_at": now,
            "revised_by": "bench",
            "valid_from": now,
        }
        extra = [name for name in missing if name in filler]
        rows = [(*record, *(filler[name] for name in extra)) for record in records]
        started = time.perf_counter()
        await connection.copy_records_to_table("copied", records=rows, columns=columns + extra)
        return len(rows) / (time.perf_counter() - started)
    finally:
        await connection.execute("DROP TABLE IF EXISTS copied")
        await connection.close()


def paraphrases(count: int) -> list[tuple[str, str]]:
    pairs: dict[str, str] = {}
    lines = (Path(__file__).parent / "match_eval.jsonl").read_text().splitlines()
    for line in lines:
        case = json.loads(line)
        if case["lang"] not in ("en",) and case["claim"] not in pairs:
            pairs[case["claim"]] = case["query"]
    return list(pairs.items())[:count]


async def match_lag(http: httpx.AsyncClient, count: int) -> list[float]:
    """Seconds from a claim's recording until its paraphrase in another language matches it."""
    lags = []
    for n, (statement, query) in enumerate(paraphrases(count)):
        recorded = await http.post(
            "/v1/sightings",
            json={
                "claim": {"statement": statement},
                "outlet": {"slug": "lag-desk", "name": "Lag desk", "kind": "news_outlet"},
                "url": f"https://example.org/lag/{n}",
                "published_at": START.isoformat(),
                "stance": "reports",
            },
        )
        assert recorded.status_code == 201, recorded.text
        claim_id = recorded.json()["claim_id"]
        started = time.perf_counter()
        while time.perf_counter() - started < 60:
            items = (await http.post("/v1/claims/match", json={"text": query})).json()["items"]
            if items and items[0]["claim"]["id"] == claim_id:
                break
            await asyncio.sleep(0.05)
        lags.append(time.perf_counter() - started)
    return lags


async def run(url: str, args: argparse.Namespace, engine: str) -> None:
    async with serving(url, args.processes) as (servers, pids):
        http = servers[0]
        await create_news_outlets(http, args.outlets)
        # First, while nothing else waits to be embedded: a bulk load queues its claims ahead.
        lags = await match_lag(http, args.pairs)
        timings = await singles(http, args.singles)
        work = batch_rows(args.rows, args.claims, args.outlets)
        before = _cpu(pids)
        sampling = LockWaits(url) if engine == "postgresql" else contextlib.nullcontext()
        async with sampling as waits:
            rate, statuses, took = await batches(servers, work, args.clients)
        used = {name: _used(name, spent, _cpu(pids)) for name, spent in before.items()}
    print(f"database: {engine}")
    for kind, values in timings.items():
        p50, p95 = statistics.median(values) * 1000, _percentile(values, 0.95) * 1000
        print(f"POST /v1/sightings, {kind:15} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms")
    ratio = statistics.median(timings["new claim"]) / statistics.median(timings["existing claim"])
    print(f"new / existing claim, p50:       {ratio:.2f}x (goal: at most 3x)")
    print(
        f"batches: {args.rows} rows, {args.claims} claims, {args.outlets} outlets, "
        f"{args.clients} clients, {args.processes} API process(es): {rate:,.0f} rows/s; "
        f"answers {statuses}; "
        f"batch p50 {statistics.median(took):.2f} s, max {max(took):.2f} s"
    )
    cpu = ", ".join(
        f"{name} {spent / args.rows * 1000:.2f}"
        for name, spent in used.items()
        if spent is not None and (name != "PostgreSQL" or engine == "postgresql")
    )
    print(f"  CPU per row (ms), {os.cpu_count()} cores: {cpu}")
    if waits is not None:
        print(f"  {waits.report()}")
    if engine == "postgresql":
        copied = await raw_copy(url, work)
        print(f"raw COPY of the same rows: {copied:,.0f} rows/s; intake is {rate / copied:.1%}")
    print(
        f"match lag, cross-language paraphrase ({len(lags)}): "
        f"p50 {statistics.median(lags):.2f} s, max {max(lags):.2f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--claims", type=int, default=2000)
    parser.add_argument("--outlets", type=int, default=500)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--singles", type=int, default=100)
    parser.add_argument("--pairs", type=int, default=10)
    parser.add_argument("--processes", type=int, default=1)
    parser.add_argument("--postgres", action="store_true")
    args = parser.parse_args()
    if args.processes > 1 and not args.postgres:
        parser.error("--processes above 1 needs --postgres: SQLite serves one process")
    if args.postgres:
        admin = os.environ.get("TRACER_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)

        async def on_postgres() -> None:
            async with private_postgres_database(admin) as url:
                await run(url, args, "postgresql")

        asyncio.run(on_postgres())
        return
    with tempfile.TemporaryDirectory() as scratch:
        asyncio.run(run(f"sqlite+aiosqlite:///{Path(scratch) / 'bench.db'}", args, "sqlite"))


if __name__ == "__main__":
    main()
