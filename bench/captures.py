"""Capturing sources: throughput, memory, and what capture costs the recording of a sighting.

    python -m bench.captures [--sightings 500] [--posts 200]

A page server runs in a process of its own, answering on 127.0.0.1 to 127.0.0.50 (fifty hosts,
so the limit of two fetches at once per host is not what is measured). Prints:

- captures per second: `--sightings` recorded sightings across the fifty hosts, captured by one
  worker (fetch, text read, body, WARC file and text stored, evidence and event written);
  goal at least 50 a second on 2 cores;
- memory growth of the capturing process while twenty 20 MiB bodies are captured at once
  (resident set, peak over the level before); goal at most 60 MB;
- `POST /v1/sightings` latency (median and p95 over `--posts` requests) with captures on and
  off, the pages being fetched in the same process meanwhile; goal: on within 1.1x of off.

SQLite in a temporary folder; the evidence store is a temporary folder too.
"""

import argparse
import asyncio
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from sqlalchemy import func, select

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.enums import EvidenceStatus
from app.evidence.models import SightingEvidence
from app.evidence.readers import start_readers
from app.evidence.worker import CaptureWorker, capture_worker
from app.main import create_app
from app.migrate import upgrade_to_head

ADMIN_KEY = "trk_bench_admin_key"
HOSTS = [f"127.0.0.{n}" for n in range(1, 51)]
ARTICLE = (
    "<!doctype html><html><head><title>Troops offered</title></head><body><article>"
    "<h1>Troops offered</h1>"
    + "<p>North Korea is said to have offered up to 100,000 troops, according to a channel "
    "that named no source, and the claim travelled through talk shows and newspapers.</p>"
    * 40
    + "</article></body></html>"
).encode()
HUGE = 20 * 2**20 - 4096


def _serve(port: int, ready: Any) -> None:
    huge_head = b"<!doctype html><html><head><title>Huge</title></head><body>"
    filler = (b"<p>" + b"word " * 200 + b"</p>\n") * 1000

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                line = await reader.readline()
                if not line:
                    return
                path = line.split(b" ")[1] if line.count(b" ") >= 2 else b"/"
                while (await reader.readline()) not in (b"\r\n", b"\n", b""):
                    pass
                size = HUGE if path.startswith(b"/huge") else len(ARTICLE)
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/html; charset=utf-8\r\n"
                    b"content-length: " + str(size).encode() + b"\r\n\r\n"
                )
                if size == len(ARTICLE):
                    writer.write(ARTICLE)
                else:
                    sent = len(huge_head)
                    writer.write(huge_head)
                    while sent < size:
                        piece = filler[: size - sent]
                        writer.write(piece)
                        sent += len(piece)
                        await writer.drain()
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    async def main() -> None:
        server = await asyncio.start_server(answer, HOSTS, port, backlog=1024)
        ready.set()
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * 4096


class PeakRss:
    """Samples this process's resident set every few milliseconds while running."""

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, _rss())
            time.sleep(0.005)

    def __enter__(self) -> "PeakRss":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _settings(folder: Path, **extra: Any) -> Settings:
    return Settings(
        database_url=f"sqlite+aiosqlite:///{folder / 'tracer.db'}",
        bootstrap_admin_key=ADMIN_KEY,
        admin_key_file=folder / "admin-key",
        secret_key_file=folder / "secret-key",
        evidence_store=str(folder / "evidence"),
        fetch_allow_private=True,
        rate_limit=0,
        **extra,
    )


def _items(urls: list[str], tag: str) -> list[dict[str, Any]]:
    return [
        {
            "claim": {"statement": f"Claim {tag} number {n}: troops were offered"},
            "outlet": {"slug": f"outlet-{n % 50}", "name": f"Outlet {n % 50}", "kind": "other"},
            "url": url,
            "published_at": "2022-08-02T12:00:00Z",
            "stance": "reports",
        }
        for n, url in enumerate(urls)
    ]


async def _record(settings: Settings, urls: list[str], tag: str) -> None:
    app = create_app(settings.model_copy(update={"capture": False}))
    async with LifespanManager(app, startup_timeout=60), _client(app) as client:
        for start in range(0, len(urls), 500):
            items = _items(urls[start : start + 500], f"{tag}-{start}")
            response = await client.post("/v1/sightings/batch", json={"items": items})
            assert response.status_code == 200, response.text


def _client(app: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://tracer.bench",
        headers={"Authorization": f"Bearer {ADMIN_KEY}"},
        timeout=60,
    )


