"""The article the service was built around, end to end over HTTP."""

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.demo import loader
from app.sightings.models import Sighting
from tests.factories import record_worked_example


async def test_chain_runs_from_the_anonymous_channel_to_the_official_denial(
    client: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    recorded = await record_worked_example(client)
    claim_id = recorded["laundress"]["claim_id"]

    chain = (await reader.get(f"/v1/claims/{claim_id}/chain")).json()

    assert chain["path"][0] == recorded["laundress"]["id"]
    assert chain["path"][-1] == recorded["denial"]["id"]
    assert [h["from_outlet"] for h in chain["hops"]] + [chain["hops"][-1]["to_outlet"]] == [
        "kremlin-laundress",
        "channel-one-russia",
        "asia-times",
        "ukrainian-media",
        "russian-mfa",
    ]
    assert [(h["from"], h["to"]) for h in chain["hops"]] == list(
        zip(chain["path"], chain["path"][1:], strict=False)
    )
    assert chain["hops"][0]["lag_seconds"] == 86400
    assert chain["origins"] == [recorded["laundress"]["id"]]
    assert [n["published_at"] for n in chain["nodes"]] == sorted(
        n["published_at"] for n in chain["nodes"]
    )
    metrics = chain["metrics"]
    assert metrics["sightings"] == 7
    assert metrics["first_seen_at"] == "2022-08-01T00:00:00Z"
    assert metrics["first_denial_at"] == "2022-08-11T00:00:00Z"
    assert metrics["denial_lag_seconds"] == 10 * 86400
    assert metrics["sightings_after_denial"] == 1
    assert metrics["countries"] == 3  # RU, HK (Asia Times), UA
    assert chain["claim"]["denial_status"] == "denied"


async def test_denial_status_of_the_worked_example(client: httpx.AsyncClient) -> None:
    recorded = await record_worked_example(client)

    troops = (await client.get(f"/v1/claims/{recorded['laundress']['claim_id']}/denial")).json()
    workers = (await client.get(f"/v1/claims/{recorded['daily-nk']['claim_id']}/denial")).json()

    assert troops["status"] == "denied"
    assert troops["resurfaced"] is True
    assert troops["sightings_after_denial"] == 1
    assert troops["first_denial"]["outlet"]["slug"] == "russian-mfa"
    assert troops["denial_lag_seconds"] == 10 * 86400
    assert workers["status"] == "none"
    assert workers["first_denial"] is None
    assert workers["resurfaced"] is False


async def test_upstream_trace_from_ukrainian_media_reaches_the_origin(
    client: httpx.AsyncClient,
) -> None:
    recorded = await record_worked_example(client)

    upstream = await client.get(
        f"/v1/sightings/{recorded['ukraine']['id']}/trace", params={"direction": "upstream"}
    )
    downstream = await client.get(
        f"/v1/sightings/{recorded['ukraine']['id']}/trace", params={"direction": "downstream"}
    )

    assert upstream.status_code == 200
    slugs = {n["outlet"]["slug"] for n in upstream.json()["nodes"]}
    assert slugs == {"kremlin-laundress", "channel-one-russia", "asia-times", "ukrainian-media"}
    down = {n["outlet"]["slug"] for n in downstream.json()["nodes"]}
    assert down == {"ukrainian-media", "russian-mfa", "runet-discussion", "new-eastern-outlook"}


async def test_demo_loads_once_however_often_it_runs(
    sessionmaker: async_sessionmaker[AsyncSession], client: httpx.AsyncClient
) -> None:
    async with sessionmaker() as session, session.begin():
        first = await loader.load(session=session)
    async with sessionmaker() as session, session.begin():
        second = await loader.load(session=session)
    async with sessionmaker() as session:
        stored = await session.scalar(select(func.count()).select_from(Sighting))

    assert (first.created, second.created, second.already_there) == (9, 0, 9)
    assert stored == 9
    chain = (await client.get(f"/v1/claims/{first.claim_ids['troops']}/chain")).json()
    assert chain["hops"][-1]["to_outlet"] == "russian-mfa"
    approximate = [n for n in chain["nodes"] if n["published_at_precision"] == "approximate"]
    assert {n["outlet"]["slug"] for n in approximate} == {
        "channel-one-russia",
        "asia-times",
        "ukrainian-media",
        "runet-discussion",
    }
