"""Reads of a past moment on a large claim: alone, and twenty at once beside a plain read.

Serves Tracer as `tracer serve` in a subprocess and builds one claim of 20,000 sightings (300
outlets, a third of them official; each sighting cites one to three of the 200 before it),
beside 100 other claims whose sightings carry past revisions, so the history tables hold more
than the claim under measurement. Then it corrects the claim through the API (titles and
stances of 30 sightings, 6 moved to another claim and 4 withdrawn, the claim's own statement;
each correction counts the claim's chain again, which at this size takes seconds), so that a
moment before the corrections reads from both the live tables and their history. It prints:

(a) `spread`, `chain` and a downstream `trace` from the claim's first sighting, each `?as_of=`
    that moment (a different microsecond each time, so that no read is answered from the
    documents the process keeps), alone: the median and worst of `--samples` reads, beside
    the same read of today (its first read, then the median of reads the process keeps);
(b) for each of the three, twenty such reads at once, and twenty of today at once, while a
    plain `GET /v1/claims/{id}` of another claim is sent every 100 ms: that read's median and
    worst latency, how the twenty were answered (status codes) and when the last one was done.

Run on purpose: `python -m bench.as_of` (SQLite), and with
`TRACER_BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test` also PostgreSQL
(a private database is created and dropped). `--keep DIR` keeps the ledgers built, for runs
that measure again without building (the PostgreSQL database is then left for you to drop).
No ANALYZE is run: the reads must not depend on fresh planner statistics, and the shared
server keeps autovacuum off.
"""

import argparse
import asyncio
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar

import httpx
from sqlalchemy import insert, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims import chain_counts
from app.claims.normalize import fingerprint
from app.config import Settings
from app.db import create_engine
from app.enums import CitationBasis
from app.migrate import upgrade_to_head
from app.models import Citation, Claim, Outlet, Sighting, sighting_versions
from bench.harness import new_postgres_database, private_postgres_database, wait_until_answering

KEY = "trk_bench_admin_key"
T = TypeVar("T")
SIZE = 20_000
OUTLETS = 300
OFFICIAL_EVERY = 3
CITED_WINDOW = 200
THROUGH_API = 1_000  # the last sightings go through the batch endpoint, which counts them
OTHER_CLAIMS = 100
OTHER_SIGHTINGS = 100  # per other claim; a tenth of them with three past revisions
CORRECTED = 30
MOVED = 6
WITHDRAWN = 4
CONCURRENT = 20
START = datetime(2022, 8, 1, tzinfo=UTC)
SPREADING = ["asserts", "reports", "reports", "questions"]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _item(k: int, claim_id: str, rng: random.Random) -> dict[str, Any]:
    outlet = rng.randrange(OUTLETS)
    item: dict[str, Any] = {
        "ref": str(k),
        "claim_id": claim_id,
        "outlet": f"outlet-{outlet}",
        "url": f"https://example.org/{k}",
        "published_at": (START + timedelta(minutes=k)).isoformat(),
        "stance": "denies" if outlet % OFFICIAL_EVERY == 0 else rng.choice(SPREADING),
        "cites": [],
    }
    if k and rng.random() > 0.01:  # one in a hundred starts afresh, an origin
        earlier = range(max(0, k - CITED_WINDOW), k)
        item["cites"] = sorted(rng.sample(earlier, min(len(earlier), rng.randint(1, 3))))
    return item


def _stamp() -> dict[str, str]:
    return {"recorded_by": "bench", "revised_by": "bench"}


async def _write_directly(
    url: str, items: list[dict[str, Any]], ids: list[str], outlet_ids: dict[str, str]
) -> None:
    """The claim's first sightings and their citations as rows, counted as recording counts."""
    rows, citations = [], []
    for item in items:
        sighting_id = str(uuid.uuid4())
        ids.append(sighting_id)
        rows.append(
            {
                "id": sighting_id,
                "claim_id": item["claim_id"],
                "outlet_id": outlet_ids[item["outlet"]],
                "url": item["url"],
                "published_at": datetime.fromisoformat(item["published_at"]),
                "stance": item["stance"],
                **_stamp(),
            }
        )
        citations += [
            {"citing_id": sighting_id, "cited_id": ids[j], "basis": CitationBasis.cites}
            for j in item["cites"]
        ]
    engine = create_engine(Settings(database_url=url))
    async with AsyncSession(engine) as session, session.begin():
        for start in range(0, len(rows), 5000):
            await session.execute(insert(Sighting), rows[start : start + 5000])
        for start in range(0, len(citations), 5000):
            await session.execute(insert(Citation), citations[start : start + 5000])
        await chain_counts.recount(session, items[0]["claim_id"])
    await engine.dispose()