class _Idle:
    """Never woken: the worker looks for work every poll interval."""

    def ticket(self) -> asyncio.Event:
        return asyncio.Event()

    async def wait(self, ticket: asyncio.Event, seconds: float) -> bool:
        await asyncio.sleep(seconds)
        return False


async def _capture_all(worker: CaptureWorker, settings: Settings, count: int) -> float:
    """Seconds until `count` more sightings stand captured."""
    engine = create_engine(settings)
    maker = create_sessionmaker(engine)
    while await worker.queue_round():
        pass
    done_statuses = [EvidenceStatus.captured, EvidenceStatus.failed]
    query = select(func.count()).where(SightingEvidence.status.in_(done_statuses))
    async with maker() as session:
        before = await session.scalar(query) or 0
    started = time.perf_counter()
    running = asyncio.create_task(worker.run(_Idle()))
    try:
        while True:
            async with maker() as session:
                if (await session.scalar(query) or 0) - before >= count:
                    break
            await asyncio.sleep(0.05)
    finally:
        worker.stop()
        await running
        await engine.dispose()
    return time.perf_counter() - started


async def throughput_and_memory(folder: Path, port: int, sightings: int) -> None:
    settings = _settings(folder, capture_poll_seconds=0.05, capture_concurrency=32)
    engine = create_engine(settings)
    await upgrade_to_head(engine)
    await engine.dispose()
    urls = [f"http://{HOSTS[n % 50]}:{port}/story/{n}" for n in range(sightings)]
    await _record(settings, urls, "fast")
    engine = create_engine(settings)
    maker = create_sessionmaker(engine)
    async with capture_worker(settings=settings, sessionmaker=maker) as worker:
        # As a serving process does when it starts, before the first sighting comes in.
        await start_readers()
        seconds = await _capture_all(worker, settings, sightings)
    print(f"captures per second, 50 hosts: {sightings / seconds:.1f} (goal >= 50)")
    huge = [f"http://{HOSTS[n]}:{port}/huge/{n}" for n in range(20)]
    await _record(settings, huge, "huge")
    async with capture_worker(settings=settings, sessionmaker=maker) as worker:
        baseline = _rss()
        with PeakRss() as peak:
            await _capture_all(worker, settings, 20)
        growth = (peak.peak - baseline) / 1e6
    await engine.dispose()
    print(f"memory growth capturing twenty 20 MiB bodies at once: {growth:.1f} MB (goal <= 60)")


async def _latencies(settings: Settings, urls: list[str], tag: str) -> list[float]:
    app = create_app(settings)
    timings = []
    # Stopping waits for the capture process, which may still be starting its readers.
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=60),
        _client(app) as client,
    ):
        for n, item in enumerate(_items(urls, tag)):
            started = time.perf_counter()
            response = await client.post("/v1/sightings", json=item)
            timings.append(time.perf_counter() - started)
            assert response.status_code == 201, (n, response.text)
    return timings


async def recording_cost(folder: Path, port: int, posts: int) -> None:
    results: dict[bool, list[float]] = {True: [], False: []}
    for round_number in range(4):
        for capture in (round_number % 2 == 0, round_number % 2 == 1):
            sub = folder / f"latency-{round_number}-{capture}"
            sub.mkdir()
            settings = _settings(sub, capture=capture, capture_poll_seconds=0.05)
            engine = create_engine(settings)
            await upgrade_to_head(engine)
            await engine.dispose()
            urls = [f"http://{HOSTS[n % 50]}:{port}/post/{n}" for n in range(posts // 4)]
            results[capture] += await _latencies(settings, urls, f"{round_number}-{capture}")
    shown = {}
    for capture, timings in results.items():
        median = statistics.median(timings) * 1000
        p95 = statistics.quantiles(timings, n=20)[-1] * 1000
        shown[capture] = median
        label = "on " if capture else "off"
        print(f"POST /v1/sightings, capture {label}: median {median:.1f} ms, p95 {p95:.1f} ms")
    print(f"capture on / off, median: {shown[True] / shown[False]:.2f}x (goal <= 1.1x)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sightings", type=int, default=500)
    parser.add_argument("--posts", type=int, default=200)
    args = parser.parse_args()
    port = _free_port()
    ready = multiprocessing.Event()
    server = multiprocessing.Process(target=_serve, args=(port, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(30):
            raise SystemExit("the page server did not start")
        with tempfile.TemporaryDirectory() as folder:
            asyncio.run(throughput_and_memory(Path(folder), port, args.sightings))
            asyncio.run(recording_cost(Path(folder), port, args.posts))
    finally:
        server.terminate()
        server.join()


if __name__ == "__main__":
    main()
