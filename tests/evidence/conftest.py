"""Servers for the evidence tests: a scriptable web server, and moto's S3 server.

moto runs in a process of its own rather than as moto's threaded server: tests that measure
this process's allocations would otherwise count the server's copy of every upload too. A
fetcher made here has tiny limits and may call 127.0.0.1, where the web server listens.
"""

import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from app.evidence.fetching import Fetcher
from tests.evidence.pages import Pages
from tests.processes import free_port

BUCKET = "evidence"
USER_AGENT = "Tracer/test (+https://example.org/tracer)"
MakeFetcher = Callable[..., Fetcher]


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    """The endpoint URL of a running S3 server with the bucket `evidence` created."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    endpoint = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                # moto checks no signature: a plain PUT creates the bucket.
                if httpx.put(f"{endpoint}/{BUCKET}", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the S3 server did not start")
            time.sleep(0.1)
        yield endpoint
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
async def pages() -> AsyncIterator[Pages]:
    """A web server on 127.0.0.1 answering each path as the test scripts it."""
    server = Pages()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def make_fetcher(tmp_path: Path) -> AsyncIterator[MakeFetcher]:
    """Fetchers with test-sized limits (overridable), closed after the test."""
    made: list[Fetcher] = []

    def make(**overrides: object) -> Fetcher:
        options: dict[str, object] = {
            "user_agent": USER_AGENT,
            "allow_private": True,
            "timeout_seconds": 2.0,
            "max_bytes": 64 * 1024,
            "temp_dir": tmp_path,
            **overrides,
        }
        fetcher = Fetcher(**options)  # type: ignore[arg-type]
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.aclose()


@pytest.fixture
def fetcher(make_fetcher: MakeFetcher) -> Fetcher:
    return make_fetcher()
