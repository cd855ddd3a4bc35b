"""Real `tracer` API processes for the tests that need a network socket or several processes."""

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.conftest import ADMIN_KEY


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def tracer_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    """The environment of a test process: this run's database, and nothing of the caller's."""
    return {
        **{k: v for k, v in os.environ.items() if not k.startswith("TRACER_")},
        "TRACER_DATABASE_URL": database_url,
        "TRACER_BOOTSTRAP_ADMIN_KEY": ADMIN_KEY,
        "TRACER_WEBHOOK_ALLOW_PRIVATE": "true",
        "TRACER_SECRET_KEY_FILE": str(tmp_path / "secret-key"),
        "TRACER_ADMIN_KEY_FILE": str(tmp_path / "admin-key"),
        "TRACER_CAPTURE": "false",
        "TRACER_EVIDENCE_STORE": str(tmp_path / "evidence"),
        **extra,
    }


@contextmanager
def api_process(env: dict[str, str], *, ready_timeout: float = 30) -> Iterator[str]:
    """An API process on a free port, serving the already migrated database; its base URL."""
    port = free_port()
    command = [sys.executable, "-m", "uvicorn", "app.main:create_app", "--factory"]
    with _serving(
        [*command, "--port", str(port), "--log-level", "warning"], env, port, ready_timeout
    ) as base:
        yield base


@contextmanager
def serve_process(env: dict[str, str], *, ready_timeout: float = 60) -> Iterator[str]:
    """`tracer serve` on a free port, as a deployment runs it; its base URL."""
    port = free_port()
    with _serving(
        [sys.executable, "-m", "app", "serve", "--port", str(port)], env, port, ready_timeout
    ) as base:
        yield base


@contextmanager
def _serving(
    command: list[str], env: dict[str, str], port: int, ready_timeout: float
) -> Iterator[str]:
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + ready_timeout
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise RuntimeError("the API process did not start")
            time.sleep(0.1)
        yield base
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
