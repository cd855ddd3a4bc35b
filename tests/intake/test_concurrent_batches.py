"""Batches that write at the same time on PostgreSQL: one telling a new claim does not hold up
another telling the same claim, nor do the words a batch adds to the matching index, a batch
that started first but counts last leaves the claim's history readable at every moment, and
words a batch adds to a claim being merged wait for the merge.

A batch is held mid-write by a row lock this test takes on a claim the batch also records a
sighting of, so that what another batch may do meanwhile is seen without timing anything.
"""

import asyncio
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import outbox
from app.auth.service import COMMAND_LINE
from app.claims import merge
from app.claims.lexical import terms_of
from app.claims.models import Claim, ClaimTerm
from app.config import Settings
from app.db import utcnow
from app.intake.batch import plan, record_planned
from app.intake.schemas import ItemResult, ItemStatus
from app.main import create_app
from app.recording.recorder import Recorder, recording
from tests.conftest import make_client, started
from tests.story import LAUNDRESS, TROOPS, WORKERS

NEW_CLAIM = "A brand-new wording that no earlier batch has told"


@pytest.fixture(autouse=True)
def postgresql_only(backend: str) -> None:
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: batches never write side by side there")


def item(url: str, claim: dict[str, Any], at: str = "2022-08-01T09:00:00Z") -> dict[str, Any]:
    return {**claim, "outlet": LAUNDRESS, "url": url, "published_at": at, "stance": "asserts"}


def batch(writer: httpx.AsyncClient, *items: dict[str, Any]) -> Awaitable[httpx.Response]:
    return writer.post("/v1/sightings/batch", json={"items": list(items)})


async def until_waiting(sessionmaker: async_sessionmaker[AsyncSession], never: str) -> None:
    """Return once a batch waits for a lock this test holds; fail with `never` if none does.

    Only this test's database is looked at: the server's other databases belong to tests
    running beside this one, whose waits say nothing of this batch."""
    for _ in range(400):
        async with sessionmaker() as session:
            waits = await session.scalar(
                text(
                    "SELECT count(*) FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database()"
                )
            )
        if waits:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(never)


@asynccontextmanager
async def held_mid_write(
    writer: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    told: dict[str, Any],
) -> AsyncIterator["asyncio.Task[httpx.Response]"]:
    """A batch telling `told`, and a sighting of another claim whose row this test locks: the
    batch has written what comes before its sightings and waits until the block ends."""
    held = (await writer.post("/v1/claims", json={"statement": WORKERS})).json()["id"]
    async with sessionmaker() as session, session.begin():
        await session.execute(text("SELECT id FROM claims WHERE id = :id FOR UPDATE"), {"id": held})
        task = asyncio.create_task(
            batch(
                writer,
                item("https://t.me/held/1", told),
                item("https://t.me/held/2", {"claim_id": held}),
            )
        )
        await until_waiting(sessionmaker, "the batch never reached its sightings")
        yield task


