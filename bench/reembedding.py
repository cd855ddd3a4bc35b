"""What the background indexer embeds while claims keep being told: texts, characters and the
model's CPU time, with vectors refined in steps (`vectors.GROWTH`) against embedded again after
every change.

    python -m bench.reembedding [--claims 40] [--batches 15] [--batch 100]

Runs Tracer in this process on a fresh SQLite file. Each round records one batch (titled
sightings of claims picked at random, told inline as bench/intake tells them) and then lets the
indexer catch up, as a background indexer that keeps up with the writers does; a slower one
merges rounds and embeds less in both runs. The same rows go into both runs.
"""

import argparse
import asyncio
import random
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from app.claims import embeddings, indexing, vectors
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.migrate import upgrade_to_head
from bench.harness import create_news_outlets

KEY = "trk_bench_admin_key"
START = datetime(2022, 8, 1, tzinfo=UTC)
OUTLETS = 50


@dataclass
class Embedded:
    texts: int = 0
    chars: int = 0
    seconds: float = 0.0


def _batches(claims: int, batches: int, size: int) -> list[list[dict[str, Any]]]:
    chooser = random.Random(11)
    work = []
    for b in range(batches):
        items = []
        for i in range(size):
            n = b * size + i
            claim = chooser.randrange(claims)
            items.append(
                {
                    "claim": {"statement": f"Bench claim {claim} about the grain corridor"},
                    "outlet": f"outlet-{chooser.randrange(OUTLETS)}",
                    "url": f"https://example.org/{n}",
                    "published_at": (START + timedelta(minutes=n)).isoformat(),
                    "stance": "reports",
                    "title": f"Report {n} on claim {claim} and the ships that left port",
                }
            )
        work.append(items)
    return work


async def _run(work: list[list[dict[str, Any]]], growth: float, folder: Path) -> Embedded:
    url = f"sqlite+aiosqlite:///{folder / f'growth-{growth}.db'}"
    settings = Settings(
        database_url=url,
        bootstrap_admin_key=KEY,
        admin_key_file=folder / f"key-{growth}",
        rate_limit=0,
        index_in_app=False,
        capture=False,
        evidence_store=str(folder / "evidence"),
    )
    engine = create_engine(settings)
    await upgrade_to_head(engine)
    sessionmaker = create_sessionmaker(engine)
    embedded = Embedded()
    encode = embeddings.encode

    async def counting(texts: list[str], *, is_query: bool) -> Any:
        started = time.process_time()
        try:
            return await encode(texts, is_query=is_query)
        finally:
            embedded.seconds += time.process_time() - started
            embedded.texts += len(texts)
            embedded.chars += sum(len(text) for text in texts)

    embeddings.encode = counting  # type: ignore[assignment]
    growth_kept = vectors.GROWTH
    vectors.GROWTH = growth  # type: ignore[misc]
    app = create_app(settings)
    try:
        async with (
            LifespanManager(app, startup_timeout=120),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://tracer.bench",
                headers={"Authorization": f"Bearer {KEY}"},
                timeout=120,
            ) as http,
        ):
            await create_news_outlets(http, OUTLETS)
            for items in work:
                answer = await http.post("/v1/sightings/batch", json={"items": items})
                assert answer.status_code == 200, answer.text
                results = answer.json()["results"]
                assert {r["status"] for r in results} == {"created"}, results[:3]
                await indexing.catch_up(sessionmaker)
    finally:
        embeddings.encode = encode  # type: ignore[assignment]
        vectors.GROWTH = growth_kept  # type: ignore[misc]
        await engine.dispose()
    return embedded


async def main(claims: int, batches: int, size: int) -> None:
    work = _batches(claims, batches, size)
    growth = vectors.GROWTH
    embeddings.current().warm()
    with tempfile.TemporaryDirectory() as folder:
        every = await _run(work, 1.0, Path(folder))
        steps = await _run(work, growth, Path(folder))
    rows = batches * size
    print(f"{rows} titled sightings of {claims} claims in {batches} batches, indexer caught up")
    for name, run in (("after every change", every), (f"in steps ({growth}x)", steps)):
        print(
            f"  embedded {name:<20} {run.texts:6,} texts  {run.chars:10,} chars  "
            f"{run.seconds:7.1f} s of CPU"
        )
    print(f"  steps / every change: {steps.seconds / every.seconds:.0%} of the CPU")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=40)
    parser.add_argument("--batches", type=int, default=15)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    asyncio.run(main(args.claims, args.batches, args.batch))
