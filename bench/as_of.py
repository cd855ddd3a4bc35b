"""Reads of a past moment on a large claim: alone, and twenty at once beside a plain read.

Serves Tracer as `tracer serve` in a subprocess and builds one claim of 20,000 sightings (300
outlets, a third of them official; each sighting cites one to three of the 200 before it),
beside 200 other claims whose sightings carry past revisions, so the history tables hold more
than the claim under measurement. Then it corrects the claim through the API (titles and
stances of 300 sightings, sightings moved to another claim and withdrawn, the claim's own
statement), so that a moment before the corrections reads from both the live tables and their
history. It prints:

(a) `spread`, `chain` and a downstream `trace` from the claim's first sighting, each `?as_of=`
    that moment, alone (median of a few), beside the same read of today;
(b) for each of the three, twenty such reads at once while a plain `GET /v1/claims/{id}` of
    another claim is sent every 100 ms: that read's median and worst latency, and how the
    twenty were answered (status codes) and how long the last of them took.

Run on purpose: `python -m bench.as_of` (SQLite), and with
`TRACER_BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test` also PostgreSQL
(a private database is created and dropped). No ANALYZE is run: the reads must not depend on
fresh planner statistics, and the shared server keeps autovacuum off.
"""

import argparse
import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

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
from bench.harness import private_postgres_database

KEY = "trk_bench_admin_key"
SIZE = 20_000
OUTLETS = 300
OFFICIAL_EVERY = 3
CITED_WINDOW = 200
THROUGH_API = 1_000  # the last sightings go through the batch endpoint, which counts them
OTHER_CLAIMS = 100
OTHER_SIGHTINGS = 100  # per other claim; a tenth of them with three past revisions
CORRECTED = 100
MOVED = 20
WITHDRAWN = 10
CONCURRENT = 20
ALONE_SAMPLES = 1
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


async def _correct(
    http: httpx.AsyncClient, claim_id: str, other_id: str, ids: list[str], rng: random.Random
) -> None:
    """Corrections after the moment read: what a read of that moment must undo."""
    picked = rng.sample(ids[1:], CORRECTED + MOVED + WITHDRAWN)
    for n, sighting_id in enumerate(picked[:CORRECTED]):
        change: dict[str, Any] = {"title": f"corrected title {n}"}
        if n % 3 == 0:
            change["stance"] = "questions"
        answer = await http.patch(
            f"/v1/sightings/{sighting_id}", json={**change, "reason": "bench correction"}
        )
        assert answer.status_code == 200, answer.text
    for sighting_id in picked[CORRECTED : CORRECTED + MOVED]:
        answer = await http.patch(
            f"/v1/sightings/{sighting_id}", json={"claim_id": other_id, "reason": "bench move"}
        )
        assert answer.status_code == 200, answer.text
    for sighting_id in picked[CORRECTED + MOVED :]:
        answer = await http.delete(
            f"/v1/sightings/{sighting_id}", params={"reason": "bench withdrawal", "relink": "true"}
        )
        assert answer.status_code == 204, answer.text
    answer = await http.patch(
        f"/v1/claims/{claim_id}",
        json={"statement": "A claim gone viral, reworded", "reason": "bench correction"},
    )
    assert answer.status_code == 200, answer.text


async def _read(http: httpx.AsyncClient, path: str, params: dict[str, str]) -> tuple[int, float]:
    started = time.perf_counter()
    async with http.stream("GET", path, params=params) as response:
        async for _ in response.aiter_raw():
            pass
    return response.status_code, time.perf_counter() - started


def _reads(ledger: dict[str, Any]) -> list[tuple[str, str, dict[str, str]]]:
    moment = ledger["moment"].isoformat()
    claim = f"/v1/claims/{ledger['claim']}"
    trace = f"/v1/sightings/{ledger['origin']}/trace"
    return [
        ("spread", f"{claim}/spread", {"as_of": moment}),
        ("chain", f"{claim}/chain", {"as_of": moment}),
        ("trace", trace, {"as_of": moment, "direction": "downstream"}),
    ]


