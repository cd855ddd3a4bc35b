"""The capture worker: queues what the outbox announced, leases due sources and fetches them.

Runs in `tracer serve` and in any number of `tracer worker` processes sharing one database;
`tracer capture --pending` runs the same steps once through the sightings not captured yet.
"""

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.config import Settings
from app.db import create_engine, create_sessionmaker
from app.enums import EvidenceStatus
from app.evidence import queue
from app.evidence.capturing import Capturer
from app.evidence.fetching import Fetcher
from app.evidence.models import SightingEvidence
from app.evidence.readers import reading_processes
from app.evidence.store import open_store

log = logging.getLogger(__name__)

QUEUE_BATCH = 500


class Waking(Protocol):
    """Tells a waiting worker that events were committed (alerts' wake-ups are one)."""

    def ticket(self) -> asyncio.Event: ...

    async def wait(self, ticket: asyncio.Event, seconds: float) -> bool: ...


def owner_name() -> str:
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class CaptureWorker:
    def __init__(
        self,
        *,
        settings: Settings,
        sessionmaker: async_sessionmaker[AsyncSession],
        capturer: Capturer,
    ) -> None:
        self.settings = settings
        self.sessionmaker = sessionmaker
        self.capturer = capturer
        self._stopping = False

    @property
    def owner(self) -> str:
        return self.capturer.owner

    async def queue_round(self) -> int:
        """Queue the sightings the next events announced; how many events were read."""
        async with self.sessionmaker() as session, session.begin():
            return await queue.queue_from_events(session=session, batch=QUEUE_BATCH)

    async def lease(self, limit: int, *, pending_only: bool = False) -> list[str]:
        if limit <= 0:
            return []
        async with self.sessionmaker() as session, session.begin():
            return await queue.lease(
                session=session,
                owner=self.owner,
                limit=limit,
                seconds=self.settings.capture_lease_seconds,
                pending_only=pending_only,
            )

    async def _capture(self, sighting_id: str) -> None:
        try:
            await self.capturer.capture(sighting_id)
        except Exception:
            # Unrecorded, the lease lapses and the source is fetched again: at least once.
            log.exception("capture of sighting %s failed", sighting_id)

    def stop(self) -> None:
        self._stopping = True

    async def run(self, waking: Waking) -> None:
        """Queue, lease and capture until stopped, then finish the fetches in flight."""
        running: set[asyncio.Task[None]] = set()
        limit = max(self.settings.capture_concurrency, 1)
        while not self._stopping:
            ticket = waking.ticket()
            busy = False
            try:
                busy = await self.queue_round() > 0
                for sighting_id in await self.lease(limit - len(running)):
                    running.add(asyncio.create_task(self._capture(sighting_id)))
                    busy = True
            except Exception:
                log.exception("capture queue round failed; trying again")
            seconds = 0 if busy and len(running) < limit else self.settings.capture_poll_seconds
            waiting = asyncio.create_task(waking.wait(ticket, seconds))
            done, _ = await asyncio.wait({waiting, *running}, return_when=asyncio.FIRST_COMPLETED)
            if waiting not in done:
                waiting.cancel()
            running.difference_update(done)
        if running:
            await asyncio.gather(*running, return_exceptions=True)

    async def capture_pending(self) -> dict[str, int]:
        """Capture every sighting not fetched yet, never queued ones included; the statuses
        they ended with, counted."""
        while True:
            async with self.sessionmaker() as session, session.begin():
                if await queue.queue_unqueued(session=session, limit=QUEUE_BATCH) == 0:
                    break
        done: list[str] = []
        limit = max(self.settings.capture_concurrency, 1)
        while leased := await self.lease(limit, pending_only=True):
            await asyncio.gather(*(self._capture(sighting_id) for sighting_id in leased))
            done.extend(leased)
        return await self._statuses(done)

    async def _statuses(self, sighting_ids: list[str]) -> dict[str, int]:
        counts = {status.value: 0 for status in EvidenceStatus}
        async with self.sessionmaker() as session:
            for start in range(0, len(sighting_ids), QUEUE_BATCH):
                rows = await session.execute(
                    select(SightingEvidence.status, func.count())
                    .where(
                        SightingEvidence.sighting_id.in_(sighting_ids[start : start + QUEUE_BATCH])
                    )
                    .group_by(SightingEvidence.status)
                )
                for status, count in rows:
                    counts[status] += count
        return counts


@contextlib.asynccontextmanager
async def capture_worker(
    *, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[CaptureWorker]:
    """A worker with this process's fetcher and store, closed when the block ends."""
    async with Fetcher.from_settings(settings) as fetcher:
        capturer = Capturer(
            settings=settings,
            sessionmaker=sessionmaker,
            fetcher=fetcher,
            store=open_store(settings.evidence_store),
            owner=owner_name(),
        )
        yield CaptureWorker(settings=settings, sessionmaker=sessionmaker, capturer=capturer)


@contextlib.asynccontextmanager
async def running_captures(
    *, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession], waking: Waking
) -> AsyncIterator[None]:
    """Captures running in the background for as long as the block runs."""
    async with (
        reading_processes(),
        capture_worker(settings=settings, sessionmaker=sessionmaker) as worker,
    ):
        task = asyncio.create_task(worker.run(waking))
        try:
            yield
        finally:
            worker.stop()
            grace = settings.fetch_timeout_seconds + 5
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(task), grace)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def capture_pending(settings: Settings) -> dict[str, int]:
    """`tracer capture --pending`: capture every sighting not fetched yet, in this process."""
    engine = create_engine(settings)
    try:
        maker = create_sessionmaker(engine)
        async with (
            reading_processes(),
            capture_worker(settings=settings, sessionmaker=maker) as worker,
        ):
            return await worker.capture_pending()
    finally:
        await engine.dispose()
