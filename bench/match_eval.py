"""How well POST /v1/claims/match finds a claim, on bench/match_eval.jsonl.

Each line pairs a query with the statement of the claim it should find, with the query's
language and how it differs (wording, word order, number format, case, diacritics, or another
language altogether). Lines with `sibling_of` ask for a sibling claim: one built like another
claim of the set but about another entity or number, which must never be called "same" for it.
Every distinct statement is recorded as a claim (statements only: no summaries or sightings,
the hardest case), then each query is asked. `--distractors N` first records N made-up claims
of the same frames in the same five languages (bench/distractors.py).

Reported per language direction (the query's language -> the stored statement's): recall@1,
recall@3, and the false "same" rate (the first match is called "same" but is the wrong claim);
then match latency and CPU time (p50, p95) and the process's peak memory.
Run: `python -m bench.match_eval [--distractors N] [--show-misses]`
"""

import argparse
import asyncio
import json
import resource
import statistics
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from rich.progress import Progress

from app.auth.service import COMMAND_LINE
from app.claims import embeddings, language, matching
from app.claims import service as claims
from app.claims.schemas import ClaimCreate
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.main import create_app
from app.migrate import upgrade_to_head
from bench.distractors import distractors

EVAL_SET = Path(__file__).with_name("match_eval.jsonl")
KEY = "trk_bench_admin_key"
BATCH = 500


async def _record(database_url: str, statements: list[str], label: str) -> dict[str, str]:
    """Record these statements as claims, embedding them a batch at a time; their ids."""
    engine = create_engine(Settings(database_url=database_url))
    await upgrade_to_head(engine)
    sessionmaker = create_sessionmaker(engine)
    ids: dict[str, str] = {}
    with Progress(transient=True) as progress:
        task = progress.add_task(label, total=len(statements))
        for start in range(0, len(statements), BATCH):
            async with sessionmaker() as session, session.begin():
                for statement in statements[start : start + BATCH]:
                    claim, _ = await claims.get_or_create(
                        session=session,
                        data=ClaimCreate(statement=statement),
                        loc=[],
                        actor=COMMAND_LINE,
                    )
                    ids[statement] = claim.id
                await matching.embed_pending(session=session)
            progress.advance(task, len(statements[start : start + BATCH]))
    await engine.dispose()
    return ids


async def _evaluate(
    rows: list[dict[str, Any]],
    settings: Settings,
    count: int,
    timings: list[float],
    cpu_times: list[float],
) -> list[list[dict[str, Any]]]:
    database_url = settings.database_url
    embeddings.configure(model_path=None, threads=settings.embedding_threads)
    await _record(database_url, distractors(count), f"recording {count} distractors")
    ids = await _record(database_url, sorted({row["claim"] for row in rows}), "recording claims")
    app = create_app(settings)
    answers: list[list[dict[str, Any]]] = []
    async with (
        LifespanManager(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://tracer.bench",
            headers={"Authorization": f"Bearer {KEY}"},
        ) as http,
    ):
        # The first match loads the vectors into memory; that is not what a match costs.
        await http.post("/v1/claims/match", json={"text": "warm-up", "limit": 3})
        for row in rows:
            row["claim_id"] = ids[row["claim"]]
            row["sibling_id"] = ids.get(row.get("sibling_of", ""))
            started, cpu = time.perf_counter(), time.process_time()
            found = await http.post("/v1/claims/match", json={"text": row["query"], "limit": 3})
            timings.append(time.perf_counter() - started)
            cpu_times.append(time.process_time() - cpu)
            answers.append(found.json()["items"])
    return answers


def _report(rows: list[dict[str, Any]], answers: list[list[dict[str, Any]]]) -> None:
    groups: dict[str, list[tuple[dict[str, Any], list[dict[str, Any]]]]] = defaultdict(list)
    for row, items in zip(rows, answers, strict=True):
        direction = f"{row['lang']} -> {language.detect(row['claim'])}"
        across = row["lang"] != language.detect(row["claim"])
        for name in ("all", "another language" if across else "same language", direction):
            groups[name].append((row, items))
    print(f"{'':20} {'n':>4} {'recall@1':>9} {'recall@3':>9} {'false same':>11} {'same':>6}")
    for name in sorted(groups, key=lambda g: ("->" in g, g != "all", g)):
        pairs = groups[name]
        ranked = [[i["claim"]["id"] for i in items] for _, items in pairs]
        at1 = sum(
            1 for (row, _), r in zip(pairs, ranked, strict=True) if r[:1] == [row["claim_id"]]
        )
        at3 = sum(1 for (row, _), r in zip(pairs, ranked, strict=True) if row["claim_id"] in r)
        false_same = sum(
            1
            for row, items in pairs
            if items and items[0]["match"] == "same" and items[0]["claim"]["id"] != row["claim_id"]
        )
        same = sum(1 for _, items in pairs if items and items[0]["match"] == "same")
        n = len(pairs)
        print(f"{name:20} {n:>4} {at1 / n:>9.3f} {at3 / n:>9.3f} {false_same / n:>11.3f} {same:>6}")
    siblings = sum(
        1
        for row, items in zip(rows, answers, strict=True)
        for item in items
        if item["match"] == "same"
        and item["claim"]["id"] != row["claim_id"]
        and (
            item["claim"]["id"] == row["sibling_id"] or item["claim"]["statement"] in _of(rows, row)
        )
    )
    print(f'siblings called "same": {siblings}')
    wrong = [
        items[0]["score"]
        for row, items in zip(rows, answers, strict=True)
        if items and items[0]["claim"]["id"] != row["claim_id"]
    ]
    right = [
        items[0]["score"]
        for row, items in zip(rows, answers, strict=True)
        if items and items[0]["claim"]["id"] == row["claim_id"]
    ]
    if wrong:
        print(f"highest score of a wrong first match: {max(wrong):.3f}")
    if right:
        print(
            f"correct first matches scoring >= 0.75: {sum(s >= 0.75 for s in right)}/{len(right)}"
        )


