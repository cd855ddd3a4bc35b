"""Every change is announced by an event in its own transaction, and only then."""

import asyncio
import contextlib
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app import outbox
from app.alerts.models import Delivery
from app.claims.events import ClaimStatusChanged
from app.enums import DenialStatus, EventType
from app.outbox.models import Event
from app.transactions import transaction
from tests.alerts.conftest import record_sighting, subscribe
from tests.alerts.receiver import Receiver
from tests.plans import plan_of


async def _note(session: AsyncSession, label: object, claim_id: str | None = None) -> None:
    """Write one event whose payload carries `label`, to tell events apart by it."""
    event = ClaimStatusChanged(
        claim_id=str(label), old_status=DenialStatus.none, new_status=DenialStatus.denied
    )
    await outbox.emit(session=session, event=event, claim_id=claim_id)


async def _events(client: httpx.AsyncClient, **params: Any) -> list[dict[str, Any]]:
    response = await client.get("/v1/events", params=params)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def test_a_denial_and_a_resurfacing_announce_themselves(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    created = await writer.post(
        "/v1/claims", json={"statement": "North Korea offered troops", "tags": ["korea"]}
    )
    claim_id = created.json()["id"]
    await record_sighting(
        writer,
        claim_id=claim_id,
        stance="asserts",
        kind="anonymous_channel",
        published_at="2022-08-01T00:00:00Z",
    )
    denial = await record_sighting(writer, claim_id=claim_id, published_at="2022-08-11T00:00:00Z")
    later = await record_sighting(
        writer,
        claim_id=claim_id,
        stance="reports",
        kind="news_outlet",
        published_at="2022-08-12T00:00:00Z",
    )
    # A second spreading sighting after the denial is not a new resurfacing.
    await record_sighting(
        writer,
        claim_id=claim_id,
        stance="asserts",
        kind="social_account",
        published_at="2022-08-13T00:00:00Z",
    )

    events = await _events(client)
    assert [e["type"] for e in events] == [
        "claim.created",
        "sighting.recorded",
        "sighting.recorded",
        "denial.recorded",
        "claim.status_changed",
        "sighting.recorded",
        "claim.resurfaced",
        "sighting.recorded",
    ]
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)
    assert all(e["claim_id"] == claim_id for e in events)
    assert events[0]["data"]["claim"]["tags"] == ["korea"]
    assert events[3]["data"]["sighting"]["id"] == denial["id"]
    assert events[4]["data"] == {"claim_id": claim_id, "old_status": "none", "new_status": "denied"}
    assert events[6]["data"]["sighting"]["id"] == later["id"]
    assert events[6]["data"]["first_denial_at"] == "2022-08-11T00:00:00Z"
    assert events[0]["timestamp"].endswith("Z")


async def test_inline_claim_creation_is_announced(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    await record_sighting(writer, statement="Workers to be sent to Donbass", stance="reports")
    types = [e["type"] for e in await _events(client)]
    assert types == ["claim.created", "sighting.recorded"]


async def test_a_rolled_back_write_announces_nothing(
    client: httpx.AsyncClient,
    writer: httpx.AsyncClient,
    receiver: Receiver,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    await subscribe(client, receiver.url, event_types=[t.value for t in EventType])
    # The inline claim is created, then the unknown outlet fails the request: all rolls back.
    response = await writer.post(
        "/v1/sightings",
        json={
            "claim": {"statement": "A claim that never was"},
            "outlet": "no-such-outlet",
            "url": "https://example.org/x",
            "published_at": "2022-08-11T00:00:00Z",
            "stance": "denies",
        },
    )
    assert response.status_code == 422
    async with sessionmaker() as session:
        await _note(session, "never")
        await session.rollback()
    await asyncio.sleep(0.4)
    assert await _events(client) == []
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Event)) == 0
        assert await session.scalar(select(func.count()).select_from(Delivery)) == 0
    assert receiver.requests == []


