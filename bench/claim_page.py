"""How long the claim page takes for chains of 10, 1,000 and 100,000 sightings.

Run on purpose: `python -m bench.claim_page` (SQLite; `--sizes 10,1000` for fewer), and with
`TRACER_BENCH_POSTGRES_URL=postgresql+asyncpg://postgres@127.0.0.1:5432/test` PostgreSQL too.
For each size it prints the server's time to answer `/ui/claims/{id}` (median over real HTTP on
127.0.0.1) and, in Debian's Chromium, the time from navigation to a painted timeline: the first
frame after the whole SVG is in the document. Chains past the timeline's mark limit are drawn
aggregated. Goals: under 1 s at 1,000 sightings, under 3 s at 100,000.
"""

import argparse
import asyncio
import os
import random
import re
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert
from sqlalchemy.engine import make_url

from app.claims import chain_counts
from app.claims.normalize import fingerprint
from app.claims.projection import refresh_claim
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.enums import CitationBasis, OutletKind, Precision, Stance
from app.migrate import upgrade_to_head
from app.models import Citation, Claim, Outlet, Sighting
from app.transactions import transaction
from bench.harness import _admin
from tests.ui.browser import CHROMIUM_ARGS, chromium_path, serve

ADMIN = "bench-admin-key"
START = datetime(2022, 8, 1, tzinfo=UTC)
SIZES = [10, 1_000, 100_000]
# Runs the page after every frame until the timeline's closing neighbour is in the document.
PAINT_PROBE = """
(() => {
  const seen = () => document.getElementById("mark-details");
  const stamp = () => requestAnimationFrame(() => setTimeout(() => {
    window.__timelinePainted = performance.now();
  }, 0));
  const observer = new MutationObserver(() => {
    if (seen()) { observer.disconnect(); stamp(); }
  });
  observer.observe(document, { childList: true, subtree: true });
})();
"""


def _revision() -> dict[str, Any]:
    """What every versioned row carries: its first revision, by the benchmark."""
    return {"recorded_by": "bench", "revised_at": START, "revised_by": "bench", "valid_from": START}


