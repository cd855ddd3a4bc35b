"""A claim's chain is counted as it is written (per outlet, per hour, per flow): after every kind
of write, the spread read from those counts equals the one counted from the sightings and
citations themselves (a spread with `include_variants`, which a claim without variants answers
from its sightings and citations), in every bucket."""

from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.claims.models import ClaimFlow, ClaimHour, ClaimOutlet, ClaimTerm
from app.network.models import OutletDay, OutletFlow
from tests.factories import claim, day, outlet, sighting


async def _flows(client: httpx.AsyncClient, claim_id: str) -> list[tuple[str, str, int, str]]:
    """The claim's flows as recording counted them, after checking them against its citations."""
    base = f"/v1/claims/{claim_id}/spread"
    for bucket in ("hour", "day", "week"):
        counted = (await client.get(base, params={"bucket": bucket})).json()
        params = {"bucket": bucket, "include_variants": "true"}
        assert counted == (await client.get(base, params=params)).json()
    return [
        (f["from_outlet"], f["to_outlet"], f["citations"], f["first_at"]) for f in counted["flows"]
    ]


async def _outlets(client: httpx.AsyncClient, claim_id: str) -> list[tuple[str, int, str, str]]:
    spread = (await client.get(f"/v1/claims/{claim_id}/spread")).json()
    return [(o["slug"], o["sightings"], o["first_at"], o["last_at"]) for o in spread["outlets"]]


async def _patch(client: httpx.AsyncClient, sighting_id: str, **fields: Any) -> None:
    response = await client.patch(
        f"/v1/sightings/{sighting_id}", json={**fields, "reason": "learned more"}
    )
    assert response.status_code == 200, response.text


async def test_flows_follow_recording_corrections_withdrawals_and_merges(
    client: httpx.AsyncClient,
) -> None:
    for slug in ("channel", "talk-show", "news-site", "paper"):
        await outlet(client, slug)
    claim_id = (await claim(client, "One hundred thousand troops are on their way"))["id"]
    origin = await sighting(client, claim_id, "channel", day(1))
    show = await sighting(client, claim_id, "talk-show", day(2), cites=[origin["id"]])
    batch = await client.post(
        "/v1/sightings/batch",
        json={
            "atomic": True,
            "items": [
                {
                    "ref": "site",
                    "claim_id": claim_id,
                    "outlet": "news-site",
                    "url": "https://news-site.example/1",
                    "published_at": day(3),
                    "stance": "reports",
                    "cites": [show["id"]],
                    "cites_outlets": ["channel"],
                },
                {
                    "claim_id": claim_id,
                    "outlet": "paper",
                    "url": "https://paper.example/1",
                    "published_at": day(4),
                    "stance": "reports",
                    "cites_refs": ["site"],
                },
                {
                    "claim_id": claim_id,
                    "outlet": "paper",
                    "url": "https://paper.example/2",
                    "published_at": day(5),
                    "stance": "reports",
                    "cites_refs": ["site"],
                },
            ],
        },
    )
    assert batch.status_code == 200, batch.text
    site, first_paper, second_paper = (r["id"] for r in batch.json()["results"])
    assert await _flows(client, claim_id) == [
        ("channel", "talk-show", 1, day(2)),
        ("channel", "news-site", 1, day(3)),
        ("talk-show", "news-site", 1, day(3)),
        ("news-site", "paper", 2, day(4)),
    ]

    assert await _outlets(client, claim_id) == [
        ("channel", 1, day(1), day(1)),
        ("talk-show", 1, day(2), day(2)),
        ("news-site", 1, day(3), day(3)),
        ("paper", 2, day(4), day(5)),
    ]

    # A later date for the first paper: the flow's first citation is now the second paper's.
    await _patch(client, first_paper, published_at=day(6))
    assert ("news-site", "paper", 2, day(5)) in await _flows(client, claim_id)
    assert ("paper", 2, day(5), day(6)) in await _outlets(client, claim_id)
    # A language of its own, a stance, and the channel turning out to be official: counted by
    # language, stance and kind.
    await _patch(client, origin["id"], language="ru", stance="asserts")
    corrected = await client.patch(
        "/v1/outlets/channel", json={"kind": "official", "reason": "a ministry's channel"}
    )
    assert corrected.status_code == 200, corrected.text
    spread = (await client.get(f"/v1/claims/{claim_id}/spread")).json()
    assert spread["timeline"][0]["by_kind"] == {"official": 1}
    assert spread["timeline"][0]["by_stance"] == {"asserts": 1}
    assert spread["metrics"]["languages"] == 1
    await _flows(client, claim_id)
    # Another outlet for the talk show, and the site citing only the channel.
    await _patch(client, show["id"], outlet="paper")
    await _patch(client, site, cites=[], cites_outlets=["channel"])
    assert await _flows(client, claim_id) == [
        ("channel", "paper", 1, day(2)),
        ("channel", "news-site", 1, day(3)),
        ("news-site", "paper", 2, day(5)),
    ]

    # Withdrawn, its citers relinked to what it cited.
    withdrawn = await client.delete(
        f"/v1/sightings/{site}", params={"reason": "a copy", "relink": "true"}
    )
    assert withdrawn.status_code == 204, withdrawn.text
    assert await _flows(client, claim_id) == [
        ("channel", "paper", 3, day(2)),
    ]

    # Moved to another claim: its citation leaves this claim's flows, and the other claim has
    # none (what it cites stayed behind).
    other_id = (await claim(client, "Troops are coming, says a channel"))["id"]
    await _patch(client, second_paper, claim_id=other_id)
    assert await _flows(client, claim_id) == [("channel", "paper", 2, day(2))]
    assert await _flows(client, other_id) == []

    # A citation within the other claim, then the other claim merged into this one.
    await sighting(client, other_id, "news-site", day(7), cites=[second_paper])
    assert await _flows(client, other_id) == [("paper", "news-site", 1, day(7))]
    merged = await client.post(
        f"/v1/claims/{other_id}/merge", json={"into": claim_id, "reason": "the same claim"}
    )
    assert merged.status_code == 200, merged.text
    # Back in this claim, the moved sighting's citation of the channel counts again.
    assert await _flows(client, claim_id) == [
        ("channel", "paper", 3, day(2)),
        ("paper", "news-site", 1, day(7)),
    ]


