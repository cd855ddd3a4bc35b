"""Writers of one process take turns at SQLite's single write lock, handed on when each
transaction ends, however it ends: none is left waiting for a turn nobody will give back."""

import asyncio

import httpx
import pytest
from sqlalchemy import false, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.claims.models import Claim
from app.db import take_write_turn, utcnow
from tests.factories import record_worked_example


@pytest.fixture(autouse=True)
def _sqlite_only(backend: str) -> None:
    if backend != "sqlite":
        pytest.skip("PostgreSQL's writers do not shut each other out: they take no turns")


async def _waits_for_turn(sessionmaker: async_sessionmaker[AsyncSession]) -> asyncio.Task[None]:
    async def take() -> None:
        async with sessionmaker() as session:
            await take_write_turn(session)

    waiting = asyncio.create_task(take())
    await asyncio.sleep(0.2)
    return waiting


@pytest.mark.parametrize("ending", ["commit", "rollback", "close"])
async def test_the_turn_passes_on_when_the_transaction_ends(
    sessionmaker: async_sessionmaker[AsyncSession], ending: str
) -> None:
    first = sessionmaker()
    await take_write_turn(first)
    await take_write_turn(first)  # asked again in the same transaction: already held
    waiting = await _waits_for_turn(sessionmaker)
    assert not waiting.done()
    async with first.begin_nested():  # a savepoint ending is not the transaction ending
        pass
    await asyncio.sleep(0.1)
    assert not waiting.done()
    if ending == "commit":
        await first.commit()
    elif ending == "rollback":
        await first.rollback()
    await first.close()
    await asyncio.wait_for(waiting, 10)


async def test_a_writer_that_has_written_does_not_wait_for_a_turn(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """It holds SQLite's lock already: waiting for the turn's holder, which will want that lock
    for its own first write, would leave both waiting until the busy timeout."""
    holder = sessionmaker()
    await take_write_turn(holder)
    async with sessionmaker() as written:
        await written.execute(update(Claim).where(false()).values(updated_at=utcnow()))
        await asyncio.wait_for(take_write_turn(written), 5)
        await written.commit()
    await holder.close()


async def test_a_refused_batch_hands_the_turn_to_the_next_writer(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    await record_worked_example(client)
    item = {"claim": {"statement": "x"}, "url": "javascript:alert(1)"}
    refused = {"items": [item], "atomic": True}
    batches = (writer.post("/v1/sightings/batch", json=refused) for _ in range(3))
    answers = await asyncio.wait_for(
        asyncio.gather(
            *batches,
            writer.post(
                "/v1/sightings",
                json={
                    "claim": {"statement": "A claim recorded after refusals"},
                    "outlet": "asia-times",
                    "url": "https://asiatimes.com/2022/08/after-refusals/",
                    "published_at": "2022-08-05T00:00:00Z",
                    "stance": "reports",
                },
            ),
        ),
        60,
    )
    assert [answer.status_code for answer in answers] == [422, 422, 422, 201], answers[3].text