def _calibrate(rows: list[dict[str, Any]], answers: list[list[dict[str, Any]]]) -> None:
    """For each margin, the lowest score threshold at which no wrong first match is "same".

    Run with thresholds at 0, "same" marks the first matches whose numbers do not contradict;
    a threshold pair keeps a first match "same" when its score and its lead clear both.
    """
    firsts = []
    for row, items in zip(rows, answers, strict=True):
        if items and items[0]["match"] == "same":
            lead = items[0]["score"] - (items[1]["score"] if len(items) > 1 else 0.0)
            firsts.append((items[0]["score"], lead, items[0]["claim"]["id"] == row["claim_id"]))
    scores = (0.5, 0.55, 0.6, 0.65, 0.7, 0.75)
    print(f"\nright (wrong) first matches called same, by margin and score; of {len(rows)}")
    print(f"{'margin':>7} {'lowest safe score':>18} " + " ".join(f"{s:>9}" for s in scores))
    for margin in (0.0, 0.02, 0.04, 0.06, 0.08, 0.1, 0.12, 0.15):
        wrong = [s for s, lead, right in firsts if not right and lead >= margin]
        threshold = round(max(wrong, default=0.0) + 0.005, 3)
        cells = []
        for score in scores:
            kept = [right for s, lead, right in firsts if lead >= margin and s >= score]
            cells.append(f"{sum(kept)} ({len(kept) - sum(kept)})")
        print(f"{margin:>7.2f} {threshold:>18.3f} " + " ".join(f"{c:>9}" for c in cells))


def _of(rows: list[dict[str, Any]], row: dict[str, Any]) -> set[str]:
    """The statements of the claims that are siblings of this row's claim."""
    return {r["claim"] for r in rows if r.get("sibling_of") == row["claim"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--show-misses", action="store_true")
    parser.add_argument("--distractors", type=int, default=0)
    parser.add_argument(
        "--database", type=Path, help="SQLite file to keep the ledger in, and reuse if present"
    )
    parser.add_argument(
        "--calibrate",
        action="store_true",
        help="answer with no thresholds and print the thresholds that call no wrong match same",
    )
    args = parser.parse_args()
    rows = [json.loads(line) for line in EVAL_SET.read_text().splitlines() if line.strip()]
    timings: list[float] = []
    cpu_times: list[float] = []
    with tempfile.TemporaryDirectory() as scratch:
        path = args.database or Path(scratch) / "eval.db"
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{path}",
            bootstrap_admin_key=KEY,
            capture=False,  # the sightings' URLs are made up: nothing to fetch from the web
        )
        if args.calibrate:
            settings = settings.model_copy(update={"match_same_score": 0, "match_same_margin": 0})
        answers = asyncio.run(_evaluate(rows, settings, args.distractors, timings, cpu_times))
    claims_count = len({row["claim"] for row in rows})
    print(
        f"{len(rows)} queries, {claims_count} claims ({EVAL_SET.name}), "
        f"{args.distractors} distractors; matcher: {matching.status()['matcher']}"
    )
    _report(rows, answers)
    # CPU time counts every thread of the process: what a match costs whatever else the machine
    # runs, where latency also counts waiting for a core.
    for name, values in (("match latency", timings), ("CPU time per match", cpu_times)):
        p95 = statistics.quantiles(values, n=20)[18]
        print(f"{name}: p50 {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms")
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    if args.calibrate:
        _calibrate(rows, answers)
    if args.show_misses:
        for row, items in zip(rows, answers, strict=True):
            if not items or items[0]["claim"]["id"] != row["claim_id"]:
                top = items[0] if items else None
                shown = (
                    f"{top['claim']['statement']!r} ({top['score']}, {top['match']})"
                    if top
                    else "nothing"
                )
                print(f"\nmissed: {row['query']!r}\n  wanted {row['claim']!r}\n  got    {shown}")


if __name__ == "__main__":
    main()