async def test_a_relinked_citer_of_another_claim_is_counted_in_its_own(
    client: httpx.AsyncClient,
) -> None:
    for slug in ("channel", "paper", "site"):
        await outlet(client, slug)
    told = (await claim(client, "A claim told by a channel"))["id"]
    retold = (await claim(client, "The same story retold by a site"))["id"]
    source = await sighting(client, retold, "channel", day(1))
    # A sighting of the first claim between two of the second: its withdrawal relinks the
    # site to the channel, within the second claim.
    between = await sighting(client, told, "paper", day(2), cites=[source["id"]])
    await sighting(client, retold, "site", day(3), cites=[between["id"]])
    assert await _flows(client, retold) == []
    withdrawn = await client.delete(
        f"/v1/sightings/{between['id']}", params={"reason": "a mistake", "relink": "true"}
    )
    assert withdrawn.status_code == 204, withdrawn.text
    assert await _flows(client, retold) == [("channel", "site", 1, day(3))]


async def test_flows_write_times_as_every_answer_does(client: httpx.AsyncClient) -> None:
    for slug in ("channel", "paper"):
        await outlet(client, slug)
    claim_id = (await claim(client, "Timed to the quarter second"))["id"]
    first = await sighting(client, claim_id, "channel", "2022-08-01T12:00:00Z")
    cited = await sighting(
        client, claim_id, "paper", "2022-08-02T12:00:00.250Z", cites=[first["id"]]
    )
    # PostgreSQL writes the flows' JSON itself; it must read as the sighting's own does.
    assert cited["published_at"] == "2022-08-02T12:00:00.250000Z"
    assert await _flows(client, claim_id) == [
        ("channel", "paper", 1, "2022-08-02T12:00:00.250000Z")
    ]


async def test_a_merged_claim_leaves_no_counts_or_words_under_its_id(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    """The counted tables keep no key to the claims (each batch would check hundreds of rows):
    a claim that leaves the ledger takes its rows with it by the merge itself."""
    for slug in ("channel", "paper"):
        await outlet(client, slug)
    kept = (await claim(client, "Troops are on their way"))["id"]
    merged = (await claim(client, "Soldiers are on their way to the border"))["id"]
    first = await sighting(client, merged, "channel", day(1), title="Soldiers sent north")
    await sighting(client, merged, "paper", day(2), cites=[first["id"]], title="Soldiers: more")
    tables = [ClaimTerm, ClaimOutlet, ClaimHour, ClaimFlow, OutletDay, OutletFlow]

    async def rows_under(claim_id: str) -> dict[str, int]:
        async with sessionmaker() as session:
            return {
                table.__tablename__: await session.scalar(
                    select(func.count()).select_from(table).where(table.claim_id == claim_id)
                )
                or 0
                for table in tables
            }

    assert all((await rows_under(merged)).values())
    response = await client.post(
        f"/v1/claims/{merged}/merge", json={"into": kept, "reason": "the same claim"}
    )
    assert response.status_code == 200, response.text
    assert set((await rows_under(merged)).values()) == {0}
    assert all((await rows_under(kept)).values())
    # Its wording still finds the claim it joined.
    found = await client.post("/v1/claims/match", json={"text": "Soldiers sent north"})
    assert found.json()["items"][0]["claim"]["id"] == kept