async def test_a_batch_telling_a_new_claim_does_not_wait_for_another_still_writing(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with held_mid_write(writer, sessionmaker, {"claim": {"statement": NEW_CLAIM}}) as first:
        # Statements wait up to 15 s: an answer within 10 s was not held until the first's commit.
        second = await asyncio.wait_for(
            batch(writer, item("https://t.me/second/1", {"claim": {"statement": NEW_CLAIM}})),
            timeout=10,
        )
        assert second.status_code == 200, second.text
        assert second.json()["results"][0]["status"] == "created"
        assert not first.done()
    answered = await first
    assert answered.status_code == 200, answered.text
    assert [r["status"] for r in answered.json()["results"]] == ["created", "created"]
    async with sessionmaker() as session:
        told = (await session.scalars(select(Claim).where(Claim.statement == NEW_CLAIM))).all()
    assert len(told) == 1
    claim = (await writer.get(f"/v1/claims/{told[0].id}")).json()
    assert claim["sightings_count"] == 2


async def test_a_batch_that_counts_after_a_later_one_leaves_one_claim_at_every_moment(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    troops = (await writer.post("/v1/claims", json={"statement": TROOPS})).json()["id"]
    async with held_mid_write(writer, sessionmaker, {"claim_id": troops}) as earlier:
        between = datetime.now(UTC)
        later = await batch(writer, item("https://t.me/later/1", {"claim_id": troops}))
        assert later.status_code == 200, later.text
    assert (await earlier).status_code == 200
    # A third change archives whatever version the earlier batch left standing.
    third = await batch(writer, item("https://t.me/third/1", {"claim_id": troops}))
    assert third.status_code == 200, third.text
    moment = between.isoformat().replace("+00:00", "Z")
    listed = await writer.get("/v1/claims", params={"as_of": moment, "limit": 100})
    assert listed.status_code == 200, listed.text
    assert [c["id"] for c in listed.json()["items"]].count(troops) == 1
    one = await writer.get(f"/v1/claims/{troops}", params={"as_of": moment})
    assert one.status_code == 200, one.text
    now = (await writer.get(f"/v1/claims/{troops}")).json()
    assert now["sightings_count"] == 3


async def test_a_batch_creates_its_claims_in_its_own_transaction_when_no_connection_is_spare(
    settings: Settings,
) -> None:
    one = settings.model_copy(
        update={
            "db_pool_size": 1,
            "db_max_overflow": 0,
            "db_pool_timeout_seconds": 2.0,
            "dispatch_in_app": False,
        }
    )
    application = create_app(one)
    async with started(application), make_client(application) as http:
        answered = await batch(
            http, item("https://t.me/alone/1", {"claim": {"statement": NEW_CLAIM}})
        )
        assert answered.status_code == 200, answered.text
        assert answered.json()["results"][0]["status"] == "created"


async def test_a_batch_commits_its_new_claims_and_words_apart_while_its_pool_can_still_open_one(
    settings: Settings, idle_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    # One connection kept open and two more opened on demand: while the batch holds the one,
    # none is idle, yet the next is lent without waiting.
    small = settings.model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 2, "dispatch_in_app": False}
    )
    title = "Quokkas gather along the harbour of Zanzibar"
    application = create_app(small)
    async with started(application), make_client(application) as http:
        told = {"claim": {"statement": NEW_CLAIM}, "title": title}
        async with held_mid_write(http, idle_sessionmaker, told) as held:
            async with idle_sessionmaker() as session:
                claim_id = await session.scalar(
                    select(Claim.id).where(Claim.statement == NEW_CLAIM)
                )
                assert claim_id is not None, "the new claim waits for the batch's commit"
                indexed = set(
                    await session.scalars(
                        select(ClaimTerm.term).where(ClaimTerm.claim_id == claim_id)
                    )
                )
            assert terms_of(title) - terms_of(NEW_CLAIM) <= indexed
            assert not held.done()
        answered = await held
        assert answered.status_code == 200, answered.text
        assert [r["status"] for r in answered.json()["results"]] == ["created", "created"]


@dataclass(frozen=True)
class Editor:
    key_id: str | None = None
    name: str = "an editor"


async def merge_uncommitted(session: AsyncSession, merged: str, kept: str) -> None:
    """Merge one claim into another in `session`, which the caller commits when it chooses."""
    await merge.merge(
        session=session,
        actor=Editor(),
        claim_id=merged,
        into=kept,
        reason="the same claim",
        expected_revision=None,
    )


async def test_words_a_batch_adds_apart_to_a_claim_being_merged_go_with_the_claim(
    settings: Settings, idle_sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The matching index names claims without a foreign key. A batch committing its words
    apart while a merge retires their claim waits for the merge, and then writes no words under
    an id that is gone."""
    small = settings.model_copy(
        update={"db_pool_size": 1, "db_max_overflow": 2, "dispatch_in_app": False}
    )
    title = "Quokkas gather along the harbour of Zanzibar"
    application = create_app(small)
    async with started(application), make_client(application) as http:
        kept = (await http.post("/v1/claims", json={"statement": TROOPS})).json()["id"]
        merged = (await http.post("/v1/claims", json={"statement": NEW_CLAIM})).json()["id"]
        async with idle_sessionmaker() as session:
            await merge_uncommitted(session, merged, kept)
            told = {"claim_id": merged, "title": title}
            late = asyncio.create_task(batch(http, item("https://t.me/late/1", told)))
            await until_waiting(idle_sessionmaker, "the batch never waited for the merge")
            await outbox.commit(session)
        answered = await late
        assert answered.status_code == 200, answered.text
    async with idle_sessionmaker() as session:
        left = await session.scalars(select(ClaimTerm.term).where(ClaimTerm.claim_id == merged))
        assert not left.all()


async def test_a_claim_merged_away_after_a_batch_checked_it_fails_its_item_not_the_batch(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """A merge committed between a batch's checks and its writes: the batch is checked again,
    and the sighting of the claim now gone fails on its own."""
    kept = (await client.post("/v1/claims", json={"statement": TROOPS})).json()["id"]
    merged = (await client.post("/v1/claims", json={"statement": NEW_CLAIM})).json()["id"]
    planned = plan(
        [
            item("https://t.me/gone/1", {"claim_id": merged}),
            item("https://t.me/gone/2", {"claim_id": kept}),
        ]
    )
    attempts = 0

    async def merged_once_checked(recorder: Recorder) -> dict[int, ItemResult]:
        nonlocal attempts
        attempts += 1
        results = await record_planned(recorder, planned)
        if attempts == 1:
            async with sessionmaker() as other:
                await merge_uncommitted(other, merged, kept)
                await outbox.commit(other)
        return results

    async with sessionmaker() as session:
        results = await recording(session, COMMAND_LINE, utcnow(), merged_once_checked)
        await outbox.commit(session)
    assert attempts == 2
    assert results[0].status is ItemStatus.error
    assert results[0].problem is not None
    assert merged in results[0].problem["detail"]
    assert results[1].status is ItemStatus.created
    claim = (await client.get(f"/v1/claims/{kept}")).json()
    assert claim["sightings_count"] == 1
