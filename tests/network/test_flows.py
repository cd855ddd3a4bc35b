"""The outlet flows follow every change of sightings: corrections, moves, withdrawals, merges."""

import re
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.network import flows
from tests.plans import plan_of


async def _record(client: httpx.AsyncClient, slug: str) -> dict[str, Any]:
    response = await client.get(f"/v1/outlets/{slug}/record")
    assert response.status_code == 200, response.text
    return response.json()


async def _edges(client: httpx.AsyncClient) -> dict[tuple[str, str], int]:
    network = (await client.get("/v1/network")).json()
    # The whole network is read from running totals; any window is summed from the claims'
    # own rows. Both must tell the same story.
    summed = (await client.get("/v1/network", params={"since": "2000-01-01T00:00:00Z"})).json()
    assert network == summed
    return {(e["from_outlet"], e["to_outlet"]): e["citations"] for e in network["edges"]}


async def test_flows_follow_corrections_moves_withdrawals_and_merges(
    writer: httpx.AsyncClient, worked_example: dict[str, Any]
) -> None:
    ids, troops = worked_example["ids"], worked_example["troops"]
    why = {"reason": "checked again"}

    corrected = await writer.patch(
        f"/v1/sightings/{ids['after']}", json={"stance": "questions", **why}
    )
    assert corrected.status_code == 200, corrected.text
    asia = await _record(writer, "asia-times")
    assert asia["after_denial"] == {"sightings": 0, "claims": 0}
    assert asia["by_stance"] == {"questions": 1, "reports": 1}

    # Daily NK's report, moved onto the troops claim, is now that claim's earliest sighting.
    moved = await writer.patch(f"/v1/sightings/{ids['daily-nk']}", json={"claim_id": troops, **why})
    assert moved.status_code == 200, moved.text
    assert (await _record(writer, "daily-nk"))["first_to_carry"] == 1
    assert (await _record(writer, "kremlin-laundress"))["first_to_carry"] == 0
    await _edges(writer)

    withdrawn = await writer.delete(f"/v1/sightings/{ids['denial']}", params=why)
    assert withdrawn.status_code == 204, withdrawn.text
    assert ("unian", "mid-rf") not in await _edges(writer)
    assert (await _record(writer, "mid-rf"))["sightings"] == 0

    # A duplicate claim told by the same two outlets, merged in: its citation joins the flow.
    duplicate = await writer.post(
        "/v1/sightings/batch",
        json={
            "items": [
                {
                    "ref": "a",
                    "claim": {"statement": "Pyongyang sends a hundred thousand soldiers"},
                    "outlet": "asia-times",
                    "url": "https://asiatimes.com/2022/08/pyongyang-soldiers/",
                    "published_at": "2022-08-07T00:00:00Z",
                    "stance": "reports",
                },
                {
                    "ref": "b",
                    "claim": {"statement": "Pyongyang sends a hundred thousand soldiers"},
                    "outlet": "unian",
                    "url": "https://www.unian.ua/world/pyongyang-soldiers.html",
                    "published_at": "2022-08-08T00:00:00Z",
                    "stance": "asserts",
                    "cites_refs": ["a"],
                },
            ]
        },
    )
    assert duplicate.status_code == 200, duplicate.text
    other = (await writer.get(f"/v1/sightings/{duplicate.json()['results'][0]['id']}")).json()
    network = (await writer.get("/v1/network")).json()
    edge = next(e for e in network["edges"] if e["from_outlet"] == "asia-times")
    assert (edge["citations"], edge["claims"]) == (2, 2)
    merged = await writer.post(
        f"/v1/claims/{other['claim_id']}/merge", json={"into": troops, **why}
    )
    assert merged.status_code == 200, merged.text
    assert (await _edges(writer))[("asia-times", "unian")] == 2
    network = (await writer.get("/v1/network")).json()
    edge = next(e for e in network["edges"] if e["from_outlet"] == "asia-times")
    assert (edge["claims"], edge["first_at"]) == (1, "2022-08-06T00:00:00Z")
    assert (await _record(writer, "unian"))["claims"] == 1


async def test_a_claims_flows_are_counted_through_its_citations_not_once_per_pair(
    sessionmaker: async_sessionmaker[AsyncSession],
) -> None:
    """Counting a claim's flows again (a moved or withdrawn sighting) reaches each cited sighting
    by its key from the citation. Driven from the claim's index instead, a planner without
    statistics read every sighting of the claim once per citing sighting: a move on a claim of
    20,000 sightings ran for minutes on SQLite."""
    async with sessionmaker() as session:
        dialect = session.get_bind().dialect
        # Two claims, as a move counts both: with one, the planner took the right path anyway.
        plan = await plan_of(session, flows._flows(dialect.name, ["a-claim", "its-twin"]))
    if dialect.name == "sqlite":
        assert "SEARCH sightings_2 USING INDEX sqlite_autoindex_sightings_1 (id=?)" in plan, plan
    assert "sightings_2 USING INDEX ix_sightings_claim_id" not in plan, plan
    assert not re.search(r"on sightings sightings_2\s+Index Cond: \(claim_id", plan), plan
