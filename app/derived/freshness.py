"""Whether a kept document is still current: checks of the outbox, each shared by every request
waiting when it begins.

Every change to what a kept document shows writes an event in the change's own transaction,
and event ids grow in commit order (app.outbox), so the events after the last one seen name
every claim changed since, whichever process changed it. A change that writes no event yet may
change any claim's documents moves a tally read in the same statement: a count in
`document_changes` that its transaction adds to (an outlet's correction), or the newest value
of an indexed column (an evidence check's `checked_at`). Each part of the statement reads a
row or an index's end, so a check costs the same however large the tables grow.
"""

import asyncio
import logging
from collections.abc import Callable
from contextlib import suppress
from functools import cache
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.derived.models import DocumentChanges
from app.outbox.models import Event

log = logging.getLogger("tracer.derived")

# Events read per check; a longer backlog drops every document and goes on from there.
EVENTS_PER_CHECK = 500
# Larger than any event id: the first check reads no events.
_NONE_YET = 2**62

_latest_columns: list[tuple[str, str]] = []

_COUNT = text(
    f"INSERT INTO {DocumentChanges.__tablename__} (source, changes) VALUES (:source, 1) "
    f"ON CONFLICT (source) DO UPDATE SET changes = {DocumentChanges.__tablename__}.changes + 1"
)


async def every_document_changed(*, session: AsyncSession, source: str) -> None:
    """Count, in the current transaction, a change that writes no event and may change any
    claim's documents: every process drops the documents it keeps once it commits."""
    await session.execute(_COUNT, {"source": source})


def moves_every_document(table: str, column: str) -> None:
    """Declare an indexed column whose newest value moves with every change to `table` that
    writes no event and may change any claim's documents."""
    _latest_columns.append((table, column))


Apply = Callable[[int, list[Any], bool], None]
"""Told of each check, by number: the events since the last one, and whether every document
must go."""


class OutboxWatch:
    """Checks of the outbox, one at a time, each shared by every request waiting when it begins.

    A request waits for a check that begins after it arrives: the rest of the one under way,
    if any, then the next. Checks overlapping would spare a request that rest, but under load
    each costs the process a round trip's work for fewer requests: one at a time answered more
    requests a second (bench/reads_wrk) and each of them sooner.
    """

    def __init__(self, engine: AsyncEngine, apply: Apply) -> None:
        # Outside a transaction: a single statement needs no snapshot of its own, and a kept
        # connection must not hold one open between checks.
        self._engine = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._apply = apply
        self._connection: AsyncConnection | None = None
        self._waiting: list[asyncio.Future[int | None]] = []
        self._task: asyncio.Task[None] | None = None
        self._seen: int | None = None
        self._tally: str | None = None
        self.checks = 0

    async def current(self) -> int | None:
        """The number of a check that began after this call, or None if it failed."""
        waiting: asyncio.Future[int | None] = asyncio.get_running_loop().create_future()
        self._waiting.append(waiting)
        if self._task is None:
            self._begin()
        return await waiting

    async def close(self) -> None:
        while self._task is not None:
            await asyncio.gather(self._task, return_exceptions=True)
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(Exception):
                await connection.close()

    def _begin(self) -> None:
        batch, self._waiting = self._waiting, []
        self._task = asyncio.create_task(self._run(batch))
        self._task.add_done_callback(self._finished)

    def _finished(self, _: asyncio.Task[None]) -> None:
        self._task = None
        if self._waiting:
            self._begin()

    async def _run(self, batch: list[asyncio.Future[int | None]]) -> None:
        try:
            number: int | None = await self._check()
        except Exception as exc:
            # The request goes on to the database itself, and says why it cannot.
            log.warning("outbox check failed", extra={"error": type(exc).__name__})
            number = None
        for waiting in batch:
            if not waiting.done():
                waiting.set_result(number)

    async def _check(self) -> int:
        # Past the first check, the events since the last one seen; at the first, none, only
        # where the outbox stands.
        after = self._seen if self._seen is not None else _NONE_YET
        (_, latest, _, _, tally), *events = await self._read(after)
        moved = self._tally is not None and tally != self._tally
        everything = moved or len(events) == EVENTS_PER_CHECK
        self.checks += 1
        self._apply(self.checks, events, everything)
        if self._seen is None or everything:
            self._seen = max(self._seen or 0, latest or 0)
        elif events:
            self._seen = events[-1][1]
        self._tally = tally
        return self.checks

    async def _read(self, after: int) -> list[Any]:
        """The check's rows, read on the connection kept for the checks, through the driver
        itself: taking a connection from the pool and going through the engine cost more
        than the statement, which runs as often as requests come."""
        connection, self._connection = self._connection, None
        try:
            connection = connection or await self._engine.connect()
            raw = await connection.get_raw_connection()
            driver: Any = raw.driver_connection
            if connection.dialect.name == "postgresql":
                rows = list(await driver.fetch(_check_statement("$1"), after))
            else:
                rows = list(await driver.execute_fetchall(_check_statement("?"), (after,)))
        except BaseException:
            if connection is not None:
                with suppress(Exception):
                    await connection.close()
            raise
        self._connection = connection
        return rows


@cache
def _check_statement(placeholder: str) -> str:
    """One row saying where the outbox and the tally stand, then the events after the given
    id, in order: one statement, so one round trip and one view of the database."""
    events = Event.__tablename__
    tally = " || '/' || ".join(
        [
            f"CAST((SELECT COALESCE(sum(changes), 0) FROM {DocumentChanges.__tablename__}) "
            "AS TEXT)",
            *(
                f"COALESCE(CAST((SELECT max({c}) FROM {t}) AS TEXT), '')"
                for t, c in _latest_columns
            ),
        ]
    )
    return (
        f"SELECT 0 AS part, (SELECT max(id) FROM {events}) AS id, NULL AS type, "
        f"NULL AS claim_id, {tally} AS tally "
        "UNION ALL "
        "SELECT 1, page.id, page.type, page.claim_id, NULL FROM ("
        f"SELECT id, type, claim_id FROM {events} WHERE id > {placeholder} ORDER BY id "
        f"LIMIT {EVENTS_PER_CHECK}) AS page "
        "ORDER BY part, id"
    )
