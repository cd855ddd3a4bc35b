"""`tracer worker` processes: killed mid-delivery, several at once, never double-sending."""

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import outbox
from app.alerts.crypto import SecretBox
from app.alerts.delivery import build_client
from app.alerts.wakeup import local_wakeup
from app.alerts.worker import Dispatcher
from app.claims.events import ClaimStatusChanged
from app.config import Settings
from app.enums import DenialStatus
from app.transactions import transaction
from tests.alerts.conftest import SECRET_KEY, fast_settings, record_sighting, subscribe
from tests.alerts.receiver import Receiver, Reply, eventually

TRACER = Path(sys.executable).parent / "tracer"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The API alone: delivery is left to the workers each test starts."""
    return fast_settings(database_url, tmp_path, dispatch_in_app=False)


@contextmanager
def worker_process(
    database_url: str, *, lease_seconds: float = 5.0
) -> Iterator[subprocess.Popen[bytes]]:
    env = os.environ | {
        "TRACER_DATABASE_URL": database_url,
        "TRACER_SECRET_KEY": SECRET_KEY,
        "TRACER_WEBHOOK_ALLOW_PRIVATE": "true",
        "TRACER_DISPATCH_POLL_SECONDS": "0.05",
        "TRACER_DISPATCH_LEASE_SECONDS": str(lease_seconds),
        "TRACER_WEBHOOK_TIMEOUT_SECONDS": "5",
        "TRACER_WEBHOOK_RETRY_DELAYS": "[0.05, 0.05, 0.05]",
    }
    process = subprocess.Popen([str(TRACER), "worker"], env=env, stdout=subprocess.DEVNULL)
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _denial_ids(client: httpx.AsyncClient) -> set[str]:
    events = (await client.get("/v1/events", params={"type": "denial.recorded"})).json()["items"]
    return {str(e["id"]) for e in events}


async def test_a_slow_answer_outlasting_the_lease_is_not_sent_again_by_its_own_worker(
    database_url: str, client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    # The answer comes after four leases have lapsed, well within the webhook timeout.
    receiver.script = lambda n, _h: Reply(200, delay=2.0 if n == 1 else 0.0)
    await subscribe(client, receiver.url)
    await record_sighting(writer)
    with worker_process(database_url, lease_seconds=0.5):
        await eventually(lambda: len(receiver.succeeded()) == 1, seconds=30)
        await asyncio.sleep(1.0)  # time enough for a second request, were one sent
    assert receiver.arrived == 1


async def test_a_killed_worker_loses_nothing(
    database_url: str, client: httpx.AsyncClient, writer: httpx.AsyncClient, receiver: Receiver
) -> None:
    # The first request hangs until the worker sending it is dead; the rest are answered.
    receiver.script = lambda n, _h: Reply(200, delay=30.0 if n == 1 else 0.0)
    subscription = await subscribe(client, receiver.url)
    for _ in range(3):
        await record_sighting(writer)
    first_three = await _denial_ids(client)
    with worker_process(database_url, lease_seconds=1.0) as first:
        await eventually(lambda: receiver.arrived == 3, seconds=30)
        await eventually(lambda: len(receiver.requests) == 2)
        await asyncio.sleep(0.5)  # the two answered deliveries are recorded
        first.kill()
        first.wait()
    (hung,) = first_three - {r.webhook_id for r in receiver.requests}
    for _ in range(2):
        await record_sighting(writer)
    expected = await _denial_ids(client)
    assert len(expected) == 5
    with worker_process(database_url, lease_seconds=1.0):
        await eventually(lambda: {r.webhook_id for r in receiver.succeeded()} == expected, 30)
        await asyncio.sleep(0.3)
    counts = Counter(r.webhook_id for r in receiver.succeeded())
    assert counts[hung] == 1
    assert all(counts[event_id] == 1 for event_id in expected)
    # The attempt the killed worker never finished is in the log, as interrupted.
    log = await client.get(f"/v1/subscriptions/{subscription['id']}/deliveries")
    hung_attempts = [a for a in log.json()["items"] if str(a["event_id"]) == hung]
    assert [a["outcome"] for a in sorted(hung_attempts, key=lambda a: a["attempt"])] == [
        "interrupted",
        "succeeded",
    ]


async def _record_events(sessionmaker: async_sessionmaker[AsyncSession], count: int) -> None:
    async with transaction(sessionmaker) as session:
        for n in range(count):
            event = ClaimStatusChanged(
                claim_id=str(n), old_status=DenialStatus.none, new_status=DenialStatus.denied
            )
            await outbox.emit(session=session, event=event)


async def test_two_worker_processes_deliver_each_event_once(
    backend: str,
    database_url: str,
    client: httpx.AsyncClient,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    if backend != "postgresql":
        pytest.skip(
            "several worker processes are a PostgreSQL deployment; on SQLite two in-process "
            "dispatchers are tested instead"
        )
    await subscribe(client, receiver.url, event_types=["claim.status_changed"])
    await _record_events(sessionmaker, 500)
    with worker_process(database_url), worker_process(database_url):
        await eventually(lambda: len({r.webhook_id for r in receiver.succeeded()}) == 500, 60)
        await asyncio.sleep(0.5)
    counts = Counter(r.webhook_id for r in receiver.requests)
    assert len(counts) == 500
    assert max(counts.values()) == 1


@pytest.fixture
async def two_dispatchers(app: FastAPI, settings: Settings) -> AsyncIterator[None]:
    async with build_client(settings) as http, local_wakeup() as wakeup:
        dispatchers = [
            Dispatcher(
                settings=settings,
                sessionmaker=app.state.sessionmaker,
                client=http,
                box=SecretBox(settings),
                wakeup=wakeup,
            )
            for _ in range(2)
        ]
        tasks = [asyncio.create_task(d.run()) for d in dispatchers]
        yield
        for dispatcher in dispatchers:
            dispatcher.stop()
        await asyncio.gather(*tasks)


async def test_two_dispatchers_never_double_send(
    client: httpx.AsyncClient,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
    two_dispatchers: None,
) -> None:
    await subscribe(client, receiver.url, event_types=["claim.status_changed"])
    for _ in range(4):
        await _record_events(sessionmaker, 25)
    await eventually(lambda: len({r.webhook_id for r in receiver.succeeded()}) == 100, 30)
    await asyncio.sleep(0.3)
    counts = Counter(r.webhook_id for r in receiver.requests)
    assert len(counts) == 100
    assert max(counts.values()) == 1


async def test_with_no_subscription_a_backlog_is_passed_in_one_round_and_never_sent_later(
    app: FastAPI,
    settings: Settings,
    client: httpx.AsyncClient,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await _record_events(sessionmaker, 3 * settings.dispatch_batch_size)
    async with build_client(settings) as http, local_wakeup() as wakeup:
        dispatcher = Dispatcher(
            settings=settings,
            sessionmaker=app.state.sessionmaker,
            client=http,
            box=SecretBox(settings),
            wakeup=wakeup,
        )
        assert await dispatcher.fan_out() >= 3 * settings.dispatch_batch_size
        assert await dispatcher.fan_out() == 0
        await subscribe(client, receiver.url, event_types=["claim.status_changed"])
        await _record_events(sessionmaker, 2)
        assert await dispatcher.fan_out() == 2
        running = asyncio.create_task(dispatcher.run())
        await eventually(lambda: len(receiver.succeeded()) == 2, 10)
        await asyncio.sleep(0.3)
        dispatcher.stop()
        await running
    assert len(receiver.requests) == 2
