"""Real databases for every test: SQLite always, PostgreSQL when TRACER_TEST_POSTGRES_URL is set.

The schema is built once per session from the migrations; each test then starts from a clean
state (a fresh copy of the migrated SQLite file, or truncated PostgreSQL tables).
"""

import asyncio
import os
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker, create_async_engine
from typer.testing import CliRunner

from app.claims import indexing
from app.cli import cli
from app.config import Settings, get_settings
from app.db import Base, create_engine, create_sessionmaker
from app.main import create_app
from app.migrate import upgrade_to_head
from tests.story import WORKED_EXAMPLE

# Nothing is fetched for evidence unless a test asks for it (tests/evidence serves its own
# pages), and nothing is stored beside the code: this holds for the settings every test makes
# and for the commands and servers the tests start, which inherit the environment.
os.environ.setdefault("TRACER_CAPTURE", "false")
os.environ.setdefault(
    "TRACER_EVIDENCE_STORE", os.path.join(tempfile.gettempdir(), "tracer-test-evidence")
)

POSTGRES_URL = os.environ.get("TRACER_TEST_POSTGRES_URL")
BACKENDS = ["sqlite", "postgresql"] if POSTGRES_URL else ["sqlite"]
ADMIN_KEY = "trk_test_bootstrap_admin_key"


def pytest_report_header() -> str:
    if POSTGRES_URL:
        return f"databases: sqlite, postgresql ({make_url(POSTGRES_URL).render_as_string()})"
    return "databases: sqlite only (set TRACER_TEST_POSTGRES_URL to also run on PostgreSQL)"


def _migrate(url: str) -> None:
    async def run() -> None:
        engine = create_engine(Settings(database_url=url))
        await upgrade_to_head(engine)
        await engine.dispose()

    asyncio.run(run())


async def _admin_execute(statement: str) -> None:
    assert POSTGRES_URL
    engine = create_async_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def create_postgres_database() -> str:
    """A new, empty PostgreSQL database of this run's own, so parallel runs never collide."""
    assert POSTGRES_URL
    name = f"tracer_test_{uuid.uuid4().hex[:12]}"
    try:
        asyncio.run(_admin_execute(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        pytest.exit(f"TRACER_TEST_POSTGRES_URL is set but PostgreSQL is unreachable: {exc}", 3)
    return make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)


def drop_postgres_database(url: str) -> None:
    name = make_url(url).database
    asyncio.run(_admin_execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "tracer.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    url = create_postgres_database()
    _migrate(url)
    yield url
    drop_postgres_database(url)


# Truncating a table costs new files whether or not it holds rows, and most tests write to a
# few of the tables: only those holding rows are truncated. Every sequence starts again, one
# that only a rolled-back insert moved included.
_TABLES_HOLDING_ROWS = " UNION ALL ".join(
    f"SELECT '{table.name}' WHERE EXISTS (SELECT FROM \"{table.name}\")"
    for table in Base.metadata.sorted_tables
)
_SEQUENCES_RESTARTED = (
    "SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false)"
    " FROM pg_sequences"
)


async def _truncate_postgres(url: str) -> None:
    engine = create_async_engine(url)
    async with engine.begin() as connection:
        holding = (await connection.execute(text(_TABLES_HOLDING_ROWS))).scalars().all()
        if holding:
            tables = ", ".join(f'"{name}"' for name in holding)
            await connection.execute(text(f"TRUNCATE {tables} CASCADE"))
        await connection.execute(text(_SEQUENCES_RESTARTED))
    await engine.dispose()


# Synchronous, so that the session's PostgreSQL database (made with asyncio.run) can be created
# here lazily: no event loop is running yet.
@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """A clean, migrated database of each backend in turn."""
    if request.param == "sqlite":
        path = tmp_path / "tracer.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite+aiosqlite:///{path}"
    url: str = request.getfixturevalue("postgres_url")
    asyncio.run(_truncate_postgres(url))
    return url


@pytest.fixture
def backend(database_url: str) -> str:
    return make_url(database_url).get_backend_name()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        bootstrap_admin_key=ADMIN_KEY,
        webhook_allow_private=True,
        admin_key_file=tmp_path / "admin-key",
        # Load tests make more requests with one key than a minute's default allows; the
        # limit itself is tested with its own small settings (tests/hardening).
        rate_limit=1_000_000,
        evidence_store=str(tmp_path / "evidence"),
        # Vectors are embedded when a test says so (`indexed`), so what a test counts or
        # matches never depends on when a background round happened to run.
        index_in_app=False,
        # Captures fetch the sightings' URLs, which are made up in most tests: the web is never
        # reached from a test, so the tests of evidence switch captures on against their own server.
        capture=False,
    )


def started(application: FastAPI) -> LifespanManager:
    """The app started for the length of a block and stopped after it.

    The first start in a worker loads the matching model, and stopping waits for the app's
    background tasks: either can take more than asgi-lifespan's default five seconds when the
    machine is busy.
    """
    return LifespanManager(application, startup_timeout=60, shutdown_timeout=60)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with started(application):
        yield application


@pytest.fixture
def sessionmaker(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    """Direct database access, for checking what was (or was not) stored."""
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return maker


@pytest.fixture
async def idle_sessionmaker(
    database_url: str,
) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Direct access to the database with no app running on it: no background task (the
    dispatcher, the indexer) touches what a test stores before the test reads it."""
    engine = create_engine(Settings(database_url=database_url))
    try:
        yield create_sessionmaker(engine)
    finally:
        await engine.dispose()


@pytest.fixture
def indexed(sessionmaker: async_sessionmaker[AsyncSession]) -> Callable[[], Awaitable[None]]:
    """Brings the claims' sentence vectors up to every change committed so far, as the
    background indexer does within seconds."""
    return lambda: indexing.catch_up(sessionmaker)


def make_client(app: FastAPI, key: str | None = ADMIN_KEY) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://tracer.test", headers=headers
    )


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """An admin client."""
    async with make_client(app) as http:
        yield http


@pytest.fixture
async def anonymous(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app, key=None) as http:
        yield http


@pytest.fixture
async def writer(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding a `write` key, as fact-checkers do."""
    created = await client.post("/v1/keys", json={"name": "desk", "scope": "write"})
    async with make_client(app, created.json()["key"]) as http:
        yield http


@pytest.fixture
async def reader(app: FastAPI, client: httpx.AsyncClient) -> AsyncIterator[httpx.AsyncClient]:
    """A client holding a `read` key, as dashboards do."""
    created = await client.post("/v1/keys", json={"name": "dashboard", "scope": "read"})
    async with make_client(app, created.json()["key"]) as http:
        yield http


@pytest.fixture
async def worked_example(writer: httpx.AsyncClient) -> dict[str, Any]:
    """Both claims of the worked example; `ids` maps each item's ref to its sighting id."""
    response = await writer.post("/v1/sightings/batch", json={"items": WORKED_EXAMPLE})
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created"] * len(WORKED_EXAMPLE), results
    ids = {r["ref"]: r["id"] for r in results}
    troops = (await writer.get(f"/v1/sightings/{ids['laundress']}")).json()["claim_id"]
    workers = (await writer.get(f"/v1/sightings/{ids['daily-nk']}")).json()["claim_id"]
    return {"ids": ids, "troops": troops, "workers": workers}


@pytest.fixture
def tracer(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Runs the `tracer` command against the test database."""
    monkeypatch.setenv("TRACER_DATABASE_URL", settings.database_url)
    get_settings.cache_clear()
    runner = CliRunner()
    yield lambda *args: runner.invoke(cli, [str(a) for a in args])
    get_settings.cache_clear()
