"""API keys: scopes, revocation, hashing at rest, and the command line."""

import asyncio
import os
import re
import subprocess
import sys

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.auth.models import ApiKey
from app.config import Settings
from tests.conftest import make_client
from tests.problems import assert_problem

OUTLET = {"slug": "paper", "name": "Paper", "kind": "news_outlet"}


async def test_a_new_key_is_shown_once_and_stored_hashed(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    created = await client.post("/v1/keys", json={"name": "dashboard", "scope": "read"})

    assert created.status_code == 201
    body = created.json()
    assert {"id", "name", "scope", "created_at", "key"} <= body.keys()
    listed = (await client.get("/v1/keys")).json()["items"]
    assert [k["id"] for k in listed] == [body["id"]]
    assert "key" not in listed[0] and "key_hash" not in listed[0]
    async with sessionmaker() as session:
        stored = (await session.scalars(select(ApiKey))).one()
    assert body["key"] not in (stored.key_hash, stored.prefix, stored.name)
    assert len(stored.key_hash) == 64


async def test_scopes_decide_what_a_key_may_do(app: FastAPI, client: httpx.AsyncClient) -> None:
    read = (await client.post("/v1/keys", json={"name": "r", "scope": "read"})).json()["key"]
    write = (await client.post("/v1/keys", json={"name": "w", "scope": "write"})).json()["key"]
    async with make_client(app, read) as reader, make_client(app, write) as writer:
        assert (await reader.get("/v1/outlets")).status_code == 200
        assert_problem(await reader.post("/v1/outlets", json=OUTLET), 403)
        assert (await writer.post("/v1/outlets", json=OUTLET)).status_code == 201
        assert_problem(await writer.post("/v1/keys", json={"name": "x", "scope": "admin"}), 403)
        assert_problem(await writer.get("/v1/keys"), 403)


async def test_missing_unknown_and_revoked_keys_are_401(
    app: FastAPI, client: httpx.AsyncClient, anonymous: httpx.AsyncClient
) -> None:
    created = (await client.post("/v1/keys", json={"name": "temp", "scope": "read"})).json()
    async with make_client(app, created["key"]) as holder, make_client(app, "trk_wrong") as wrong:
        assert (await holder.get("/v1/claims")).status_code == 200
        assert (await client.delete(f"/v1/keys/{created['id']}")).status_code == 204

        revoked = assert_problem(await holder.get("/v1/claims"), 401)
        assert_problem(await wrong.get("/v1/claims"), 401)
        missing = await anonymous.get("/v1/claims")

    assert_problem(missing, 401)
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert "revoked" in revoked["detail"]
    listed = (await client.get("/v1/keys")).json()["items"]
    assert listed[0]["revoked_at"] is not None


async def test_bad_key_requests_are_problems(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/v1/keys", json={"name": "x", "scope": "root"}), 422, "scope")
    assert_problem(await client.post("/v1/keys", json={"scope": "read"}), 422, "name")
    assert_problem(await client.delete("/v1/keys/no-such-key"), 404)


async def test_health_needs_no_key(anonymous: httpx.AsyncClient) -> None:
    assert (await anonymous.get("/healthz")).json() == {"status": "ok"}
    assert (await anonymous.get("/readyz")).status_code == 200
    assert (await anonymous.get("/openapi.json")).status_code == 200


def _cli_create_key(settings: Settings, scope: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACER_DATABASE_URL": settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", "keys", "create", "--name", "ops", "--scope", scope],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


async def test_cli_prints_a_working_key_alone_on_its_last_line(
    app: FastAPI, settings: Settings
) -> None:
    done = await asyncio.to_thread(_cli_create_key, settings, "read")

    key = done.stdout.strip().splitlines()[-1]
    assert key.startswith("trk_") and " " not in key
    async with make_client(app, key) as holder:
        assert (await holder.get("/v1/claims")).status_code == 200
        assert_problem(await holder.post("/v1/outlets", json=OUTLET), 403)


def _cli(settings: Settings, *arguments: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRACER_DATABASE_URL": settings.database_url}
    return subprocess.run(
        [sys.executable, "-m", "app", "keys", *arguments],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _row(listing: str, key_id: str) -> list[str]:
    """The listing's columns for one key: id, scope, prefix, created, revoked, name."""
    line = next(line for line in listing.splitlines() if line.startswith(key_id))
    return re.split(r"\s{2,}", line.strip())


async def test_cli_lists_keys_without_their_secrets_and_revokes_one(
    app: FastAPI, settings: Settings, client: httpx.AsyncClient
) -> None:
    created = (await client.post("/v1/keys", json={"name": "night desk", "scope": "write"})).json()
    listed = await asyncio.to_thread(_cli, settings, "list")
    assert listed.returncode == 0, listed.stderr
    columns = _row(listed.stdout, created["id"])
    assert columns[1:3] == ["write", created["prefix"]]
    assert columns[4:] == ["-", "night desk"]
    assert created["key"] not in listed.stdout

    revoked = await asyncio.to_thread(_cli, settings, "revoke", created["id"])
    assert revoked.returncode == 0, revoked.stderr
    async with make_client(app, created["key"]) as holder:
        assert_problem(await holder.get("/v1/claims"), 401)
    listed_again = await asyncio.to_thread(_cli, settings, "list")
    assert _row(listed_again.stdout, created["id"])[4] == created["created_at"][:10]
    history = (await client.get("/v1/audit", params={"action": "revoked"})).json()["items"]
    assert [(e["target_id"], e["key_name"]) for e in history] == [(created["id"], "command line")]

    unknown = await asyncio.to_thread(_cli, settings, "revoke", "no-such-key")
    assert unknown.returncode == 2
    assert "no API key with id 'no-such-key'" in unknown.stderr