async def test_event_feed_pages_in_order(
    client: httpx.AsyncClient,
    reader: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    async with transaction(sessionmaker) as session:
        for n in range(7):
            await _note(session, n, claim_id=f"c{n % 2}")
    first = (await reader.get("/v1/events", params={"limit": 3})).json()
    assert [int(e["data"]["claim_id"]) for e in first["items"]] == [0, 1, 2]
    second = (
        await reader.get("/v1/events", params={"limit": 3, "cursor": first["next_cursor"]})
    ).json()
    assert [int(e["data"]["claim_id"]) for e in second["items"]] == [3, 4, 5]
    after = first["items"][-1]["id"]
    resumed = await _events(reader, after=after)
    assert [int(e["data"]["claim_id"]) for e in resumed] == [3, 4, 5, 6]
    only_c1 = await _events(reader, claim_id="c1")
    assert [int(e["data"]["claim_id"]) for e in only_c1] == [1, 3, 5]
    assert await _events(reader, type="denial.recorded") == []
    bad = await reader.get("/v1/events", params={"type": "claim.deleted"})
    assert bad.status_code == 422


@pytest.mark.parametrize("through_outbox", [True, False], ids=["outbox-commit", "plain-commit"])
async def test_ids_follow_commit_order(
    backend: str,
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    through_outbox: bool,
) -> None:
    """A reader resuming after the last id it saw must never miss a later-committed event,
    whatever commits the transaction."""
    if backend != "postgresql":
        pytest.skip("SQLite has one writer at a time: commit order is insertion order there")

    async def commit(session: AsyncSession) -> None:
        await (outbox.commit(session) if through_outbox else session.commit())

    async with sessionmaker() as early, sessionmaker() as late:
        await _note(early, "early")
        await _note(late, "late")
        await _note(late, "late 2")
        await commit(late)
        seen = await _events(client)
        assert [e["data"]["claim_id"] for e in seen] == ["late", "late 2"]
        await commit(early)
    resumed = await _events(client, after=seen[-1]["id"])
    assert [e["data"]["claim_id"] for e in resumed] == ["early"]


async def test_events_follow_savepoints(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """Batch intake keeps the good items of a batch: a rolled-back item takes its events along."""
    async with transaction(sessionmaker) as session:
        await _note(session, 1)
        async with session.begin_nested():
            await _note(session, 2)
        savepoint = await session.begin_nested()
        await _note(session, 3)
        async with session.begin_nested():
            # Released into a savepoint that then rolls back: gone with it.
            await _note(session, 4)
        await savepoint.rollback()
        with contextlib.suppress(LookupError):
            async with session.begin_nested():
                await _note(session, 5)
                raise LookupError
        await _note(session, 6)
    assert [int(e["data"]["claim_id"]) for e in await _events(client)] == [1, 2, 6]


async def test_a_batch_announces_what_it_stored_and_nothing_it_refused(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    ministry = {"slug": "ministry", "name": "Ministry", "kind": "official"}
    items = [
        {
            "ref": "origin",
            "claim": {"statement": "A batch-borne rumour"},
            "outlet": {"slug": "channel", "name": "Channel", "kind": "anonymous_channel"},
            "url": "https://channel.example/1",
            "published_at": "2022-08-01T00:00:00Z",
            "stance": "asserts",
        },
        {
            "claim": {"statement": "A batch-borne rumour"},
            "outlet": ministry,
            "url": "https://ministry.example/1",
            "published_at": "2022-08-03T00:00:00Z",
            "stance": "denies",
            "cites_refs": ["origin"],
        },
        {
            "claim": {"statement": "A batch-borne rumour"},
            "outlet": ministry,
            "url": "https://ministry.example/2",
            "published_at": "2022-08-04T00:00:00Z",
            "stance": "denies",
            "cites": ["no-such-sighting"],
        },
    ]

    response = await writer.post("/v1/sightings/batch", json={"items": items})

    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "created", "error"]
    events = await _events(client)
    assert [e["type"] for e in events] == [
        "claim.created",
        "sighting.recorded",
        "sighting.recorded",
        "denial.recorded",
        "claim.status_changed",
    ]
    stored = [r["id"] for r in results[:2]]
    assert [e["data"]["sighting"]["id"] for e in events[1:4]] == [*stored, stored[1]]
    audit = (await client.get("/v1/audit", params={"limit": 500})).json()["items"]
    audited = [e["target_id"] for e in audit if e["target_type"] == "sighting"]
    assert sorted(audited) == sorted(stored)


async def test_an_atomic_batch_that_fails_announces_nothing(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    items = [
        {
            "claim": {"statement": "Never stored"},
            "outlet": {"slug": "channel", "name": "Channel", "kind": "anonymous_channel"},
            "url": "https://channel.example/1",
            "published_at": "2022-08-01T00:00:00Z",
            "stance": "asserts",
        },
        {
            "claim_id": "missing",
            "outlet": "channel",
            "url": "https://x.example",
            "published_at": "2022-08-01T00:00:00Z",
            "stance": "asserts",
        },
    ]
    response = await writer.post("/v1/sightings/batch", json={"items": items, "atomic": True})
    assert response.status_code == 422
    assert await _events(client) == []


async def test_a_denial_recorded_late_resurfaces_the_claim_once(
    client: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    created = await writer.post("/v1/claims", json={"statement": "Late denial story"})
    claim_id = created.json()["id"]
    await record_sighting(
        writer,
        claim_id=claim_id,
        stance="asserts",
        kind="anonymous_channel",
        published_at="2022-08-01T00:00:00Z",
    )
    spread = await record_sighting(
        writer,
        claim_id=claim_id,
        stance="reports",
        kind="news_outlet",
        published_at="2022-08-20T00:00:00Z",
    )
    # The desk records the ministry's denial of 11 August only now, after the later report.
    await record_sighting(writer, claim_id=claim_id, published_at="2022-08-11T00:00:00Z")
    await record_sighting(
        writer,
        claim_id=claim_id,
        stance="asserts",
        kind="social_account",
        published_at="2022-08-21T00:00:00Z",
    )

    events = await _events(client, type="claim.resurfaced")
    assert len(events) == 1
    assert events[0]["data"]["sighting"]["id"] == spread["id"]
    assert events[0]["data"]["sightings_after_denial"] == 1
    report = (await client.get(f"/v1/claims/{claim_id}/denial")).json()
    assert (report["resurfaced"], report["sightings_after_denial"]) == (True, 2)


async def test_a_poll_for_new_events_reads_them_through_their_key(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """The dispatcher and the capture queue ask, each second they idle, whether any event came
    after their cursor. Asked for any one rather than the first, PostgreSQL scanned the events
    from the oldest: every idle poll grew with the events ever written."""
    async with sessionmaker() as session:
        dialect = session.get_bind().dialect
        plan = await plan_of(session, outbox.first_after(41))
    if dialect.name == "sqlite":
        assert "USING INTEGER PRIMARY KEY (rowid>?)" in plan, plan
    else:
        assert "pk_events" in plan, plan
        assert "Seq Scan" not in plan, plan
