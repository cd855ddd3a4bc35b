"""Denial-to-delivery latency of webhooks, against PostgreSQL, with one local receiver.

    python -m bench.alerts_latency [--rate 50] [--seconds 20] [--burst 2000] [--workers 1]

Creates a database of its own on the server named by TRACER_BENCH_POSTGRES_URL, records
official denials at a steady rate through the service layer (one transaction each, as the
API does), runs `tracer worker` processes, and prints latency percentiles measured from each
denial's commit to its arrival at the receiver; then records a burst at once and prints how
many deliveries per second the workers drain.
"""

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

from app.alerts import service as alerts
from app.alerts.crypto import SecretBox
from app.alerts.schemas import SubscriptionCreate
from app.auth.service import Principal
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.enums import Scope
from app.migrate import upgrade_to_head
from app.recording import service as recording
from app.recording.schemas import SightingCreate
from bench.harness import private_postgres_database

DEFAULT_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SECRET_KEY = "bench-secret-key"


class Receiver:
    """Notes when each denial's webhook arrives; answers 204 at once."""

    def __init__(self) -> None:
        self.arrived: dict[str, float] = {}
        self.server: asyncio.Server | None = None

    async def start(self) -> str:
        self.server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        return f"http://127.0.0.1:{self.server.sockets[0].getsockname()[1]}/hook"

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                if not await reader.readline():
                    return
                length = 0
                while (line := await reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode().partition(":")
                    if name.strip().lower() == "content-length":
                        length = int(value)
                body = json.loads(await reader.readexactly(length))
                self.arrived.setdefault(body["data"]["sighting"]["id"], time.monotonic())
                writer.write(b"HTTP/1.1 204 No Content\r\ncontent-length: 0\r\n\r\n")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


def _worker(settings: Settings) -> subprocess.Popen[bytes]:
    env = os.environ | {
        "TRACER_DATABASE_URL": settings.database_url,
        "TRACER_SECRET_KEY": SECRET_KEY,
        "TRACER_WEBHOOK_ALLOW_PRIVATE": "true",
    }
    tracer = Path(sys.executable).parent / "tracer"
    return subprocess.Popen([str(tracer), "worker"], env=env, stdout=subprocess.DEVNULL)


def _denial(n: int) -> SightingCreate:
    return SightingCreate.model_validate(
        {
            "claim": {"statement": f"Benchmark claim {n} {uuid.uuid4().hex}"},
            "outlet": {"slug": "ministry", "name": "A ministry", "kind": "official"},
            "url": f"https://example.org/denial/{n}",
            "published_at": datetime.now(UTC),
            "stance": "denies",
        }
    )


async def _wait_for(receiver: Receiver, ids: set[str], seconds: float) -> None:
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds * 100)):
        if ids <= receiver.arrived.keys() or time.monotonic() > deadline:
            return
        await asyncio.sleep(0.01)


async def run(rate: float, seconds: float, burst: int, workers: int) -> None:
    base = os.environ.get("TRACER_BENCH_POSTGRES_URL", DEFAULT_URL)
    async with private_postgres_database(base) as url:
        await _measure(url, rate, seconds, burst, workers)


async def _measure(url: str, rate: float, seconds: float, burst: int, workers: int) -> None:
    settings = Settings(database_url=url, secret_key=SECRET_KEY, webhook_allow_private=True)
    engine = create_engine(settings)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        await upgrade_to_head(engine)
        sessionmaker = create_sessionmaker(engine)
        receiver = Receiver()
        hook = await receiver.start()
        principal = Principal(key_id=None, name="bench", scope=Scope.write)
        async with sessionmaker() as session, session.begin():
            await alerts.create(
                session=session,
                data=SubscriptionCreate(url=hook, event_types=["denial.recorded"]),
                box=SecretBox(settings),
                allow_private=True,
                actor=principal,
            )
        processes = [_worker(settings) for _ in range(workers)]
        await asyncio.sleep(3)  # the workers import and connect

        async def record(n: int) -> tuple[str, float]:
            async with sessionmaker() as session, session.begin():
                sighting = await recording.record(
                    session=session, principal=principal, data=_denial(n)
                )
            return sighting.id, time.monotonic()

        committed: dict[str, float] = {}
        total = int(rate * seconds)
        started = time.monotonic()
        pending: list[asyncio.Task[tuple[str, float]]] = []
        for n in range(total):
            await asyncio.sleep(max(0.0, started + n / rate - time.monotonic()))
            pending.append(asyncio.create_task(record(n)))
        committed.update(await asyncio.gather(*pending))
        await _wait_for(receiver, set(committed), 60)
        latencies = sorted(
            (receiver.arrived[i] - t) * 1000 for i, t in committed.items() if i in receiver.arrived
        )
        lost = len(committed) - len(latencies)

        burst_ids = set()
        async with sessionmaker() as session, session.begin():
            for n in range(burst):
                sighting = await recording.record(
                    session=session, principal=principal, data=_denial(total + n)
                )
                burst_ids.add(sighting.id)
        burst_started = time.monotonic()
        await _wait_for(receiver, burst_ids, 300)
        arrivals = [receiver.arrived[i] for i in burst_ids if i in receiver.arrived]
        drained = max(arrivals) - burst_started if arrivals else float("nan")

        def pct(p: float) -> float:
            return latencies[min(len(latencies) - 1, round(p / 100 * (len(latencies) - 1)))]

        print(f"workers: {workers}; steady load: {total} official denials at {rate:g}/s")
        print(
            f"  denial-to-delivery latency: p50 {pct(50):.1f} ms, p99 {pct(99):.1f} ms, "
            f"max {latencies[-1]:.1f} ms, mean {statistics.fmean(latencies):.1f} ms; "
            f"undelivered: {lost}"
        )
        print(
            f"burst: {burst} denials committed at once, all delivered {drained:.2f} s later "
            f"({len(arrivals) / drained:.0f} deliveries/s); undelivered: {burst - len(arrivals)}"
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(20)
        await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="denials per second")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the steady load")
    parser.add_argument("--burst", type=int, default=2000, help="denials recorded at once")
    parser.add_argument("--workers", type=int, default=1, help="`tracer worker` processes")
    arguments = parser.parse_args()
    asyncio.run(run(arguments.rate, arguments.seconds, arguments.burst, arguments.workers))


if __name__ == "__main__":
    main()
