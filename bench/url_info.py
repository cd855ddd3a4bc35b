"""`POST /v1/url-info` latency on a local page: what pasting a URL into the form costs.

    python -m bench.url_info [--requests 200] [--concurrency 1] [--kib 80]

Serves one news article of about `--kib` KiB (headline, JSON-LD date, navigation, thirty
paragraphs, a footer) from a server on 127.0.0.1, loads the worked example into a private
SQLite database, and posts url-info for the article through the whole app (middleware,
authentication, fetch, page reading, outlet, sightings and claim matching), `--concurrency`
requests at a time. Prints p50, p95 and max in milliseconds (goal: p95 at most 300 ms).
"""

import argparse
import asyncio
import json
import statistics
import tempfile
import time
from pathlib import Path

import httpx
from asgi_lifespan import LifespanManager

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.demo import loader as demo
from app.main import create_app
from app.migrate import upgrade_to_head

ADMIN_KEY = "trk_bench_admin_key"
STATEMENT = "North Korea offered to send up to 100,000 troops to fight for the DPR and LPR"
PARAGRAPH = (
    "<p>According to the channel, the DPRK made it clear through diplomatic channels that it "
    "was ready to help the republics with military force, up to 100 thousand men in ground "
    "units, as volunteers or under an alliance agreement; the claim travelled from there to "
    "talk shows, foreign outlets and Ukrainian media before the ministry called it a fake.</p>"
)


def article(kib: int) -> bytes:
    date = json.dumps({"@type": "NewsArticle", "datePublished": "2022-08-25T09:30:00+03:00"})
    nav = "".join(f'<li><a href="/section/{n}">Section {n}</a></li>' for n in range(60))
    head = (
        f'<!doctype html><html lang="en"><head><title>{STATEMENT}</title>'
        f'<meta property="og:site_name" content="New Eastern Outlook">'
        f'<script type="application/ld+json">{date}</script></head><body>'
        f"<nav><ul>{nav}</ul></nav><article><h1>{STATEMENT}</h1>"
    )
    body = head + PARAGRAPH * 30 + "</article>"
    footer = "<footer>" + "<p>Related: another story of the week.</p>" * 10 + "</footer>"
    padding = max(0, kib * 1024 - len(body) - len(footer))
    return (body + footer + f"<!-- {'x' * padding} --></body></html>").encode()


async def serve(page: bytes) -> tuple[asyncio.Server, str]:
    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.readline() not in (b"\r\n", b""):
            pass
        head = (
            "HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n"
            f"content-length: {len(page)}\r\nconnection: close\r\n\r\n"
        )
        writer.write(head.encode() + page)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    return server, f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"


async def run(requests: int, concurrency: int, kib: int) -> None:
    server, base = await serve(article(kib))
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            database_url=f"sqlite+aiosqlite:///{Path(folder) / 'bench.db'}",
            bootstrap_admin_key=ADMIN_KEY,
            admin_key_file=Path(folder) / "admin-key",
            rate_limit=0,
            fetch_allow_private=True,
            # url-info fetches in the request; background captures of the demo's real URLs
            # would reach for the web, which a benchmark must not.
            capture=False,
        )
        engine = create_engine(settings)
        await upgrade_to_head(engine)
        async with create_sessionmaker(engine)() as session, session.begin():
            await demo.load(session=session)
        await engine.dispose()
        app = create_app(settings)
        async with (
            LifespanManager(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://tracer.bench",
                headers={"Authorization": f"Bearer {ADMIN_KEY}"},
                timeout=30,
            ) as client,
        ):
            url = f"{base}/2022/08/25/troops/"
            first = await client.post("/v1/url-info", json={"url": url})
            first.raise_for_status()
            shown = first.json()
            assert shown["page"]["title"] == STATEMENT, shown
            assert shown["matches"], "the article should match the worked example's claim"
            timings: list[float] = []
            gate = asyncio.Semaphore(concurrency)

            async def one() -> None:
                async with gate:
                    started = time.perf_counter()
                    response = await client.post("/v1/url-info", json={"url": url})
                    timings.append((time.perf_counter() - started) * 1000)
                    response.raise_for_status()

            await asyncio.gather(*(one() for _ in range(requests)))
    server.close()
    timings.sort()
    p95 = timings[max(0, round(len(timings) * 0.95) - 1)]
    print(
        f"url-info on a {len(article(kib)) // 1024} KiB local article, {requests} requests, "
        f"{concurrency} at a time: p50 {statistics.median(timings):.0f} ms, "
        f"p95 {p95:.0f} ms, max {timings[-1]:.0f} ms (goal: p95 <= 300 ms)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--kib", type=int, default=80)
    options = parser.parse_args()
    asyncio.run(run(options.requests, options.concurrency, options.kib))


if __name__ == "__main__":
    main()