async def _alone(http: httpx.AsyncClient, ledger: dict[str, Any]) -> None:
    print("| read | as_of: status | as_of: median | today: median |")
    print("|---|---:|---:|---:|", flush=True)
    for name, path, params in _reads(ledger):
        today = {k: v for k, v in params.items() if k != "as_of"}
        past, now, codes = [], [], set()
        for _ in range(ALONE_SAMPLES):
            code, seconds = await _read(http, path, params)
            codes.add(code)
            past.append(seconds)
            now.append((await _read(http, path, today))[1])
        shown = "/".join(str(c) for c in sorted(codes))
        print(
            f"| {name} | {shown} | {statistics.median(past):.2f} s "
            f"| {statistics.median(now):.2f} s |",
            flush=True,
        )


async def _beside(http: httpx.AsyncClient, ledger: dict[str, Any]) -> None:
    print(
        f"\n| {CONCURRENT} at once | their statuses | last one done | plain read: median "
        "| plain read: worst | plain reads |"
    )
    print("|---|---|---:|---:|---:|---:|", flush=True)
    plain = f"/v1/claims/{ledger['other']}"
    for name, path, params in _reads(ledger):
        started = time.perf_counter()
        heavy = [asyncio.create_task(_read(http, path, params)) for _ in range(CONCURRENT)]
        await asyncio.sleep(0.2)  # let them all start
        latencies: list[float] = []
        while not all(task.done() for task in heavy):
            code, seconds = await _read(http, plain, {})
            assert code == 200, code
            latencies.append(seconds)
            await asyncio.sleep(0.1)
        results = [task.result() for task in heavy]
        last = time.perf_counter() - started
        codes: dict[int, int] = {}
        for code, _ in results:
            codes[code] = codes.get(code, 0) + 1
        shown = ", ".join(f"{count}×{code}" for code, count in sorted(codes.items()))
        print(
            f"| {name} | {shown} | {last:.1f} s | {statistics.median(latencies or [0]):.3f} s "
            f"| {max(latencies or [0]):.3f} s | {len(latencies)} |",
            flush=True,
        )


async def _drive(base: str, url: str) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    limits = httpx.Limits(max_connections=CONCURRENT + 5)
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=300, limits=limits
    ) as http:
        for _ in range(300):
            try:
                if (await http.get("/readyz")).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
        started = time.perf_counter()
        ledger = await _build(http, url)
        print(f"(ledger built in {time.perf_counter() - started:.0f} s)\n", flush=True)
        await _alone(http, ledger)
        await _beside(http, ledger)


def _run(name: str, url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    asyncio.run(upgrade_to_head(engine))
    asyncio.run(engine.dispose())
    port = _free_port()
    env = {
        **os.environ,
        "TRACER_DATABASE_URL": url,
        "TRACER_BOOTSTRAP_ADMIN_KEY": KEY,
        # The benchmark's own requests are not what is measured.
        "TRACER_RATE_LIMIT": "0",
        "TRACER_CAPTURE": "false",
    }
    command = [sys.executable, "-m", "app", "serve", "--host", "127.0.0.1", "--port", str(port)]
    print(f"\n{name}: one claim of {SIZE:,} sightings, read as of a moment before corrections")
    with tempfile.TemporaryDirectory() as folder, tempfile.TemporaryFile() as log:
        # The server's log goes to a file: a pipe nobody reads fills up and stalls the server.
        server = subprocess.Popen(
            command, env=env, cwd=folder, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
            asyncio.run(_drive(f"http://127.0.0.1:{port}", url))
        finally:
            server.terminate()
            server.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="sqlite,postgresql", help="sqlite and/or postgresql")
    engines = parser.parse_args().engines.split(",")
    if "sqlite" in engines:
        with tempfile.TemporaryDirectory() as folder:
            _run("sqlite", f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
    admin_url = os.environ.get("TRACER_BENCH_POSTGRES_URL")
    if "postgresql" in engines and admin_url:

        async def fresh() -> None:
            async with private_postgres_database(admin_url) as url:
                await asyncio.to_thread(_run, "postgresql", url)

        asyncio.run(fresh())
    elif "postgresql" in engines:
        print("(set TRACER_BENCH_POSTGRES_URL to also measure PostgreSQL)")


if __name__ == "__main__":
    main()
