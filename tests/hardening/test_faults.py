"""Database faults a client can cause or meet: answered 503 with Retry-After, never 500."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, text
from sqlalchemy.exc import DBAPIError

from app.claims.models import Claim
from app.config import Settings
from app.db import create_engine, is_transient
from app.main import create_app
from tests.conftest import ADMIN_KEY, make_client, started
from tests.factories import day, outlet
from tests.problems import assert_problem


@pytest.fixture
async def one_connection_app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        bootstrap_admin_key=ADMIN_KEY,
        admin_key_file=tmp_path / "admin-key",
        db_pool_size=1,
        db_max_overflow=0,
        db_pool_timeout_seconds=0.3,
        dispatch_in_app=False,
        index_in_app=False,
    )
    application = create_app(settings)
    async with started(application):
        yield application


async def test_no_free_connection_is_503_with_retry_after(one_connection_app: FastAPI) -> None:
    async with make_client(one_connection_app) as http:
        assert (await http.get("/v1/claims")).status_code == 200
        async with one_connection_app.state.engine.connect() as held:
            await held.execute(text("SELECT 1"))
            response = await http.get("/v1/claims")
        problem = assert_problem(response, 503)
        assert int(response.headers["retry-after"]) > 0
        assert "Traceback" not in problem["detail"]
        # Once the connection is back, so is the service.
        assert (await http.get("/v1/claims")).status_code == 200


SLOW = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) "
    "SELECT count(*) FROM n",
    "postgresql": "SELECT pg_sleep(5)",
}


async def test_a_statement_past_its_time_is_stopped(database_url: str, backend: str) -> None:
    engine = create_engine(Settings(database_url=database_url, statement_timeout_seconds=0.3))
    started = time.monotonic()
    try:
        async with engine.connect() as connection:
            with pytest.raises(DBAPIError) as raised:
                await connection.execute(text(SLOW[backend]))
    finally:
        await engine.dispose()
    assert time.monotonic() - started < 4
    assert is_transient(raised.value)


def _batch(statements: list[str], site: str) -> dict:
    return {
        "items": [
            {
                "claim": {"statement": statement},
                "outlet": {"slug": f"{site}-{i}", "name": f"{site} {i}", "kind": "other"},
                "url": f"https://{site}.example/{i}",
                "published_at": day(5),
                "stance": "reports",
            }
            for i, statement in enumerate(statements)
        ]
    }


async def test_batches_creating_the_same_claims_in_opposite_order_both_succeed(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    await outlet(client, "unused")
    for round_ in range(5):
        statements = [f"Round {round_}: new claim number {i}" for i in range(12)]
        forward, backward = await asyncio.gather(
            client.post("/v1/sightings/batch", json=_batch(statements, "fwd")),
            client.post("/v1/sightings/batch", json=_batch(statements[::-1], "bwd")),
        )
        assert (forward.status_code, backward.status_code) == (200, 200), (
            forward.text + backward.text
        )
        created = [r["status"] for r in forward.json()["results"] + backward.json()["results"]]
        assert created.count("created") == 24
    async with app.state.sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Claim)) == 60
