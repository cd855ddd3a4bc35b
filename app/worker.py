"""The background work of a Tracer process, in `tracer serve` or in any number of
`tracer worker` processes sharing one database: alert delivery, retention, evidence capture
and the claims' sentence vectors."""

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import AsyncIterator, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from multiprocessing import get_context
from multiprocessing.connection import Connection

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.alerts.crypto import SecretBox
from app.alerts.delivery import build_client
from app.alerts.wakeup import Wakeup
from app.alerts.worker import running_alerts
from app.claims import embeddings, indexing
from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.evidence.worker import running_captures
from app.logs import configure_logging
from app.outbox import listen_locally

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
    slow_work_apart: bool = False,
) -> AsyncIterator[Wakeup]:
    """This process's wake-ups on new events, and, when `work`, its share of the background work
    (the claims' vectors too, unless `index` says otherwise; captures and vectors in a process of
    their own when `slow_work_apart`); everything started here is stopped when the block ends."""
    capture = work and settings.capture
    embed = work if index is None else index
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
        if slow_work_apart and (capture or embed):
            await stack.enter_async_context(
                slow_work_process(settings=settings, wakeup=wakeup, capture=capture, index=embed)
            )
        else:
            await stack.enter_async_context(
                slow_work(
                    settings=settings,
                    sessionmaker=sessionmaker,
                    wakeup=wakeup,
                    capture=capture,
                    index=embed,
                )
            )
        yield wakeup


@asynccontextmanager
async def slow_work(
    *,
    settings: Settings,
    sessionmaker: async_sessionmaker[AsyncSession],
    wakeup: Wakeup,
    capture: bool,
    index: bool,
) -> AsyncIterator[None]:
    """Captures and the claims' vectors, as asked, for as long as the block runs."""
    async with AsyncExitStack() as stack:
        if capture:
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
            if index
            else None
        )
        try:
            yield
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
    # Vectors are stored under their model's name, and matching reads only its own model's.
    embeddings.configure(
        model_path=settings.embedding_model_path, threads=settings.embedding_threads
    )
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


# A capture's fetching, storing and bookkeeping cost the process running it about 16 ms of CPU
# (bench/captures.py), and embedding a claim's wordings up to a quarter of a second: beside the
# API in one event loop, that time lands on the requests waiting behind it. In a process of its
# own, at the lowest priority, it takes what requests leave: at 10, with two embedding threads,
# a SQLite bulk load ran about a tenth slower beside it.
SLOW_WORK_NICENESS = 19
SLOW_WORK_PROCESS_NAME = "tracer-slow-work"


def _wake_on_commits(writer: Connection) -> Callable[[], None]:
    """Write a byte down `writer` after each local commit carrying events; returns the undo."""
    descriptor = writer.fileno()
    os.set_blocking(descriptor, False)

    def wake() -> None:
        # A full pipe already holds wake-ups the other side has not read.
        with contextlib.suppress(OSError):
            os.write(descriptor, b"w")

    return listen_locally(wake)


def _relay_wakes(
    reader: Connection, wakeup: Wakeup, gone: Callable[[], None]
) -> Callable[[], None]:
    """Notify `wakeup` for each byte coming up `reader`, and call `gone` once its other end
    closes; returns the undo."""
    descriptor = reader.fileno()
    os.set_blocking(descriptor, False)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        try:
            data = os.read(descriptor, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            wakeup.notify()
        else:
            loop.remove_reader(descriptor)
            gone()

    def undo() -> None:
        loop.remove_reader(descriptor)

    loop.add_reader(descriptor, readable)
    return undo


def _work_apart(
    settings: Settings, capture: bool, index: bool, from_parent: Connection, to_parent: Connection
) -> None:
    os.nice(SLOW_WORK_NICENESS)
    configure_logging(settings.log_level)
    # A terminal's Ctrl-C reaches the whole process group; the parent decides when this ends.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    asyncio.run(_work_until_parent_leaves(settings, capture, index, from_parent, to_parent))


async def _work_until_parent_leaves(
    settings: Settings, capture: bool, index: bool, from_parent: Connection, to_parent: Connection
) -> None:
    """Work until the parent closes its end of the pipe, on shutting down or on dying."""
    leaving = asyncio.Event()
    wakeup = Wakeup()
    stop_relaying = _relay_wakes(from_parent, wakeup, leaving.set)
    stop_waking = _wake_on_commits(to_parent)
    # The model the API matches with, on every core: at its priority this process takes only
    # what requests leave, and embeds on two cores 1.7 times as fast as on one (bench: 2,000
    # new claims indexed 70 s after a bulk load ended, against 132 s on one core at niceness 10).
    embeddings.configure(model_path=settings.embedding_model_path, threads=os.cpu_count() or 1)
    engine = create_engine(settings)
    try:
        async with slow_work(
            settings=settings,
            sessionmaker=create_sessionmaker(engine),
            wakeup=wakeup,
            capture=capture,
            index=index,
        ):
            await leaving.wait()
    finally:
        stop_waking()
        stop_relaying()
        await engine.dispose()


# Long enough that a child failing at start does not spin; short next to the 10 seconds
# within which a recorded claim is matched across languages.
RESTART_DELAY_SECONDS = 1.0


@asynccontextmanager
async def slow_work_process(
    *, settings: Settings, wakeup: Wakeup, capture: bool, index: bool
) -> AsyncIterator[None]:
    """Captures and vectors, as asked, in a child process for as long as the block runs, started
    again if it dies. Commits here wake it and its commits wake `wakeup`: on SQLite nothing else
    would tell either side."""
    stopping = asyncio.Event()
    supervisor = asyncio.create_task(
        _supervise(settings=settings, wakeup=wakeup, capture=capture, index=index, stop=stopping)
    )
    try:
        yield
    finally:
        stopping.set()
        await supervisor


async def _supervise(
    *, settings: Settings, wakeup: Wakeup, capture: bool, index: bool, stop: asyncio.Event
) -> None:
    context = get_context("spawn")
    while not stop.is_set():
        from_parent, to_child = context.Pipe(duplex=False)
        from_child, to_parent = context.Pipe(duplex=False)
        child = context.Process(
            target=_work_apart,
            args=(settings, capture, index, from_parent, to_parent),
            name=SLOW_WORK_PROCESS_NAME,
        )
        await asyncio.to_thread(child.start)
        # Only the child holds these ends now: its ending closes them, and ours closing tells it.
        from_parent.close()
        to_parent.close()
        ended = asyncio.Event()
        stop_relaying = _relay_wakes(from_child, wakeup, ended.set)
        stop_waking = _wake_on_commits(to_child)
        try:
            await _first_of(stop, ended)
        finally:
            stop_waking()
            stop_relaying()
            to_child.close()
            from_child.close()
            # The child finishes the fetches in flight, as captures in this process would.
            await asyncio.to_thread(child.join, settings.fetch_timeout_seconds + 10)
            if child.is_alive():
                child.kill()
                await asyncio.to_thread(child.join)
        if not stop.is_set():
            log.error(
                "the process for captures and vectors ended (exit code %s); starting another",
                child.exitcode,
            )
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(RESTART_DELAY_SECONDS):
                    await stop.wait()


async def _first_of(*events: asyncio.Event) -> None:
    waits = [asyncio.create_task(event.wait()) for event in events]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiting in waits:
            waiting.cancel()
