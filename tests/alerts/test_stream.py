"""The live event stream over a real HTTP connection: resuming after a drop loses nothing."""

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn

from app.config import Settings
from app.main import create_app
from tests.alerts.conftest import record_sighting
from tests.alerts.receiver import eventually
from tests.conftest import ADMIN_KEY


@pytest.fixture
async def served(settings: Settings) -> AsyncIterator[str]:
    """The app behind a real uvicorn server on 127.0.0.1; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        lifespan="on",
        ws="none",
        http="h11",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    await eventually(lambda: server.started)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    server.should_exit = True
    await task
    sock.close()


def _client(base_url: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=10
    )


async def _read(
    response: httpx.Response, count: int, *, until_heartbeat: bool = False
) -> tuple[list[dict[str, Any]], int]:
    """`count` events from an open stream (and, if asked, on until a heartbeat comment)."""
    events: list[dict[str, Any]] = []
    heartbeats = 0
    fields: dict[str, str] = {}
    async for line in response.aiter_lines():
        if line.startswith(":"):
            heartbeats += 1
            if until_heartbeat and len(events) >= count:
                break
        elif line == "":
            if "data" in fields:
                event = json.loads(fields["data"])
                assert fields["id"] == str(event["id"])
                assert fields["event"] == event["type"]
                events.append(event)
                if len(events) >= count and not until_heartbeat:
                    break
            fields = {}
        else:
            name, _, value = line.partition(":")
            fields[name] = value.removeprefix(" ")
    return events, heartbeats


async def test_reconnecting_with_last_event_id_gets_exactly_the_missed_events(
    served: str,
) -> None:
    async with _client(served) as http:
        await record_sighting(http)  # claim.created, sighting.recorded, denial.recorded, ...
        everything = (await http.get("/v1/events")).json()["items"]
        assert len(everything) >= 3

        async with http.stream("GET", "/v1/events/stream") as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            seen, _ = await _read(response, len(everything))
        assert [e["id"] for e in seen] == [e["id"] for e in everything]

        # Disconnected: the world goes on.
        await record_sighting(http, stance="reports", kind="news_outlet")
        await record_sighting(http)
        missed = (await http.get("/v1/events", params={"after": seen[-1]["id"]})).json()["items"]
        assert len(missed) >= 4

        headers = {"Last-Event-ID": str(seen[-1]["id"])}
        async with http.stream("GET", "/v1/events/stream", headers=headers) as response:
            resumed, heartbeats = await _read(response, len(missed), until_heartbeat=True)
        assert resumed == missed
        assert heartbeats >= 1


async def test_a_live_stream_sees_new_events_and_heartbeats(served: str) -> None:
    async with _client(served) as http:
        async with http.stream(
            "GET", "/v1/events/stream", params={"type": "denial.recorded"}
        ) as response:
            reading = asyncio.create_task(_read(response, 2))
            await asyncio.sleep(0.5)  # longer than the heartbeat interval
            await record_sighting(http)
            await record_sighting(http, stance="asserts", kind="anonymous_channel")
            await record_sighting(http)
            events, heartbeats = await asyncio.wait_for(reading, 10)
        assert [e["type"] for e in events] == ["denial.recorded", "denial.recorded"]
        assert heartbeats >= 1


async def test_a_bad_last_event_id_is_a_problem(served: str) -> None:
    async with _client(served) as http:
        for bad in ("yesterday", "9" * 25):
            response = await http.get("/v1/events/stream", headers={"Last-Event-ID": bad})
            assert response.status_code == 422
            assert response.headers["content-type"].startswith("application/problem+json")
