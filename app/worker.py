"""The background work of a Tracer process, in `tracer serve` or in any number of
`tracer worker` processes sharing one database: alert delivery, retention and evidence capture."""

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alerts.crypto import SecretBox
from app.alerts.delivery import build_client
from app.alerts.wakeup import Wakeup
from app.alerts.worker import running_alerts
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.evidence.worker import running_captures


@asynccontextmanager
async def background(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    box: SecretBox,
    work: bool,
) -> AsyncIterator[Wakeup]:
    """This process's wake-ups on new events, and, when `work`, its share of the background work;
    everything started here is stopped when the block ends."""
    async with (
        build_client(settings) as webhook_client,
        running_alerts(
            settings=settings,
            sessionmaker=sessionmaker,
            client=webhook_client,
            box=box,
            deliver=work,
        ) as wakeup,
        AsyncExitStack() as stack,
    ):
        if work and settings.capture:
            await stack.enter_async_context(
                running_captures(settings=settings, sessionmaker=sessionmaker, waking=wakeup)
            )
        yield wakeup


async def run_worker(settings: Settings) -> None:
    """`tracer worker`: do the background work until SIGINT or SIGTERM."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    engine = create_engine(settings)
    try:
        async with background(
            settings=settings,
            sessionmaker=create_sessionmaker(engine),
            box=SecretBox(settings),
            work=True,
        ):
            await stop.wait()
    finally:
        await engine.dispose()