async def _other_claims(url: str) -> None:
    """Claims beside the one measured, a tenth of whose sightings have past revisions."""
    engine = create_engine(Settings(database_url=url))
    rng = random.Random(5)
    async with AsyncSession(engine) as session, session.begin():
        outlet_ids = list((await session.scalars(select(Outlet.id))).all())
        for first in range(0, OTHER_CLAIMS, 50):
            claims, sightings, versions = [], [], []
            for n in range(first, first + 50):
                statement = f"another claim {n}"
                claim_id = str(uuid.uuid4())
                claims.append(
                    {
                        "id": claim_id,
                        "statement": statement,
                        "normalized": statement,
                        "fingerprint": fingerprint(statement),
                        "tags": [],
                        **_stamp(),
                    }
                )
                for k in range(OTHER_SIGHTINGS):
                    row = {
                        "id": str(uuid.uuid4()),
                        "claim_id": claim_id,
                        "outlet_id": rng.choice(outlet_ids),
                        "url": f"https://other.example/{n}/{k}",
                        "published_at": START + timedelta(hours=k),
                        "published_at_precision": "exact",
                        "stance": "reports",
                        "recorded_at": START,
                        **_stamp(),
                        # Written to the history table too, which computes nothing on insert.
                        "canonical_url": f"https://other.example/{n}/{k}",
                    }
                    sightings.append({**row, "valid_from": START + timedelta(days=3)})
                    if rng.random() < 0.1:
                        versions += [
                            {
                                **row,
                                "revision": r + 1,
                                "revised_at": START + timedelta(days=r),
                                "valid_from": START + timedelta(days=r),
                                "valid_to": START + timedelta(days=r + 1),
                            }
                            for r in range(3)
                        ]
            await session.execute(insert(Claim), claims)
            await session.execute(insert(Sighting), sightings)
            if versions:
                await session.execute(insert(sighting_versions), versions)
    await engine.dispose()


