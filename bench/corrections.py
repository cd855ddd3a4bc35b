"""What keeping history costs reads: corrected ledgers and `?as_of=` against today's answers.

Run on purpose: `python -m bench.corrections` (SQLite), and with
`TRACER_BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test` also PostgreSQL
(a private database is created and dropped). It reports, as ratios within one run:

(a) chain and denial-report latency once 10% of the sightings carry 3 revisions each, against
    the same ledger before any correction;
(b) a chain read `?as_of=` a moment after every correction, and one read at a moment before
    them, against the current chain.

Two identical chains are recorded and one of them corrected, so that (a) compares them request
by request in the same run, whatever else the machine is doing meanwhile.

No ANALYZE is run: the queries must not depend on fresh planner statistics.
"""

import asyncio
import os
import random
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import insert, select

from app.claims.normalize import fingerprint
from app.config import Settings
from app.db import create_engine
from app.enums import OutletKind, Stance
from app.main import create_app
from app.migrate import upgrade_to_head
from app.models import Claim, Outlet, Sighting, sighting_versions
from bench.harness import private_postgres_database

CHAIN = 500
BACKGROUND_CLAIMS = 2_000
SIGHTINGS_PER_CLAIM = 10
CORRECTED_SHARE = 0.10
REVISIONS = 3
SAMPLES = 40
ADMIN = "bench-admin-key"
START = datetime(2022, 8, 1, tzinfo=UTC)


async def _background(url: str, outlet_ids: list[str]) -> list[dict[str, Any]]:
    """Other claims, written in bulk; returns past revisions for 10% of their sightings."""
    engine = create_engine(Settings(database_url=url))
    rng = random.Random(7)
    stamp = {"recorded_by": "bench", "revised_by": "bench"}
    versions: list[dict[str, Any]] = []
    async with engine.begin() as connection:
        for start in range(0, BACKGROUND_CLAIMS, 500):
            claims, sightings = [], []
            for n in range(start, min(start + 500, BACKGROUND_CLAIMS)):
                statement = f"background claim {n}"
                claim_id = str(uuid.uuid4())
                claims.append(
                    {
                        "id": claim_id,
                        "statement": statement,
                        "normalized": statement,
                        "fingerprint": fingerprint(statement),
                        "tags": [],
                        **stamp,
                    }
                )
                for k in range(SIGHTINGS_PER_CLAIM):
                    row = {
                        "id": str(uuid.uuid4()),
                        "claim_id": claim_id,
                        "outlet_id": rng.choice(outlet_ids),
                        "url": f"https://bg.example/{n}/{k}",
                        "published_at": START + timedelta(hours=k),
                        "published_at_precision": "exact",
                        "stance": Stance.reports,
                        "recorded_at": START,
                        **stamp,
                    }
                    sightings.append(row)
                    if rng.random() < CORRECTED_SHARE:
                        versions += _past_versions(row)
            await connection.execute(insert(Claim), claims)
            await connection.execute(insert(Sighting), sightings)
    await engine.dispose()
    return versions


async def _insert_history(url: str, versions: list[dict[str, Any]]) -> None:
    engine = create_engine(Settings(database_url=url))
    async with engine.begin() as connection:
        for start in range(0, len(versions), 2_000):
            await connection.execute(insert(sighting_versions), versions[start : start + 2_000])
    await engine.dispose()


def _past_versions(row: dict[str, Any]) -> list[dict[str, Any]]:
    moments = [START + timedelta(days=d) for d in range(REVISIONS + 1)]
    return [
        {
            **row,
            "revision": n + 1,
            "revised_at": moments[n],
            "valid_from": moments[n],
            "valid_to": moments[n + 1],
        }
        for n in range(REVISIONS)
    ]


async def _medians_ms(
    http: httpx.AsyncClient, requests: list[tuple[str, dict[str, str]]]
) -> list[float]:
    """Median latency of each request, taken in turns so that load on the machine hits all alike."""
    samples: list[list[float]] = [[] for _ in requests]
    for round_ in range(SAMPLES + 1):
        for timings, (path, params) in zip(samples, requests, strict=True):
            started = time.perf_counter()
            response = await http.get(path, params=params)
            if round_:  # the first round warms caches and the connection pool
                timings.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
    return [statistics.median(timings) * 1000 for timings in samples]


async def _record_chain(http: httpx.AsyncClient, name: str) -> tuple[str, list[str]]:
    """A claim under measurement, through the batch endpoint: a chain with one denial."""
    claim = await http.post("/v1/claims", json={"statement": f"the claim under measurement {name}"})
    claim_id = claim.json()["id"]
    ids: list[str] = []
    for offset in range(0, CHAIN, 250):
        items = [_chain_item(claim_id, k, offset) for k in range(offset, min(CHAIN, offset + 250))]
        if ids:
            # cites_refs reach only within one batch: the next batch's first item cites by id.
            items[0]["cites"] = [ids[-1]]
        answer = await http.post("/v1/sightings/batch", json={"items": items})
        results = answer.json()["results"]
        assert all(r["status"] == "created" for r in results), results[:2]
        ids += [r["id"] for r in results]
    return claim_id, ids


