"""Fixtures for alert tests: fast retry settings, a real receiver, and ways to make events."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.config import Settings
from tests.alerts.receiver import Receiver
from tests.conftest import ADMIN_KEY

SECRET_KEY = "alerts-test-secret-key"
FAST_RETRIES = [0.05, 0.05, 0.05, 0.05, 0.05]


def fast_settings(database_url: str, tmp_path: Path, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "bootstrap_admin_key": ADMIN_KEY,
        "webhook_allow_private": True,
        "admin_key_file": tmp_path / "admin-key",
        "secret_key": SECRET_KEY,
        "dispatch_poll_seconds": 0.05,
        "dispatch_lease_seconds": 5.0,
        "webhook_timeout_seconds": 3.0,
        "webhook_retry_delays": FAST_RETRIES,
        "stream_poll_seconds": 0.05,
        "stream_heartbeat_seconds": 0.3,
        "rate_limit": 1_000_000,
        # Alerts need no vectors: without them no process of their own is started and stopped
        # around every test.
        "index_in_app": False,
    }
    return Settings(**(values | changes))


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return fast_settings(database_url, tmp_path)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    server = Receiver()
    await server.start()
    yield server
    await server.stop()


async def subscribe(client: httpx.AsyncClient, url: str, **fields: Any) -> dict[str, Any]:
    body = {"url": url, "event_types": ["denial.recorded"], **fields}
    response = await client.post("/v1/subscriptions", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


_counter = iter(range(1_000_000))


async def record_sighting(
    writer: httpx.AsyncClient,
    *,
    stance: str = "denies",
    kind: str = "official",
    statement: str | None = None,
    claim_id: str | None = None,
    published_at: str = "2022-08-11T12:00:00Z",
    tags: list[str] | None = None,
) -> dict[str, Any]:
    """Record a sighting (by default an official denial) of a new or given claim."""
    n = next(_counter)
    body: dict[str, Any] = {
        "outlet": {"slug": f"outlet-{kind.replace('_', '-')}", "name": f"A {kind}", "kind": kind},
        "url": f"https://example.org/{n}",
        "published_at": published_at,
        "stance": stance,
    }
    if claim_id is not None:
        body["claim_id"] = claim_id
    else:
        body["claim"] = {"statement": statement or f"Claim number {n}", "tags": tags or []}
    response = await writer.post("/v1/sightings", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def wait_for_attempts(
    client: httpx.AsyncClient, subscription_id: str, count: int, seconds: float = 10.0
) -> list[dict[str, Any]]:
    """The subscription's logged attempts, oldest first, once there are `count` of them."""
    deadline = asyncio.get_running_loop().time() + seconds
    while True:
        response = await client.get(f"/v1/subscriptions/{subscription_id}/deliveries")
        items: list[dict[str, Any]] = response.json()["items"]
        if len(items) >= count or asyncio.get_running_loop().time() > deadline:
            return list(reversed(items))
        await asyncio.sleep(0.02)
