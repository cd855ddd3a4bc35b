"""Denial reports, chains and spreads kept in memory: polled with an ETag, answered 304 while
nothing changed, and current again right after a change, whichever process made it."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from app.config import Settings
from app.main import create_app
from tests.conftest import make_client, started


def _documents(claim_id: str) -> list[str]:
    return [f"/v1/claims/{claim_id}/{name}" for name in ("denial", "chain", "spread")]


@asynccontextmanager
async def _another_process(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Another API process on the same database: an app of its own, with its own memory."""
    other = create_app(settings)
    async with started(other), make_client(other) as client:
        yield client


@pytest.fixture
def statements(app: FastAPI) -> Any:
    seen: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        # The rate limiter's count is written a few times a second, whatever the route.
        if "rate_limit_windows" not in statement:
            seen.append(statement)

    engine = app.state.engine.sync_engine
    event.listen(engine, "before_cursor_execute", count)
    yield seen
    event.remove(engine, "before_cursor_execute", count)


async def test_a_polled_document_is_304_until_another_process_records_a_sighting(
    settings: Settings,
    client: httpx.AsyncClient,
    worked_example: dict[str, Any],
    statements: list[str],
) -> None:
    paths = _documents(worked_example["troops"])
    first = {path: await client.get(path) for path in paths}
    for path, answer in first.items():
        assert answer.status_code == 200, (path, answer.text)
        assert answer.headers["etag"].startswith('"')

    statements.clear()
    for path, answer in first.items():
        polled = await client.get(path, headers={"If-None-Match": answer.headers["etag"]})
        assert polled.status_code == 304, path
        assert polled.content == b""
        assert polled.headers["etag"] == answer.headers["etag"]
        again = await client.get(path)
        assert again.content == answer.content and again.headers["etag"] == answer.headers["etag"]
    # Kept documents: no query but the outbox check shared by concurrent requests.
    assert statements == []

    async with _another_process(settings) as elsewhere:
        recorded = await elsewhere.post(
            "/v1/sightings",
            json={
                "claim_id": worked_example["troops"],
                "outlet": {"slug": "mod-rf", "name": "Defence Ministry", "kind": "official"},
                "url": "https://mil.ru/2022-08-20",
                "published_at": "2022-08-20T10:00:00Z",
                "stance": "denies",
                "cites": [worked_example["ids"]["unian"]],
            },
        )
        assert recorded.status_code == 201, recorded.text

    after = {
        path: await client.get(path, headers={"If-None-Match": first[path].headers["etag"]})
        for path in paths
    }
    for path, answer in after.items():
        assert answer.status_code == 200, path
        assert answer.headers["etag"] != first[path].headers["etag"]
    denial, chain, spread = [after[path].json() for path in paths]
    assert [d["outlet"]["slug"] for d in denial["denials"]] == ["mid-rf", "mod-rf"]
    assert recorded.json()["id"] in [node["id"] for node in chain["nodes"]]
    assert "mod-rf" in [outlet["slug"] for outlet in spread["outlets"]]


async def test_an_outlet_corrected_elsewhere_shows_at_once_in_kept_documents(
    settings: Settings, client: httpx.AsyncClient, worked_example: dict[str, Any]
) -> None:
    paths = _documents(worked_example["troops"])
    first = {path: await client.get(path) for path in paths}
    assert first[paths[0]].json()["denials"][0]["outlet"]["name"] == "Russian Foreign Ministry"

    async with _another_process(settings) as elsewhere:
        corrected = await elsewhere.patch(
            "/v1/outlets/mid-rf", json={"name": "Ministry of Foreign Affairs of Russia"}
        )
        assert corrected.status_code == 200, corrected.text

    denial, chain, _ = [(await client.get(path)).json() for path in paths]
    assert denial["denials"][0]["outlet"]["name"] == "Ministry of Foreign Affairs of Russia"
    shown = {node["outlet"]["slug"]: node["outlet"]["name"] for node in chain["nodes"]}
    assert shown["mid-rf"] == "Ministry of Foreign Affairs of Russia"


async def test_a_past_moment_and_a_withdrawal_are_answered_apart(
    client: httpx.AsyncClient, writer: httpx.AsyncClient, worked_example: dict[str, Any]
) -> None:
    path = _documents(worked_example["troops"])[0]
    before = await client.get(path)
    moment = before.json()["denials"][0]["recorded_at"]
    then = await client.get(path, params={"as_of": moment})
    assert then.status_code == 200 and then.json()["status"] == "denied"

    withdrawn = await writer.delete(
        f"/v1/sightings/{worked_example['ids']['denial']}", params={"reason": "wrong ministry"}
    )
    assert withdrawn.status_code == 204, withdrawn.text

    now = await client.get(path, headers={"If-None-Match": before.headers["etag"]})
    assert now.status_code == 200 and now.json()["status"] == "none"
    # The past moment still answers as it was answered then.
    again = await client.get(path, params={"as_of": moment})
    assert again.json() == then.json()
    assert (await client.get("/v1/claims/missing/denial")).status_code == 404
