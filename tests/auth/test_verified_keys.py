"""Key checks answered from memory: a revoked key is refused at once by the process that
revoked it and by every other within `key_cache_seconds`, and no key is ever logged."""

import asyncio
import logging

import pytest

from app.config import Settings
from app.main import create_app
from tests.conftest import make_client, started
from tests.problems import assert_problem

BOUND = 0.5


async def test_a_revoked_key_is_refused_here_at_once_and_elsewhere_within_the_bound(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    short = settings.model_copy(update={"key_cache_seconds": BOUND})
    here, elsewhere = create_app(short), create_app(short)
    async with started(here), started(elsewhere), make_client(here) as admin:
        created = (await admin.post("/v1/keys", json={"name": "wall", "scope": "read"})).json()
        async with (
            make_client(here, created["key"]) as on_here,
            make_client(elsewhere, created["key"]) as on_elsewhere,
        ):
            for dashboard in (on_here, on_elsewhere):
                for _ in range(3):
                    assert (await dashboard.get("/v1/claims")).status_code == 200

            assert (await admin.delete(f"/v1/keys/{created['id']}")).status_code == 204
            assert_problem(await on_here.get("/v1/claims"), 401)
            await asyncio.sleep(BOUND + 0.1)
            assert_problem(await on_elsewhere.get("/v1/claims"), 401)

    assert created["key"] not in caplog.text
