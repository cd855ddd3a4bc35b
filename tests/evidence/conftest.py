"""An S3-speaking server for the evidence store's tests: moto's, in a process of its own.

Its own process, not moto's threaded server: tests that measure this process's allocations
would otherwise count the server's copy of every upload too.
"""

import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.processes import free_port

BUCKET = "evidence"


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