def _chain_rows(size: int, rng: random.Random) -> tuple[list[dict[str, Any]], ...]:
    """An outlet pool, a claim and a chain of `size` sightings spreading over six weeks."""
    pool = max(4, min(size // 20, 2_000))
    outlets = [
        {
            "id": str(uuid.uuid4()),
            "slug": f"outlet-{size}-{n}",
            "name": f"Outlet {n}",
            "kind": OutletKind.official if n == 0 else rng.choice(list(OutletKind)[:4]),
            "aliases": [],
            "search_text": f"outlet-{size}-{n}",
            **_revision(),
        }
        for n in range(pool)
    ]
    statement = f"the claim of {size} sightings"
    claim = {
        "id": str(uuid.uuid4()),
        "statement": statement,
        "normalized": statement,
        "fingerprint": fingerprint(statement),
        "tags": [],
        **_revision(),
    }
    sightings, citations = [], []
    span = timedelta(days=42)
    denial_at = size * 4 // 10
    for k in range(size):
        sid = str(uuid.uuid4())
        denial = k == denial_at
        sightings.append(
            {
                "id": sid,
                "claim_id": claim["id"],
                "outlet_id": outlets[0 if denial else 1 + k % (pool - 1)]["id"],
                "url": f"https://chain.example/{k}",
                "published_at": START + span * k / size,
                "published_at_precision": Precision.approximate if k % 7 == 3 else Precision.exact,
                "stance": Stance.denies if denial else rng.choice([Stance.reports, Stance.asserts]),
                **_revision(),
            }
        )
        if k:
            for cited in {rng.randrange(max(0, k - 50), k), rng.randrange(k)}:
                citations.append(
                    {"citing_id": sid, "cited_id": sightings[cited]["id"], "basis": "cites"}
                )
    for row in citations:
        row["basis"] = CitationBasis.cites
    return outlets, [claim], sightings, citations


async def _seed(url: str, size: int) -> str:
    engine = create_engine(Settings(database_url=url))
    outlets, claims, sightings, citations = _chain_rows(size, random.Random(size))
    async with engine.begin() as connection:
        await connection.execute(insert(Outlet), outlets)
        await connection.execute(insert(Claim), claims)
        for start in range(0, len(sightings), 5_000):
            await connection.execute(insert(Sighting), sightings[start : start + 5_000])
        for start in range(0, len(citations), 5_000):
            await connection.execute(insert(Citation), citations[start : start + 5_000])
    async with transaction(create_sessionmaker(engine)) as session:
        await chain_counts.recount(session, claims[0]["id"])
        await refresh_claim(session=session, claim_id=claims[0]["id"])
    await engine.dispose()
    return str(claims[0]["id"])


def _session_cookie(base_url: str) -> str:
    with httpx.Client(base_url=base_url, timeout=120) as http:
        page = http.get("/ui/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        assert token
        http.post("/ui/login", data={"api_key": ADMIN, "csrf_token": token.group(1)})
        return str(http.cookies["tracer_session"])


def _server_times(base_url: str, cookie: str, path: str, samples: int) -> tuple[float, int]:
    times = []
    with httpx.Client(base_url=base_url, cookies={"tracer_session": cookie}, timeout=120) as http:
        for _ in range(samples):
            started = time.perf_counter()
            answer = http.get(path)
            times.append(time.perf_counter() - started)
            assert answer.status_code == 200, answer.status_code
    return statistics.median(times), len(answer.content)


def _painted(browser: Any, base_url: str, cookie: str, path: str, samples: int) -> float:
    times = []
    for _ in range(samples):
        context = browser.new_context(base_url=base_url)
        context.add_cookies([{"name": "tracer_session", "value": cookie, "url": base_url + "/ui"}])
        page = context.new_page()
        page.add_init_script(PAINT_PROBE)
        page.goto(path, wait_until="commit", timeout=120_000)
        # Polled from here: a predicate run inside the page would need eval, which the CSP bars.
        painted = None
        deadline = time.monotonic() + 120
        while painted is None and time.monotonic() < deadline:
            painted = page.evaluate("() => window.__timelinePainted")
            time.sleep(0.01)
        assert painted is not None, "the timeline was never painted"
        times.append(painted / 1000)
        context.close()
    return statistics.median(times)


def _measure(name: str, url: str, sizes: list[int], browser: Any) -> None:
    print(f"{name}: the claim page, server time (median over real HTTP) and time to a painted")
    print("  timeline in Chromium (median, from navigation start)")
    print(f"  {'sightings':>10} {'server':>9} {'painted':>9} {'page':>9}  drawn")
    for size in sizes:
        claim_id = _in_thread(asyncio.run, _seed(url, size))
        settings = Settings(database_url=url, bootstrap_admin_key=ADMIN, dispatch_in_app=False)
        with serve(settings) as base_url:
            cookie = _session_cookie(base_url)
            path = f"/ui/claims/{claim_id}"
            samples = 3 if size >= 100_000 else 9
            server, page_bytes = _server_times(base_url, cookie, path, samples)
            painted = _painted(browser, base_url, cookie, path, max(1, samples // 3))
        drawn = "aggregated" if size > 500 else "mark by mark"
        print(
            f"  {size:>10,} {server * 1000:>7.0f}ms {painted * 1000:>7.0f}ms "
            f"{page_bytes / 1024:>7.0f}KB  {drawn}"
        )


def _in_thread(function: Any, *args: Any) -> Any:
    """Database work beside Playwright, whose sync API holds this thread's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(function, *args).result()


def _migrate(url: str) -> None:
    async def run() -> None:
        engine = create_engine(Settings(database_url=url))
        await upgrade_to_head(engine)
        await engine.dispose()

    _in_thread(asyncio.run, run())


@contextmanager
def _postgres(admin_url: str) -> Iterator[str]:
    name = f"tracer_bench_{uuid.uuid4().hex[:8]}"
    _in_thread(asyncio.run, _admin(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        _in_thread(asyncio.run, _admin(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def main() -> None:
    parser = argparse.ArgumentParser(description="The claim page's render and paint times.")
    parser.add_argument("--sizes", default=",".join(str(s) for s in SIZES))
    sizes = [int(s) for s in parser.parse_args().sizes.split(",")]
    path = chromium_path()
    if path is None:
        raise SystemExit("Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
        browser = playwright.chromium.launch(executable_path=str(path), args=CHROMIUM_ARGS)
        url = f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}"
        _migrate(url)
        _measure("sqlite", url, sizes, browser)
        admin_url = os.environ.get("TRACER_BENCH_POSTGRES_URL")
        if admin_url:
            with _postgres(admin_url) as postgres_url:
                _migrate(postgres_url)
                _measure("postgresql", postgres_url, sizes, browser)
        else:
            print("(set TRACER_BENCH_POSTGRES_URL to also measure PostgreSQL)")
        browser.close()


if __name__ == "__main__":
    main()
