"""Rate limits per key and, for failed authentication, per address; the body read only after."""

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.config import Settings
from app.main import create_app
from tests.conftest import ADMIN_KEY, make_client, started
from tests.problems import assert_problem
from tests.processes import api_process, tracer_env
from tests.ui.pages import sign_in


@pytest.fixture
async def limited(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = Settings(
        database_url=database_url,
        bootstrap_admin_key=ADMIN_KEY,
        admin_key_file=tmp_path / "admin-key",
        rate_limit=5,
        auth_failure_limit=3,
        dispatch_in_app=False,
        index_in_app=False,
    )
    application = create_app(settings)
    async with started(application):
        yield application


async def clear_of_a_minute_end(seconds: float = 10) -> None:
    """Counts are kept per wall-clock minute: requests straddling a minute's end would meet two
    limits, so a test that counts them starts after that end when it is this near."""
    left_in_minute = 60 - time.time() % 60
    if left_in_minute < seconds:
        await asyncio.sleep(left_in_minute + 0.1)


async def test_a_key_past_its_limit_gets_429_and_others_do_not(limited: FastAPI) -> None:
    await clear_of_a_minute_end()
    async with make_client(limited) as admin:
        created = await admin.post("/v1/keys", json={"name": "dashboard", "scope": "read"})
        answers = [await admin.get("/v1/claims") for _ in range(4)]
        refused = await admin.get("/v1/claims")
    assert [r.status_code for r in answers] == [200] * 4
    assert [r.headers["ratelimit-remaining"] for r in answers] == ["3", "2", "1", "0"]
    assert all(r.headers["ratelimit-limit"] == "5" for r in answers)
    assert 1 <= int(answers[0].headers["ratelimit-reset"]) <= 60
    assert_problem(refused, 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert refused.headers["ratelimit-remaining"] == "0"
    async with make_client(limited, created.json()["key"]) as other:
        assert (await other.get("/v1/claims")).status_code == 200


async def test_an_address_guessing_keys_meets_429(limited: FastAPI) -> None:
    await clear_of_a_minute_end()
    async with make_client(limited, "trk_guess") as guesser:
        answers = [(await guesser.get("/v1/claims")).status_code for _ in range(6)]
        async with make_client(limited, None) as anonymous:
            missing = await anonymous.get("/v1/claims")
    assert answers == [401, 401, 401, 429, 429, 429]
    assert_problem(missing, 429)
    # Health and metrics need no key and are not counted.
    async with make_client(limited, None) as anonymous:
        assert (await anonymous.get("/healthz")).status_code == 200


async def test_a_body_without_a_valid_key_is_never_read(limited: FastAPI) -> None:
    sent = 0

    async def ten_mebibytes() -> AsyncIterator[bytes]:
        nonlocal sent
        for _ in range(160):
            sent += 1
            yield b"x" * 65536

    async with make_client(limited, "trk_unknown") as stranger:
        response = await stranger.post(
            "/v1/sightings/batch",
            content=ten_mebibytes(),
            headers={"Content-Type": "application/json"},
        )
    assert_problem(response, 401)
    assert sent <= 1


async def test_the_limit_holds_across_api_processes(
    database_url: str, backend: str, tmp_path: Path
) -> None:
    if backend != "postgresql":
        pytest.skip("API processes share counts through PostgreSQL; SQLite serves one process")
    env = tracer_env(database_url, tmp_path, TRACER_RATE_LIMIT="10", TRACER_DISPATCH_IN_APP="false")
    headers = {"Authorization": f"Bearer {ADMIN_KEY}"}
    with api_process(env) as first, api_process(env) as second:
        await clear_of_a_minute_end()
        statuses = []
        async with httpx.AsyncClient(headers=headers) as http:
            for i in range(14):
                base = first if i % 2 == 0 else second
                statuses.append((await http.get(f"{base}/v1/claims")).status_code)
    assert statuses.count(200) == 10
    assert statuses[10:] == [429] * 4


async def test_a_valid_key_is_let_in_while_its_address_is_refused(limited: FastAPI) -> None:
    """One guesser behind a newsroom's shared address must not lock the newsroom out."""
    await clear_of_a_minute_end()
    async with make_client(limited, "trk_guess") as guesser:
        guesses = [(await guesser.get("/v1/claims")).status_code for _ in range(5)]
    async with make_client(limited) as newsroom:
        allowed = await newsroom.get("/v1/claims")
    async with make_client(limited, "trk_guess_again") as guesser:
        refused = await guesser.get("/v1/claims")
    assert guesses == [401, 401, 401, 429, 429]
    assert allowed.status_code == 200
    assert_problem(refused, 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60


async def test_failed_key_checks_are_refused_past_ten_a_minute_by_default(app: FastAPI) -> None:
    await clear_of_a_minute_end()
    async with make_client(app, "trk_guess") as guesser:
        answers = [(await guesser.get("/v1/claims")).status_code for _ in range(12)]
    assert answers == [401] * 10 + [429] * 2


async def test_wrong_keys_at_sign_in_meet_the_same_limit_and_a_valid_key_still_signs_in(
    app: FastAPI,
) -> None:
    await clear_of_a_minute_end()
    async with make_client(app, None) as browser:
        wrong = [(await sign_in(browser, f"trk_wrong_{n}")).status_code for n in range(11)]
        refused = await sign_in(browser, "trk_wrong_again")
        valid = await sign_in(browser, ADMIN_KEY)
        # The API counts the same address: its failures share the sign-in page's.
        api_refused = await browser.get("/v1/claims", headers={"Authorization": "Bearer trk_x"})
    assert wrong == [401] * 10 + [429]
    assert refused.status_code == 429
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "Too many wrong keys" in refused.text
    assert valid.status_code == 303
    assert api_refused.status_code == 429
