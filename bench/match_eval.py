"""Recall of POST /v1/claims/match on bench/match_eval.jsonl.

Each line pairs a query with the statement of the claim it should find, with the query's
language and how it differs from the statement (wording, word order, number format, case,
diacritics, or another language altogether). Every distinct statement is recorded as a claim
(statements only: no summaries or sightings, the hardest case), then each query is asked.
`--distractors N` first records N made-up claims drawn from the same words, to see recall and
the time a match takes when the ledger is large.
Run: `python -m bench.match_eval [--distractors N] [--show-misses]`
"""

import argparse
import asyncio
import json
import random
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager

from app.auth.service import COMMAND_LINE
from app.claims import service as claims
from app.claims.schemas import ClaimCreate
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.migrate import upgrade_to_head

EVAL_SET = Path(__file__).with_name("match_eval.jsonl")
KEY = "trk_bench_admin_key"


async def _add_distractors(engine: Any, rows: list[dict[str, Any]], count: int) -> None:
    """Made-up claims that reuse the evaluated claims' words, so they compete for every query."""
    vocabulary = sorted({w for row in rows for w in row["claim"].split() if len(w) > 2})
    rng = random.Random(7)
    sessionmaker = create_sessionmaker(engine)
    for start in range(0, count, 1000):
        async with sessionmaker() as session, session.begin():
            for n in range(start, min(start + 1000, count)):
                statement = " ".join(rng.sample(vocabulary, 8)) + f" (distractor {n})"
                await claims.get_or_create(
                    session=session,
                    data=ClaimCreate(statement=statement),
                    loc=[],
                    actor=COMMAND_LINE,
                )


async def _evaluate(
    rows: list[dict[str, Any]], database_url: str, distractors: int, timings: list[float]
) -> list[tuple[int | None, Any]]:
    engine = create_engine(Settings(database_url=database_url))
    await upgrade_to_head(engine)
    await _add_distractors(engine, rows, distractors)
    await engine.dispose()
    app = create_app(Settings(database_url=database_url, bootstrap_admin_key=KEY))
    ranks: list[tuple[int | None, Any]] = []
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://tracer.bench",
            headers={"Authorization": f"Bearer {KEY}"},
        ) as http,
    ):
        ids: dict[str, str] = {}
        for statement in sorted({row["claim"] for row in rows}):
            created = await http.post("/v1/claims", json={"statement": statement})
            ids[statement] = created.json()["id"]
        for row in rows:
            started = time.perf_counter()
            found = await http.post("/v1/claims/match", json={"text": row["query"], "limit": 3})
            timings.append(time.perf_counter() - started)
            items = found.json()["items"]
            ranked = [item["claim"]["id"] for item in items]
            rank = ranked.index(ids[row["claim"]]) + 1 if ids[row["claim"]] in ranked else None
            ranks.append((rank, items[0] if items else None))
    return ranks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--distractors", type=int, default=0)
    args = parser.parse_args()
    rows = [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]
    timings: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        url = f"sqlite+aiosqlite:///{Path(scratch) / 'eval.db'}"
        ranks = asyncio.run(_evaluate(rows, url, args.distractors, timings))

    groups: dict[str, list[int | None]] = defaultdict(list)
    for row, (rank, _) in zip(rows, ranks, strict=True):
        groups["all"].append(rank)
        groups[f"variation: {row['variation']}"].append(rank)
        groups[f"language: {row['lang']}"].append(rank)
        across = row["variation"] == "cross-language"
        groups["another language" if across else "same language"].append(rank)
    claims = len({row["claim"] for row in rows})
    print(f"{len(rows)} queries, {claims} claims ({EVAL_SET.name}), {args.distractors} distractors")
    print(f"median time per match: {statistics.median(timings) * 1000:.1f} ms")
    print(f"{'':28} {'n':>4} {'recall@1':>9} {'recall@3':>9}")
    for name in sorted(groups, key=lambda g: (":" in g, g != "all", g)):
        found = groups[name]
        at1 = sum(1 for r in found if r == 1) / len(found)
        at3 = sum(1 for r in found if r is not None and r <= 3) / len(found)
        print(f"{name:28} {len(found):>4} {at1:>9.3f} {at3:>9.3f}")
    if args.show_misses:
        for row, (rank, top) in zip(rows, ranks, strict=True):
            if rank != 1:
                shown = f"{top['claim']['statement']!r} ({top['score']})" if top else "nothing"
                print(f"\nmissed ({rank=}): {row['query']!r}")
                print(f"  wanted {row['claim']!r}\n  got    {shown}")


if __name__ == "__main__":
    main()