def _chain_item(claim_id: str, k: int, offset: int) -> dict[str, Any]:
    return {
        "claim_id": claim_id,
        "ref": f"s{k}",
        "outlet": "ministry" if k == CHAIN // 2 else f"outlet-{1 + k % 199}",
        "url": f"https://chain.example/{k}",
        "published_at": (START + timedelta(minutes=10 * k)).isoformat(),
        "stance": "denies" if k == CHAIN // 2 else "reports",
        "cites_refs": [f"s{k - 1}"] if k > offset else [],
    }


async def _correct(http: httpx.AsyncClient, ids: list[str]) -> None:
    """10% of the chain's sightings, corrected 3 times each through the API.

    The last correction undoes the first two, so the chain ends as its uncorrected twin reads.
    """
    rng = random.Random(11)
    titles = ["a first title", "a better title", None]
    for sighting_id in rng.sample(ids, int(len(ids) * CORRECTED_SHARE)):
        for n, title in enumerate(titles[:REVISIONS]):
            answer = await http.patch(
                f"/v1/sightings/{sighting_id}",
                json={"title": title, "reason": f"benchmark correction {n}"},
            )
            assert answer.status_code == 200, answer.text


async def _run(name: str, url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    await upgrade_to_head(engine)
    await engine.dispose()
    # Made-up URLs: capturing them would reach for the web.
    app = create_app(Settings(database_url=url, bootstrap_admin_key=ADMIN, capture=False))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {ADMIN}"},
            timeout=120,
        ) as http,
    ):
        outlets = [{"slug": "ministry", "name": "Ministry", "kind": OutletKind.official.value}]
        outlets += [
            {"slug": f"outlet-{n}", "name": f"Outlet {n}", "kind": "news_outlet"}
            for n in range(1, 200)
        ]
        for body in outlets:
            assert (await http.post("/v1/outlets", json=body)).status_code == 201
        corrected, ids = await _record_chain(http, "corrected")
        untouched, _ = await _record_chain(http, "untouched")
        async with app.state.sessionmaker() as session:
            outlet_ids = list(await session.scalars(select(Outlet.id)))
        await _insert_history(url, await _background(url, outlet_ids))
        await asyncio.sleep(0.01)
        before = datetime.now(UTC).isoformat()
        await asyncio.sleep(0.01)
        await _correct(http, ids)
        await asyncio.sleep(0.01)
        after = datetime.now(UTC).isoformat()
        chain = "/v1/claims/{}/chain"
        denial = "/v1/claims/{}/denial"
        figures = await _medians_ms(
            http,
            [
                (chain.format(untouched), {}),
                (chain.format(corrected), {}),
                (denial.format(untouched), {}),
                (denial.format(corrected), {}),
                (chain.format(corrected), {"as_of": after}),
                (chain.format(corrected), {"as_of": before}),
            ],
        )
    clean_chain, revised_chain, clean_denial, revised_denial, now_as_of, past_as_of = figures
    print(
        f"{name}: twin chains of {CHAIN} sightings among "
        f"{BACKGROUND_CLAIMS * SIGHTINGS_PER_CLAIM:,} others, 10% of all sightings revised "
        f"{REVISIONS}x; median of {SAMPLES} requests taken in turns"
    )
    print(
        f"  (a) chain   {clean_chain:8.2f} ms uncorrected, {revised_chain:8.2f} ms corrected: "
        f"{revised_chain / clean_chain:.2f}x"
    )
    print(
        f"      denial  {clean_denial:8.2f} ms uncorrected, {revised_denial:8.2f} ms corrected: "
        f"{revised_denial / clean_denial:.2f}x"
    )
    print(
        f"  (b) chain as_of after the corrections  {now_as_of:8.2f} ms: "
        f"{now_as_of / revised_chain:.2f}x the current chain"
    )
    print(
        f"      chain as_of before them            {past_as_of:8.2f} ms: "
        f"{past_as_of / revised_chain:.2f}x the current chain"
    )


async def main() -> None:
    with tempfile.TemporaryDirectory() as folder:
        await _run("sqlite", f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}")
    admin_url = os.environ.get("TRACER_BENCH_POSTGRES_URL")
    if admin_url:
        async with private_postgres_database(admin_url) as url:
            await _run("postgresql", url)
    else:
        print("(set TRACER_BENCH_POSTGRES_URL to also measure PostgreSQL)")


if __name__ == "__main__":
    asyncio.run(main())
