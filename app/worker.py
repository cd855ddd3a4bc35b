"""The background work of a Tracer process, in `tracer serve` or in any number of
`tracer worker` processes sharing one database: alert delivery, retention, evidence capture
and the claims' sentence vectors."""

import asyncio
import contextlib
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alerts.crypto import SecretBox
from app.alerts.delivery import build_client
from app.alerts.wakeup import Wakeup
from app.alerts.worker import running_alerts
from app.claims import indexing
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.evidence.worker import running_captures

log = logging.getLogger(__name__)


async def keep_indexing(
    *, sessionmaker: async_sessionmaker[AsyncSession], wakeup: Wakeup, poll_seconds: float
) -> None:
    """Embed claims whose wordings changed, woken by commits, until cancelled."""
    while True:
        ticket = wakeup.ticket()
        try:
            busy = await indexing.index_round(sessionmaker) > 0
        except Exception:
            log.exception("indexing claims' vectors failed; trying again")
            busy = False
        if not busy:
            await wakeup.wait(ticket, poll_seconds)


@asynccontextmanager
async def background(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    box: SecretBox,
    work: bool,
    index: bool | None = None,
) -> AsyncIterator[Wakeup]:
    """This process's wake-ups on new events, and, when `work`, its share of the background work
    (the claims' vectors too, unless `index` says otherwise); everything started here is
    stopped when the block ends."""
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
        indexer = (
            asyncio.create_task(
                keep_indexing(
                    sessionmaker=sessionmaker,
                    wakeup=wakeup,
                    poll_seconds=settings.dispatch_poll_seconds,
                )
            )
            if (work if index is None else index)
            else None
        )
        try:
            yield wakeup
        finally:
            if indexer is not None:
                indexer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await indexer


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
