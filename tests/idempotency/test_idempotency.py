"""Retried POSTs with an Idempotency-Key record nothing twice."""

import asyncio

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.models import Claim, Outlet, Sighting
from tests.conftest import make_client
from tests.factories import day
from tests.problems import assert_problem


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Forty requests at once wait their turn for a connection however busy the machine is:
    what is tested here is that a retry records nothing twice, not how many writers one
    process serves within the pool's usual wait (tests/hardening measure that)."""
    return settings.model_copy(update={"db_pool_timeout_seconds": 120.0})


def _body(n: int, client_no: int = 0) -> dict:
    return {
        "claim": {"statement": f"Shared rumour number {n % 3}"},
        "outlet": {"slug": f"outlet-{client_no % 5}", "name": "Outlet", "kind": "news_outlet"},
        "url": f"https://c{client_no}.example/{n}",
        "published_at": day(1 + n % 20),
        "stance": "reports",
    }


async def _count(sessionmaker: async_sessionmaker[AsyncSession], model: type) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


async def test_a_retry_returns_the_first_answer_and_records_nothing(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Idempotency-Key": "retry-1"}
    first = await writer.post("/v1/sightings", json=_body(1), headers=headers)
    retry = await writer.post("/v1/sightings", json=_body(1), headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert await _count(sessionmaker, Sighting) == 1


async def test_the_same_key_with_another_body_is_refused(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    headers = {"Idempotency-Key": "retry-2"}
    await writer.post("/v1/sightings", json=_body(1), headers=headers)

    problem = assert_problem(
        await writer.post("/v1/sightings", json=_body(2), headers=headers), 422, "Idempotency-Key"
    )

    assert "different" in problem["detail"]
    assert await _count(sessionmaker, Sighting) == 1


async def test_a_failed_first_attempt_leaves_the_key_free(writer: httpx.AsyncClient) -> None:
    headers = {"Idempotency-Key": "retry-3"}
    bad = {**_body(1), "cites": ["missing"]}
    assert_problem(await writer.post("/v1/sightings", json=bad, headers=headers), 422, "cites")
    # The client fixes nothing and retries the very same request: it is judged afresh.
    assert_problem(await writer.post("/v1/sightings", json=bad, headers=headers), 422, "cites")


async def test_keys_of_different_api_keys_do_not_collide(
    app: FastAPI, client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    other_key = (await client.post("/v1/keys", json={"name": "desk-2", "scope": "write"})).json()
    headers = {"Idempotency-Key": "shared-name"}
    async with make_client(app, other_key["key"]) as other:
        a = await writer.post("/v1/sightings", json=_body(1), headers=headers)
        b = await other.post("/v1/sightings", json=_body(2), headers=headers)
    assert a.status_code == b.status_code == 201
    assert a.json()["id"] != b.json()["id"]


async def test_concurrent_clients_with_retries_record_exactly_once(
    app: FastAPI, writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # Twenty clients at once, a third of whose requests are sent twice at once: forty requests
    # in flight for the same three claims and five outlets.
    clients, per_client = 20, 15

    async def one_client(client_no: int) -> list[httpx.Response]:
        responses = []
        async with make_client(app, writer.headers["Authorization"].split()[1]) as http:
            for n in range(per_client):
                body = _body(n, client_no)
                if n % 3 == 0:
                    # A third are sent twice at once, as a client retrying on a timeout would.
                    headers = {"Idempotency-Key": f"c{client_no}-n{n}"}
                    pair = await asyncio.gather(
                        http.post("/v1/sightings", json=body, headers=headers),
                        http.post("/v1/sightings", json=body, headers=headers),
                    )
                    assert pair[0].json()["id"] == pair[1].json()["id"], pair[1].text
                    responses += pair
                else:
                    responses.append(await http.post("/v1/sightings", json=body))
        return responses

    results = await asyncio.gather(*(one_client(c) for c in range(clients)))

    statuses = [r.status_code for batch in results for r in batch]
    assert set(statuses) == {201}, {s: statuses.count(s) for s in set(statuses)}
    assert await _count(sessionmaker, Sighting) == clients * per_client
    assert await _count(sessionmaker, Claim) == 3
    assert await _count(sessionmaker, Outlet) == 5
    async with sessionmaker() as session:
        counted = await session.scalar(select(func.sum(Claim.sightings_count)))
    assert counted == clients * per_client


async def test_claims_and_outlets_honour_the_key_too(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    for path, body in (
        ("/v1/claims", {"statement": "Retried claim"}),
        ("/v1/outlets", {"slug": "retried", "name": "Retried", "kind": "other"}),
    ):
        headers = {"Idempotency-Key": f"create {path}"}
        first = await writer.post(path, json=body, headers=headers)
        retry = await writer.post(path, json=body, headers=headers)
        assert (first.status_code, retry.status_code) == (201, 201)
        assert retry.json() == first.json()
    assert await _count(sessionmaker, Claim) == 1
    assert await _count(sessionmaker, Outlet) == 1
