"""A claim with more sightings than a PostgreSQL statement can carry parameters (32,767): every
read of it must answer, so none may list the ids it read before.

PostgreSQL only, to keep the suite quick: SQLite's limit is nearly the same, and the queries are
the same statements."""

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.claims import chain_counts
from app.claims.projection import refresh_claim
from app.enums import CitationBasis, Stance
from app.models import Citation, Sighting
from tests.factories import claim, outlet

SIGHTINGS = 36_000
OUTLETS = 12  # outlet 0 spreads the claim, the eleven others are official and deny it
START = datetime(2022, 8, 1, tzinfo=UTC)


async def _load(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> tuple[str, list[str]]:
    outlet_ids = []
    for n in range(OUTLETS):
        made = await outlet(client, f"outlet-{n}", "news_outlet" if n == 0 else "official")
        outlet_ids.append(made["id"])
    claim_id = (await claim(client, "A claim carried a great many times"))["id"]
    ids = [str(uuid.uuid4()) for _ in range(SIGHTINGS)]
    rows = [
        {
            "id": sid,
            "claim_id": claim_id,
            "outlet_id": outlet_ids[k % OUTLETS],
            "url": f"https://example.org/{k}",
            "published_at": START + timedelta(minutes=k),
            "stance": Stance.reports if k % OUTLETS == 0 else Stance.denies,
            "recorded_at": START,
            "recorded_by": "test",
            "revised_by": "test",
        }
        for k, sid in enumerate(ids)
    ]
    citations = [
        {"citing_id": ids[k], "cited_id": ids[k - 1], "basis": CitationBasis.cites}
        for k in range(1, SIGHTINGS)
    ]
    async with sessionmaker() as session, session.begin():
        await session.execute(insert(Sighting), rows)
        await session.execute(insert(Citation), citations)
        await chain_counts.recount(session, claim_id)
        await refresh_claim(session=session, claim_id=claim_id)
    async with sessionmaker() as session, session.begin():
        # What autovacuum does soon after such a load; without it the planner takes the
        # tables for empty.
        await session.execute(text("ANALYZE sightings, citations"))
    return claim_id, ids


async def test_every_read_of_a_very_large_claim_answers(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], backend: str
) -> None:
    if backend != "postgresql":
        pytest.skip("the parameter limit under test is PostgreSQL's")
    claim_id, ids = await _load(client, sessionmaker)
    edges = SIGHTINGS - 1
    officials = SIGHTINGS - SIGHTINGS // OUTLETS
    base = f"/v1/claims/{claim_id}"

    report = (await client.get(f"{base}/denial")).json()
    assert report["status"] == "denied"
    assert len(report["denials"]) == officials
    assert report["first_denial"]["id"] == ids[1]

    chain = (await client.get(f"{base}/chain", params={"shape": "compact"})).json()
    assert len(chain["nodes"]) == chain["metrics"]["sightings"] == SIGHTINGS
    assert len(chain["edges"]) == edges
    assert chain["path"] == ids[:2] and chain["origins"] == ids[:1]
    assert len(chain["outlets"]) == OUTLETS

    spread = (await client.get(f"{base}/spread", params={"bucket": "day"})).json()
    assert sum(flow["citations"] for flow in spread["flows"]) == edges
    assert spread["path"] == chain["path"] and spread["metrics"] == chain["metrics"]

    reviews = (await client.get(f"{base}/claimreview")).json()
    assert len(reviews) == officials

    trace = f"/v1/sightings/{ids[0]}/trace"
    near = (await client.get(trace, params={"direction": "downstream", "max_depth": 100})).json()
    assert [n["id"] for n in near["nodes"]] == ids[:101]
