"""Waking dispatchers and event streams when events commit, instead of making them poll hard.

A commit in this process wakes its waiters directly; on PostgreSQL, LISTEN/NOTIFY carries the
news between processes. A wake-up only says "look again": waiters always re-read the database,
so a lost or spurious wake-up costs latency, never correctness.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import asyncpg
from sqlalchemy.engine import make_url

from app.outbox import EVENTS_CHANNEL, listen_locally

log = logging.getLogger(__name__)


class Wakeup:
    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def ticket(self) -> asyncio.Event:
        """Take before reading the database, so a commit between the read and the wait counts."""
        return self._event

    async def wait(self, ticket: asyncio.Event, seconds: float) -> bool:
        """Whether something happened since `ticket` was taken, waiting up to `seconds`."""
        try:
            async with asyncio.timeout(max(seconds, 0)):
                await ticket.wait()
        except TimeoutError:
            return False
        return True

    def _set(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    def notify(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
            try:
                running = asyncio.get_running_loop()
            except RuntimeError:
                running = None
            if running is self._loop:
                self._set()
            else:
                self._loop.call_soon_threadsafe(self._set)


@contextlib.asynccontextmanager
async def local_wakeup() -> AsyncIterator[Wakeup]:
    """A wake-up that commits in this process trigger, for as long as the block runs."""
    wakeup = Wakeup()
    stop_listening = listen_locally(wakeup.notify)
    try:
        yield wakeup
    finally:
        stop_listening()


def asyncpg_dsn(database_url: str) -> str:
    return make_url(database_url).set(drivername="postgresql").render_as_string(hide_password=False)


async def listen_postgres(database_url: str, wakeup: Wakeup, *, retry_seconds: float = 2.0) -> None:
    """Relay NOTIFYs on the events channel to `wakeup` until cancelled, reconnecting on loss."""
    while True:
        connection: asyncpg.Connection | None = None
        try:
            connection = await asyncpg.connect(asyncpg_dsn(database_url))
            lost = asyncio.Event()
            connection.add_termination_listener(lambda _c, lost=lost: lost.set())
            await connection.add_listener(EVENTS_CHANNEL, lambda *_args: wakeup.notify())
            # Something may have committed while we were not listening.
            wakeup.notify()
            await lost.wait()
        except (OSError, asyncpg.PostgresError) as exc:
            log.warning("listening for events failed (%s); retrying", type(exc).__name__)
        finally:
            if connection is not None and not connection.is_closed():
                with contextlib.suppress(Exception):
                    await asyncio.shield(connection.close(timeout=2))
        await asyncio.sleep(retry_seconds)
