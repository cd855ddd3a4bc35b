"""Operating the service: request ids in JSON logs, nothing secret in them, slow and departed
clients, and a worker that will not start on a database it does not understand."""

import asyncio
import io
import json
import logging
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from starlette.types import Message, Receive, Scope, Send

from app.config import Settings
from app.limits import CancelOnDisconnect
from app.logs import configure_logging
from app.main import create_app
from tests.conftest import ADMIN_KEY, make_client, started
from tests.problems import assert_problem


@pytest.fixture
def json_log() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO")
    stream = io.StringIO()
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    try:
        yield stream
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
        logging.getLogger("uvicorn.access").disabled = False


async def test_log_lines_are_json_with_the_request_id_and_no_secret(
    client: httpx.AsyncClient, json_log: io.StringIO
) -> None:
    created = await client.post(
        "/v1/keys", json={"name": "desk", "scope": "write"}, headers={"X-Request-ID": "desk-42"}
    )
    made_up = await client.get("/v1/claims", headers={"X-Request-ID": "bad id\twith spaces"})

    assert created.headers["x-request-id"] == "desk-42"
    generated = made_up.headers["x-request-id"]
    assert generated and generated != "bad id\twith spaces"
    lines = [json.loads(line) for line in json_log.getvalue().splitlines()]
    by_id = {
        line.get("request_id"): line for line in lines if line.get("logger") == "tracer.access"
    }
    assert by_id["desk-42"]["status"] == 201 and by_id["desk-42"]["path"] == "/v1/keys"
    assert by_id[generated]["status"] == 200
    text = json_log.getvalue()
    assert ADMIN_KEY not in text and created.json()["key"] not in text


def test_every_log_line_has_the_same_fields_in_the_same_order(json_log: io.StringIO) -> None:
    log = logging.getLogger("tracer.test")
    log.info("request", extra={"path": "/v1/caf\u00e9", "at": datetime(2026, 1, 1, tzinfo=UTC)})
    log.warning("a %s line", "formatted", stack_info=True)
    try:
        raise ValueError("broken")
    except ValueError:
        log.exception("failed", extra={"error": "ValueError"})

    plain, stacked, failed = [json.loads(line) for line in json_log.getvalue().splitlines()]
    fields = ["time", "level", "logger", "message", "request_id"]
    assert list(plain) == [*fields, "path", "at"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}", plain["time"])
    assert plain["path"] == "/v1/caf\u00e9" and plain["at"] == "2026-01-01T00:00:00+00:00"
    assert list(stacked)[:5] == fields and stacked["message"] == "a formatted line"
    assert "test_every_log_line" in stacked["stack_info"]
    assert list(failed)[:5] == fields and failed["error"] == "ValueError"
    assert "ValueError: broken" in failed["exc_info"]


async def test_a_read_stops_when_its_client_leaves() -> None:
    finished = False
    cancelled = False

    async def slow_read(scope: Scope, receive: Receive, send: Send) -> None:
        nonlocal finished, cancelled
        try:
            await asyncio.sleep(30)
            finished = True
        except asyncio.CancelledError:
            cancelled = True
            raise

    messages: list[Message] = [{"type": "http.request", "body": b"", "more_body": False}]

    async def client_leaves_soon() -> Message:
        if messages:
            return messages.pop()
        await asyncio.sleep(0.2)
        return {"type": "http.disconnect"}

    async def nowhere(message: Message) -> None:
        pass

    scope = {"type": "http", "method": "GET", "path": "/v1/sightings/x/trace", "headers": []}
    await asyncio.wait_for(CancelOnDisconnect(slow_read)(scope, client_leaves_soon, nowhere), 10)
    assert cancelled and not finished


@pytest.fixture
async def impatient(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        bootstrap_admin_key=ADMIN_KEY,
        admin_key_file=tmp_path / "admin-key",
        body_read_timeout_seconds=0.3,
        dispatch_in_app=False,
        index_in_app=False,
    )
    application = create_app(settings)
    async with started(application):
        yield application


async def test_a_body_that_trickles_in_is_refused_with_408(impatient: FastAPI) -> None:
    async def trickle() -> AsyncIterator[bytes]:
        yield b'{"statement": '
        await asyncio.sleep(3)
        yield b'"too late"}'

    async with make_client(impatient) as http:
        response = await http.post(
            "/v1/claims", content=trickle(), headers={"Content-Type": "application/json"}
        )
    assert_problem(response, 408)


def test_the_worker_refuses_an_unmigrated_database(tmp_path: Path) -> None:
    env = {
        "PATH": "/usr/bin:/bin",
        "TRACER_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'empty.db'}",
        "TRACER_SECRET_KEY_FILE": str(tmp_path / "secret"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "app", "worker"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert "not migrated" in result.stderr and "tracer migrate" in result.stderr