async def _build(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    """The ledger measured; returns the ids and the moment read."""
    outlet_ids = {}
    for n in range(OUTLETS):
        kind = "official" if n % OFFICIAL_EVERY == 0 else "news_outlet"
        body = {"slug": f"outlet-{n}", "name": f"Outlet {n}", "kind": kind}
        body["country"] = ["RU", "UA", "KP", "US", "DE"][n % 5]
        created = await http.post("/v1/outlets", json=body)
        assert created.status_code == 201, created.text
        outlet_ids[body["slug"]] = created.json()["id"]
    await _other_claims(url)
    claim_id = (await http.post("/v1/claims", json={"statement": "A claim gone viral"})).json()[
        "id"
    ]
    other_id = (await http.post("/v1/claims", json={"statement": "A quieter claim"})).json()["id"]
    rng = random.Random(20221128)
    items = [_item(k, claim_id, rng) for k in range(SIZE)]
    ids: list[str] = []
    await _write_directly(url, items[: SIZE - THROUGH_API], ids, outlet_ids)
    batch = []
    for item in items[SIZE - THROUGH_API :]:
        cites = item.pop("cites")
        item["cites"] = [ids[j] for j in cites if j < len(ids)]
        item["cites_refs"] = [str(j) for j in cites if j >= len(ids)]
        batch.append(item)
    answer = await http.post("/v1/sightings/batch", json={"items": batch, "atomic": True})
    assert answer.status_code == 200, answer.text[:500]
    ids += [result["id"] for result in answer.json()["results"]]
    for k in range(20):
        body = {
            "claim_id": other_id,
            "outlet": f"outlet-{k + 1}",
            "url": f"https://quiet.example/{k}",
            "published_at": (START + timedelta(hours=k)).isoformat(),
            "stance": "reports",
        }
        assert (await http.post("/v1/sightings", json=body)).status_code == 201
    await asyncio.sleep(1.0)
    moment = datetime.now(UTC)
    await asyncio.sleep(1.0)
    await _correct(http, claim_id, other_id, ids, rng)
    return {"claim": claim_id, "other": other_id, "origin": ids[0], "moment": moment}


async def _sent(http: httpx.AsyncClient, method: str, path: str, **sent: Any) -> httpx.Response:
    """The answer to a write, sent again while the database is too busy for it (503): on a
    loaded machine, recounting a claim of this size can outlast the statement timeout."""
    for _ in range(10):
        answer = await http.request(method, path, **sent)
        if answer.status_code != 503:
            break
        await asyncio.sleep(float(answer.headers.get("Retry-After", "1")))
    return answer


async def _correct(
    http: httpx.AsyncClient, claim_id: str, other_id: str, ids: list[str], rng: random.Random
) -> None:
    """Corrections after the moment read: what a read of that moment must undo."""
    picked = rng.sample(ids[1:], CORRECTED + MOVED + WITHDRAWN)
    for n, sighting_id in enumerate(picked[:CORRECTED]):
        change: dict[str, Any] = {"title": f"corrected title {n}"}
        if n % 3 == 0:
            change["stance"] = "questions"
        body = {**change, "reason": "bench correction"}
        answer = await _sent(http, "PATCH", f"/v1/sightings/{sighting_id}", json=body)
        assert answer.status_code == 200, answer.text
    for sighting_id in picked[CORRECTED : CORRECTED + MOVED]:
        moved = {"claim_id": other_id, "reason": "bench move"}
        answer = await _sent(http, "PATCH", f"/v1/sightings/{sighting_id}", json=moved)
        assert answer.status_code == 200, answer.text
    for sighting_id in picked[CORRECTED + MOVED :]:
        reason = {"reason": "bench withdrawal", "relink": "true"}
        answer = await _sent(http, "DELETE", f"/v1/sightings/{sighting_id}", params=reason)
        assert answer.status_code == 204, answer.text
    reworded = {"statement": "A claim gone viral, reworded", "reason": "bench correction"}
    answer = await _sent(http, "PATCH", f"/v1/claims/{claim_id}", json=reworded)
    assert answer.status_code == 200, answer.text


BROKEN = 0  # the status shown for an answer cut off while it was sent


async def _read(http: httpx.AsyncClient, path: str, params: dict[str, str]) -> tuple[int, float]:
    started = time.perf_counter()
    try:
        async with http.stream("GET", path, params=params) as response:
            async for _ in response.aiter_raw():
                pass
    except httpx.TransportError:
        # A streamed answer whose statement timed out is cut off after its headers.
        return BROKEN, time.perf_counter() - started
    return response.status_code, time.perf_counter() - started


class _Moments:
    """A different `as_of` for every read, all within the second before the corrections: the
    process keeps a built document per query string, and each read must build its own."""

    def __init__(self, moment: datetime) -> None:
        self.moment = moment
        self.count = 0

    def __call__(self) -> str:
        self.count += 1
        return (self.moment - timedelta(microseconds=self.count)).isoformat()


def _reads(ledger: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    """Each read, today's form (the past's adds `as_of`)."""
    claim = f"/v1/claims/{ledger['claim']}"
    trace = f"/v1/sightings/{ledger['origin']}/trace"
    return [
        ("spread", f"{claim}/spread", {}),
        ("chain", f"{claim}/chain", {}),
        ("trace", trace, {"direction": "downstream"}),
    ]


def _codes(results: list[tuple[int, float]]) -> str:
    codes: dict[int, int] = {}
    for code, _ in results:
        codes[code] = codes.get(code, 0) + 1
    return ", ".join(
        f"{count}×{code if code != BROKEN else 'cut off'}" for code, count in sorted(codes.items())
    )


async def _alone(
    http: httpx.AsyncClient, ledger: dict[str, Any], moments: _Moments, samples: int
) -> None:
    print(
        f"alone, {samples} each; today's chain and spread are kept by the process once built, "
        "so its first read is shown apart\n"
    )
    print("| read | as_of: statuses | as_of: p50 | as_of: max | today: first | today: p50 |")
    print("|---|---|---:|---:|---:|---:|", flush=True)
    for name, path, today in _reads(ledger):
        past = [await _read(http, path, {**today, "as_of": moments()}) for _ in range(samples)]
        now = [await _read(http, path, today) for _ in range(samples + 1)]
        seconds = [s for _, s in past]
        print(
            f"| {name} | {_codes(past)} | {statistics.median(seconds):.2f} s "
            f"| {max(seconds):.2f} s | {now[0][1]:.2f} s "
            f"| {statistics.median(s for _, s in now[1:]):.3f} s |",
            flush=True,
        )


async def _beside(http: httpx.AsyncClient, ledger: dict[str, Any], moments: _Moments) -> None:
    print(
        f"\n{CONCURRENT} reads at once (each as_of a different moment, or all of today), "
        "while a plain read of another claim is sent every 100 ms\n"
    )
    print(
        f"| {CONCURRENT} at once | their statuses | last one done | plain read: median "
        "| plain read: worst | plain reads |"
    )
    print("|---|---|---:|---:|---:|---:|", flush=True)
    plain = f"/v1/claims/{ledger['other']}"
    for name, path, today in _reads(ledger):
        for past in (True, False):
            started = time.perf_counter()
            heavy = [
                asyncio.create_task(
                    _read(http, path, {**today, "as_of": moments()} if past else today)
                )
                for _ in range(CONCURRENT)
            ]
            latencies: list[float] = []
            while not all(task.done() for task in heavy):
                code, seconds = await _read(http, plain, {})
                assert code == 200, code
                latencies.append(seconds)
                await asyncio.sleep(0.1)
            results = [task.result() for task in heavy]
            last = time.perf_counter() - started
            shown = f"{name}{' as_of' if past else ', today'}"
            print(
                f"| {shown} | {_codes(results)} | {last:.1f} s "
                f"| {statistics.median(latencies or [0]):.3f} s "
                f"| {max(latencies or [0]):.3f} s | {len(latencies)} |",
                flush=True,
            )


@asynccontextmanager
async def _client(base: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the server at `base`, once it is ready."""
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=CONCURRENT + 5)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=300, limits=limits
    ) as http:
        await wait_until_answering(http, "/readyz", seconds=60)
        yield http


async def _built(base: str, url: str) -> dict[str, Any]:
    async with _client(base) as http:
        started = time.perf_counter()
        ledger = await _build(http, url)
        print(f"(ledger built in {time.perf_counter() - started:.0f} s)\n", flush=True)
        return {**ledger, "moment": ledger["moment"].isoformat()}


async def _measured(base: str, ledger: dict[str, Any], samples: int, beside: bool) -> None:
    async with _client(base) as http:
        moments = _Moments(datetime.fromisoformat(ledger["moment"]))
        await _alone(http, ledger, moments, samples)
        if beside:
            await _beside(http, ledger, moments)


def _serving(url: str, run: Callable[[str], T], **settings: str) -> T:
    """`run(base URL)` while `tracer serve` serves the database at `url`."""
    port = _free_port()
    env = {
        **os.environ,
        "TRACER_DATABASE_URL": url,
        "TRACER_BOOTSTRAP_ADMIN_KEY": KEY,
        # The benchmark's own requests are not what is measured.
        "TRACER_RATE_LIMIT": "0",
        "TRACER_CAPTURE": "false",
        **settings,
    }
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile() as log:
        # The server's log goes to a file: a pipe nobody reads fills up and stalls the server.
        server = subprocess.Popen(
            command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
            return run(f"http://127.0.0.1:{port}")
        finally:
            server.terminate()
            server.wait(timeout=60)


def _run(name: str, url: str, kept: Path | None, samples: int, beside: bool) -> None:
    async def migrate() -> None:
        engine = create_engine(Settings(database_url=url))
        await upgrade_to_head(engine)
        await engine.dispose()

    asyncio.run(migrate())
    print(f"\n{name}: one claim of {SIZE:,} sightings, read as of a moment before corrections")
    if kept is not None and kept.exists():
        ledger = json.loads(kept.read_text())
        print("(the ledger kept by an earlier run)\n", flush=True)
    else:
        # Built by a server of its own, whose statements may run long: each correction counts
        # the claim's chain again, which on a loaded machine can outlast the usual timeout.
        ledger = _serving(
            url,
            lambda base: asyncio.run(_built(base, url)),
            TRACER_STATEMENT_TIMEOUT_SECONDS="300",
        )
        if kept is not None:
            kept.write_text(json.dumps(ledger))
    # Measured by a server as configured by default.
    _serving(url, lambda base: asyncio.run(_measured(base, ledger, samples, beside)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql", help="sqlite and/or postgresql")
    parser.add_argument("--samples", type=int, default=5, help="reads of each alone")
    parser.add_argument("--alone", action="store_true", help="skip the reads at once")
    parser.add_argument(
        "--keep",
        type=Path,
        help="a folder keeping the ledgers built (the SQLite file, the PostgreSQL database's "
        "name) for later runs given the same folder; drop the database yourself when done",
    )
    arguments = parser.parse_args()
    engines, keep = arguments.engines.split(","), arguments.keep
    measure = {"samples": arguments.samples, "beside": not arguments.alone}
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as folder:
            database = (keep or Path(folder)) / "as_of.db"
            kept = keep / "sqlite.json" if keep else None
            _run("sqlite", f"sqlite+aiosqlite:///{database}", kept, **measure)
    admin_url = os.environ.get("TRACER_BENCH_POSTGRES_URL")
    if "postgresql" in engines and admin_url and keep:
        kept = keep / "postgresql.json"
        named = keep / "postgresql.url"
        if not named.exists():
            named.write_text(asyncio.run(new_postgres_database(admin_url, "asof_bench")))
        _run("postgresql", named.read_text(), kept, **measure)
    elif "postgresql" in engines and admin_url:

        async def fresh() -> None:
            async with private_postgres_database(admin_url, "asof_bench") as url:
                await asyncio.to_thread(_run, "postgresql", url, None, **measure)

        asyncio.run(fresh())
    elif "postgresql" in engines:
        print("(set TRACER_BENCH_POSTGRES_URL to also measure PostgreSQL)")


if __name__ == "__main__":
    main()
