"""Subscriptions: the contract's fields, admin-only changes, problem+json for bad input."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alerts import service
from app.alerts.delivery import build_client, send
from app.alerts.models import Subscription
from app.alerts.schemas import SubscriptionCreate
from app.auth.service import COMMAND_LINE
from app.main import create_app
from tests.alerts.conftest import fast_settings, record_sighting, subscribe
from tests.alerts.receiver import Receiver
from tests.conftest import make_client, started
from tests.problems import assert_problem


async def test_create_read_update_delete(
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    claim = (await client.post("/v1/claims", json={"statement": "Troops offered"})).json()
    created = await subscribe(
        client,
        receiver.url,
        event_types=["denial.recorded", "claim.resurfaced"],
        claim_ids=[claim["id"]],
        tags=["korea"],
        description="newsroom desk",
    )
    assert created["secret"].startswith("whsec_")
    assert created["status"] == "active"
    assert created["event_types"] == ["denial.recorded", "claim.resurfaced"]
    path = f"/v1/subscriptions/{created['id']}"

    shown = (await reader.get(path)).json()
    assert "secret" not in shown
    assert shown["claim_ids"] == [claim["id"]]
    listed = (await reader.get("/v1/subscriptions")).json()
    assert [s["id"] for s in listed["items"]] == [created["id"]]
    async with sessionmaker() as session:
        stored = await session.scalar(select(Subscription))
        assert stored is not None
        assert created["secret"] not in stored.secret_encrypted

    patched = await client.patch(path, json={"tags": [], "enabled": False, "description": None})
    assert patched.status_code == 200, patched.text
    assert patched.json()["status"] == "disabled"
    assert patched.json()["tags"] == []
    assert patched.json()["description"] is None
    resumed = await client.patch(path, json={"enabled": True})
    assert resumed.json()["status"] == "active"

    assert (await client.delete(path)).status_code == 204
    assert_problem(await reader.get(path), 404)


async def test_only_admins_change_subscriptions(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    body = {"url": "https://example.org/hook", "event_types": ["denial.recorded"]}
    assert_problem(await writer.post("/v1/subscriptions", json=body), 403)
    assert_problem(await reader.post("/v1/subscriptions", json=body), 403)
    assert_problem(await anonymous.post("/v1/subscriptions", json=body), 401)
    assert_problem(await anonymous.get("/v1/events"), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "https://example.org/h", "event_types": ["claim.deleted"]}, "event_types"),
        ({"url": "https://example.org/h", "event_types": []}, "event_types"),
        ({"url": "ftp://example.org/h", "event_types": ["denial.recorded"]}, "url"),
        ({"url": "not a url", "event_types": ["denial.recorded"]}, "url"),
        ({"event_types": ["denial.recorded"]}, "url"),
        (
            {"url": "https://example.org/h", "event_types": ["denial.recorded"], "x": 1},
            "x",
        ),
        (
            {
                "url": "https://example.org/h",
                "event_types": ["denial.recorded"],
                "claim_ids": ["no-such-claim"],
            },
            "claim_ids",
        ),
    ],
)
async def test_bad_input_is_a_problem(
    client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    assert_problem(await client.post("/v1/subscriptions", json=body), 422, field)


async def test_bad_patch_and_unknown_ids(client: httpx.AsyncClient, receiver: Receiver) -> None:
    created = await subscribe(client, receiver.url)
    path = f"/v1/subscriptions/{created['id']}"
    assert_problem(await client.patch(path, json={"event_types": ["nope"]}), 422, "event_types")
    assert_problem(await client.patch(path, json={"url": "gopher://x"}), 422, "url")
    assert_problem(await client.get("/v1/subscriptions/nope"), 404)
    assert_problem(await client.get("/v1/subscriptions/nope/deliveries"), 404)
    assert_problem(await client.get("/v1/events", params={"after": -1}), 422, "after")
    assert_problem(await client.get("/v1/events", params={"after": 10**30}), 422, "after")
    assert_problem(await client.post(f"{path}/deliveries/{10**30}/redeliver"), 422, "event_id")
    assert_problem(await client.post(f"{path}/deliveries/abc/redeliver"), 422, "event_id")
    assert_problem(await client.get(f"{path}/deliveries", params={"event_id": 0}), 422)


@pytest.fixture
async def guarded_app(database_url: str, tmp_path: Path) -> AsyncIterator[FastAPI]:
    """A server that refuses private webhook addresses, as production does."""
    app = create_app(fast_settings(database_url, tmp_path, webhook_allow_private=False))
    async with started(app):
        yield app


@pytest.fixture
async def guarded(guarded_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(guarded_app) as http:
        yield http


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/hook",
        "http://localhost:9000/hook",
        "http://192.168.0.10/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://224.0.0.1/hook",
        "http://0.0.0.0/hook",
        "http://2130706433/hook",
        "http://no-such-host.invalid/hook",
    ],
)
async def test_private_addresses_are_refused(guarded: httpx.AsyncClient, url: str) -> None:
    body = {"url": url, "event_types": ["denial.recorded"]}
    assert_problem(await guarded.post("/v1/subscriptions", json=body), 422, "url")


async def test_a_private_address_refusal_names_the_setting_that_allows_it(
    guarded: httpx.AsyncClient,
) -> None:
    private = {"url": "http://127.0.0.1:9000/hook", "event_types": ["denial.recorded"]}
    not_web = {"url": "ftp://example.org/hook", "event_types": ["denial.recorded"]}

    refused = assert_problem(await guarded.post("/v1/subscriptions", json=private), 422, "url")
    malformed = assert_problem(await guarded.post("/v1/subscriptions", json=not_web), 422, "url")

    assert "TRACER_WEBHOOK_ALLOW_PRIVATE=true" in refused["detail"]
    assert "TRACER_WEBHOOK_ALLOW_PRIVATE" in refused["errors"][0]["msg"]
    # No setting makes an ftp URL a webhook: the refusal does not suggest one.
    assert "TRACER_WEBHOOK_ALLOW_PRIVATE" not in malformed["detail"]


async def test_a_public_address_is_accepted(guarded: httpx.AsyncClient) -> None:
    body = {"url": "https://93.184.215.14/hook", "event_types": ["denial.recorded"]}
    response = await guarded.post("/v1/subscriptions", json=body)
    assert response.status_code == 201, response.text
    changed = await guarded.patch(
        f"/v1/subscriptions/{response.json()['id']}", json={"url": "http://10.0.0.1/"}
    )
    assert_problem(changed, 422, "url")


async def test_delivery_checks_the_address_again(
    guarded_app: FastAPI, guarded: httpx.AsyncClient, receiver: Receiver
) -> None:
    """A URL that was public when saved but points inward now (DNS changed) is not called."""
    async with guarded_app.state.sessionmaker() as session, session.begin():
        subscription, _secret = await service.create(
            session=session,
            data=SubscriptionCreate(url=receiver.url, event_types=["denial.recorded"]),
            box=guarded_app.state.secret_box,
            allow_private=True,
            actor=COMMAND_LINE,
        )
    await record_sighting(guarded)
    path = f"/v1/subscriptions/{subscription.id}/deliveries"

    async def attempts() -> list[dict[str, object]]:
        items: list[dict[str, object]] = (await guarded.get(path)).json()["items"]
        return items

    for _ in range(200):
        if await attempts():
            break
        await asyncio.sleep(0.02)
    logged = await attempts()
    assert logged, "the dispatcher never tried"
    assert logged[0]["status_code"] is None
    assert "not a public address" in str(logged[0]["error"])
    assert receiver.requests == []


@pytest.mark.parametrize("allow_private", [False, True])
async def test_the_connection_goes_only_to_an_address_checked_as_it_is_made(
    receiver: Receiver, tmp_path: Path, allow_private: bool
) -> None:
    """Past every earlier check, the client itself resolves, checks and connects: a name that
    answered with a public address a moment ago cannot lead it inward (DNS rebinding)."""
    settings = fast_settings("sqlite+aiosqlite://", tmp_path, webhook_allow_private=allow_private)
    by_name = receiver.url.replace("127.0.0.1", "localhost")

    async with build_client(settings) as http:
        answer = await send(http, url=by_name, body=b"{}", headers={}, seconds=3.0)

    if allow_private:
        assert answer.status_code == 200
        assert len(receiver.requests) == 1
    else:
        assert answer.status_code is None
        assert "not public" in str(answer.error)
        assert receiver.arrived == 0
