"""A PostgreSQL restart and a stop, under load, against a real API process.

The cluster is this test's own (initdb into a temporary folder, another port), so stopping it
disturbs nobody. While it is down, answers are 503 and `/readyz` says so; when it is back the
service recovers by itself; and every write it acknowledged is there afterwards.
"""

import asyncio
import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from app.config import Settings
from app.db import create_engine
from app.migrate import upgrade_to_head
from tests.conftest import ADMIN_KEY
from tests.processes import api_process, free_port, tracer_env

BINARIES = sorted(glob.glob("/usr/lib/postgresql/*/bin"))


class Cluster:
    def __init__(self, root: Path) -> None:
        self.bin = Path(BINARIES[-1])
        self.data = root / "data"
        self.port = free_port()
        self.url = f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/postgres"
        # PostgreSQL will not run as root; the folder is handed to its own user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(root, "postgres")

    def _run(self, *args: str) -> None:
        # No pipes: the server pg_ctl leaves running would hold them open.
        subprocess.run(
            [*self.as_user, str(self.bin / args[0]), *args[1:]],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=120,
        )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-N")

    def pg_ctl(self, action: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        log = str(self.data.parent / "server.log")
        self._run(
            "pg_ctl", action, "-D", str(self.data), "-l", log, "-m", "fast", "-w", "-o", options
        )


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    if not BINARIES or not shutil.which("runuser"):
        pytest.skip("needs PostgreSQL's server binaries to start a cluster of its own")
    # Not under pytest's own temporary folder, which PostgreSQL's user may not enter.
    root = Path(tempfile.mkdtemp(prefix="tracer-cluster-"))
    private = Cluster(root)
    try:
        private.init()
        private.pg_ctl("start")
        yield private
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):
            private.pg_ctl("stop")
        shutil.rmtree(root, ignore_errors=True)


async def _migrate(url: str) -> None:
    engine = create_engine(Settings(database_url=url))
    try:
        await upgrade_to_head(engine)
    finally:
        await engine.dispose()


class Load:
    """Writers and readers hammering the API until told to stop; every answer kept."""

    def __init__(self, base: str) -> None:
        self.http = httpx.AsyncClient(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
        )
        self.statuses: list[int] = []
        self.acknowledged: list[str] = []
        self.transport_errors = 0
        self.running = True

    async def _writer(self, n: int) -> None:
        while self.running:
            statement = f"Writer {n} says {uuid.uuid4().hex}"
            try:
                response = await self.http.post("/v1/claims", json={"statement": statement})
            except httpx.TransportError:
                self.transport_errors += 1
                continue
            self.statuses.append(response.status_code)
            if response.status_code == 201:
                self.acknowledged.append(response.json()["id"])
            elif response.status_code == 503:
                assert int(response.headers["retry-after"]) > 0
                await asyncio.sleep(0.05)

    async def _reader(self) -> None:
        while self.running:
            try:
                response = await self.http.get("/v1/claims", params={"limit": 5})
            except httpx.TransportError:
                self.transport_errors += 1
                continue
            self.statuses.append(response.status_code)
            if response.status_code == 503:
                await asyncio.sleep(0.05)

    def start(self) -> list[asyncio.Task[None]]:
        workers = [self._writer(n) for n in range(3)] + [self._reader() for _ in range(2)]
        return [asyncio.create_task(w) for w in workers]


async def _ready(http: httpx.AsyncClient) -> int:
    try:
        return (await http.get("/readyz")).status_code
    except httpx.TransportError:
        return -1


async def test_a_restart_and_a_stop_under_load_lose_nothing(
    cluster: Cluster, tmp_path: Path
) -> None:
    await _migrate(cluster.url)
    env = tracer_env(
        cluster.url,
        tmp_path,
        TRACER_DISPATCH_IN_APP="false",
        TRACER_DB_POOL_TIMEOUT_SECONDS="2",
        TRACER_DB_CONNECT_TIMEOUT_SECONDS="2",
    )
    with api_process(env) as base:
        load = Load(base)
        tasks = load.start()
        probe = httpx.AsyncClient(base_url=base, timeout=30)
        try:
            await asyncio.sleep(1)
            await asyncio.to_thread(cluster.pg_ctl, "restart")
            await asyncio.sleep(1)

            await asyncio.to_thread(cluster.pg_ctl, "stop")
            await asyncio.sleep(0.5)
            during_outage = [await _ready(probe) for _ in range(3)]
            refused_write = await load.http.post("/v1/claims", json={"statement": "Unheard"})
            await asyncio.sleep(1)
            await asyncio.to_thread(cluster.pg_ctl, "start")

            deadline = time.monotonic() + 30
            while await _ready(probe) != 200:
                assert time.monotonic() < deadline, "the service did not recover by itself"
                await asyncio.sleep(0.2)
            before_recovery = len(load.statuses)
            await asyncio.sleep(1)
        finally:
            load.running = False
            await asyncio.gather(*tasks)
            await probe.aclose()

        assert during_outage == [503, 503, 503]
        assert refused_write.status_code == 503
        assert refused_write.headers["content-type"].startswith("application/problem+json")
        assert set(load.statuses) <= {200, 201, 503}, sorted(set(load.statuses))
        assert 503 in load.statuses
        assert load.transport_errors == 0
        # Recovered by itself: requests after the outage succeed again.
        assert 201 in load.statuses[before_recovery:]
        for claim_id in load.acknowledged:
            assert (await load.http.get(f"/v1/claims/{claim_id}")).status_code == 200
        await load.http.aclose()
