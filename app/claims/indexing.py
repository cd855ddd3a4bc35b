"""Sentence vectors computed after the commit: recording never waits for the model.

A change that can touch a claim's wordings writes an event naming the claim in its own
transaction (the outbox). The indexer reads the events after its cursor, compares the claims'
wordings with their stored vectors, embeds what changed with no transaction open, and then, in
one short transaction, stores the vectors and moves the cursor, provided nobody moved it
meanwhile. A process that dies between the two leaves the cursor where it was, so the next
round does the work again; any number of processes may run the indexer on one database.

Until its vector is stored a claim is matched by its words (`matching`), which are indexed in
the recording transaction itself.
"""

import logging

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.claims import vectors
from app.claims.models import IndexCursor
from app.db import insert_or_ignore
from app.outbox.models import Event

log = logging.getLogger(__name__)

CURSOR = "vectors"
# Events read per round, and claims embedded per round at most: a round's transaction stays
# short, and a large import is indexed in steps a query can slip between.
EVENTS_READ = 5_000
CLAIMS_PER_ROUND = 200


async def _position(session: AsyncSession) -> int:
    done = await session.scalar(select(IndexCursor.event_id).where(IndexCursor.name == CURSOR))
    return done or 0


async def _claims_after(session: AsyncSession, start: int) -> tuple[int, list[str]]:
    """The last event id a round covers, and the claims its events name."""
    rows = (
        await session.execute(
            select(Event.id, Event.claim_id)
            .where(Event.id > start)
            .order_by(Event.id)
            .limit(EVENTS_READ)
        )
    ).all()
    claims: dict[str, None] = {}
    last = start
    for event_id, claim_id in rows:
        if claim_id is not None and claim_id not in claims:
            if len(claims) == CLAIMS_PER_ROUND:
                break
            claims[claim_id] = None
        last = event_id
    return last, list(claims)


async def index_round(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    """Index the claims named by the next events; how many events were consumed (0: none new,
    or another indexer took them)."""
    async with sessionmaker() as session:
        start = await _position(session)
        last, claim_ids = await _claims_after(session, start)
        if last == start:
            return 0
        # A claim's later sightings refine its vector in steps (`vectors.GROWTH`): embedding
        # it after every batch that tells it would cost more than recording the batch.
        planned = await vectors.plan(session, claim_ids, keep_grown=True)
    # The model runs with no transaction open: SQLite's writers and PostgreSQL's locks never
    # wait for it.
    rows = await vectors.embed(planned)
    async with sessionmaker() as session, session.begin():
        await insert_or_ignore(session, IndexCursor, {"name": CURSOR, "event_id": 0}, ["name"])
        moved = await session.execute(
            update(IndexCursor)
            .where(IndexCursor.name == CURSOR, IndexCursor.event_id == start)
            .values(event_id=last)
        )
        if moved.rowcount != 1:  # type: ignore[attr-defined]
            await session.rollback()
            return 0
        if rows is not None:
            # Without a model nothing is embedded and vectors already stored stay: matching
            # then goes by words alone, as `matching.status` tells /readyz.
            await vectors.write(session, planned, rows)
    return last - start


async def catch_up(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    """Index every claim named by an event committed before this call."""
    async with sessionmaker() as session:
        target = await session.scalar(select(func.max(Event.id))) or 0
    while True:
        async with sessionmaker() as session:
            if await _position(session) >= target:
                return
        await index_round(sessionmaker)
