"""How chain and trace latency change when the database grows 10x around a chain of fixed size.

Run on purpose: `python -m bench.chain_scaling` (SQLite), and with
`TRACER_BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test` also PostgreSQL
(a private database is created and dropped). Figures are compared as ratios within one run.
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

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import insert, text

from app.claims.normalize import fingerprint
from app.config import Settings
from app.db import create_engine
from app.enums import CitationBasis, OutletKind, Stance
from app.main import create_app
from app.migrate import upgrade_to_head
from app.models import Citation, Claim, Outlet, Sighting
from bench.harness import private_postgres_database

CHAIN_LENGTH = 40
SMALL_CLAIMS = 2_000
GROWTH = 10
SIGHTINGS_PER_CLAIM = 10
SAMPLES = 150
ADMIN = "bench-admin-key"
START = datetime(2022, 1, 1, tzinfo=UTC)


def _claim_row(statement: str) -> dict[str, object]:
    normalized = statement.lower()
    return {
        "id": str(uuid.uuid4()),
        "statement": statement,
        "normalized": normalized,
        "fingerprint": fingerprint(normalized),
        "tags": [],
        "recorded_by": "bench",
        "revised_by": "bench",
    }


async def _fill(url: str, outlets: list[str], claims: int, offset: int) -> None:
    """Background claims, each a small chain of its own, written in bulk."""
    engine = create_engine(Settings(database_url=url))
    rng = random.Random(offset)
    async with engine.begin() as connection:
        for start in range(0, claims, 500):
            claim_rows, sighting_rows, citation_rows = [], [], []
            for n in range(start, min(start + 500, claims)):
                claim = _claim_row(f"background claim {offset + n}")
                if n % 2:
                    # Half the background claims are variants, so variant walks have links to skip.
                    claim["variant_of"] = claim_rows[-1]["id"]
                claim_rows.append(claim)
                previous: list[str] = []
                for k in range(SIGHTINGS_PER_CLAIM):
                    sid = str(uuid.uuid4())
                    sighting_rows.append(
                        {
                            "id": sid,
                            "claim_id": claim["id"],
                            "outlet_id": rng.choice(outlets),
                            "url": f"https://bg.example/{offset + n}/{k}",
                            "published_at": START + timedelta(hours=k),
                            "stance": Stance.reports,
                            "recorded_by": "bench",
                            "revised_by": "bench",
                        }
                    )
                    citation_rows += [
                        {"citing_id": sid, "cited_id": p, "basis": CitationBasis.cites}
                        for p in previous
                    ]
                    previous = [sid]
            await connection.execute(insert(Claim), claim_rows)
            await connection.execute(insert(Sighting), sighting_rows)
            await connection.execute(insert(Citation), citation_rows)
    await engine.dispose()


async def _seed(url: str) -> tuple[list[str], str, str]:
    """Outlets and the chain under measurement: outlet ids, claim id, last sighting."""
    engine = create_engine(Settings(database_url=url))
    outlets = [
        {
            "id": str(uuid.uuid4()),
            "slug": f"outlet-{n}",
            "name": f"Outlet {n}",
            "kind": OutletKind.official if n == 0 else OutletKind.news_outlet,
            "aliases": [],
            "search_text": f"outlet-{n}",
            "recorded_by": "bench",
            "revised_by": "bench",
        }
        for n in range(200)
    ]
    claim = _claim_row("the claim under measurement")
    rows, citations, previous = [], [], []
    for k in range(CHAIN_LENGTH):
        sid = str(uuid.uuid4())
        last = k == CHAIN_LENGTH - 1
        rows.append(
            {
                "id": sid,
                "claim_id": claim["id"],
                "outlet_id": outlets[0 if last else 1 + k % 199]["id"],
                "url": f"https://chain.example/{k}",
                "published_at": START + timedelta(hours=k),
                "stance": Stance.denies if last else Stance.reports,
                "recorded_by": "bench",
                "revised_by": "bench",
            }
        )
        citations += [
            {"citing_id": sid, "cited_id": p, "basis": CitationBasis.cites} for p in previous
        ]
        previous = [sid, *previous[:1]]
    async with engine.begin() as connection:
        await connection.execute(insert(Outlet), outlets)
        await connection.execute(insert(Claim), [claim])
        await connection.execute(insert(Sighting), rows)
        await connection.execute(insert(Citation), citations)
    await engine.dispose()
    return [o["id"] for o in outlets], str(claim["id"]), rows[-1]["id"]


async def _measure(url: str, claim_id: str, last_sighting: str) -> tuple[float, float, float]:
    """Median chain, chain-with-variants and upstream-trace latency in ms, over the HTTP API."""
    # Made-up URLs: capturing them would reach for the web.
    app = create_app(Settings(database_url=url, bootstrap_admin_key=ADMIN, capture=False))
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {ADMIN}"},
        ) as http,
    ):
        if url.startswith("postgresql"):
            async with app.state.engine.begin() as connection:
                await connection.execute(text("ANALYZE"))
        chain, variants, trace = [], [], []
        for _ in range(SAMPLES):
            started = time.perf_counter()
            response = await http.get(f"/v1/claims/{claim_id}/chain")
            chain.append(time.perf_counter() - started)
            assert response.status_code == 200 and len(response.json()["nodes"]) == CHAIN_LENGTH
            started = time.perf_counter()
            response = await http.get(
                f"/v1/claims/{claim_id}/chain", params={"include_variants": "true"}
            )
            variants.append(time.perf_counter() - started)
            assert response.status_code == 200 and len(response.json()["nodes"]) == CHAIN_LENGTH
            started = time.perf_counter()
            response = await http.get(f"/v1/sightings/{last_sighting}/trace")
            trace.append(time.perf_counter() - started)
            assert response.status_code == 200
    return tuple(statistics.median(samples) * 1000 for samples in (chain, variants, trace))  # type: ignore[return-value]


async def _run(name: str, url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    await upgrade_to_head(engine)
    await engine.dispose()
    outlet_ids, claim_id, last = await _seed(url)
    await _fill(url, outlet_ids, SMALL_CLAIMS, 0)
    small = await _measure(url, claim_id, last)
    await _fill(url, outlet_ids, SMALL_CLAIMS * (GROWTH - 1), SMALL_CLAIMS)
    large = await _measure(url, claim_id, last)
    rows = SMALL_CLAIMS * SIGHTINGS_PER_CLAIM
    print(f"{name}: a chain of {CHAIN_LENGTH} sightings, median of {SAMPLES} requests each")
    print(f"  {'sightings in db':>16} {'chain':>9} {'+variants':>10} {'trace':>9}")
    for size, figures in ((rows, small), (rows * GROWTH, large)):
        print(f"  {size:>16,} " + " ".join(f"{f:>7.2f}ms" for f in figures))
    ratios = "  ".join(
        f"{label} {b / a:.2f}x"
        for label, a, b in zip(("chain", "+variants", "trace"), small, large, strict=True)
    )
    print(f"  at 10x the data: {ratios}")


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
