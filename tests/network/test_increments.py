"""Recording moves the claims' counters and the outlet days, flows and totals by what it added:
the same figures as counting every claim again from its sightings, whatever the batch does to a
claim's first sighting or first denial."""

from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.claims import projection
from app.claims import service as claims
from app.claims.models import Claim
from app.network import flows
from app.network.models import OutletDay, OutletFlow, OutletLink, OutletTotal

OUTLETS = [
    ("desk-a", "news_outlet"),
    ("desk-b", "news_outlet"),
    ("desk-c", "social_account"),
    ("ministry", "official"),
]


async def _tables(session: AsyncSession) -> dict[str, list[Any]]:
    found = {}
    for model in (OutletDay, OutletFlow, OutletTotal, OutletLink):
        columns = list(model.__table__.columns)  # type: ignore[attr-defined]
        rows = await session.execute(select(*columns).order_by(*columns))
        found[model.__tablename__] = [tuple(row) for row in rows]
    return found


def _item(
    ref: str, claim: str, outlet: str, at: str, stance: str = "reports", **more: Any
) -> dict[str, Any]:
    return {
        "ref": ref,
        "claim": {"statement": f"The {claim} claim about the grain corridor"},
        "outlet": outlet,
        "url": f"https://example.org/{ref}",
        "published_at": at,
        "stance": stance,
        **more,
    }


BATCHES = [
    # New claims: one with a single earliest sighting, one whose two earliest share a time.
    [
        _item("x1", "first", "desk-a", "2024-03-01T10:00:00Z"),
        _item("x2", "first", "desk-b", "2024-03-01T12:00:00Z", cites_refs=["x1"]),
        _item("x3", "first", "desk-c", "2024-03-02T09:00:00Z", cites_refs=["x2", "x1"]),
        _item("y1", "second", "desk-a", "2024-03-05T08:00:00Z"),
        _item("y2", "second", "desk-b", "2024-03-05T08:00:00Z", cites_refs=["y1"]),
    ],
    # Later sightings of stored claims, citing stored and new ones, a follow-up of one's own.
    [
        _item("x4", "first", "desk-a", "2024-03-02T11:00:00Z", cites_refs=["x1"]),
        _item("x5", "first", "desk-c", "2024-03-03T11:00:00Z", cites_refs=["x4"]),
        _item("y3", "second", "desk-c", "2024-03-06T08:00:00Z", cites_refs=["y2", "y1"]),
        _item("z1", "third", "ministry", "2024-03-06T08:00:00Z", "denies"),
        _item("z2", "third", "desk-a", "2024-03-07T08:00:00Z", "asserts", cites_refs=["z1"]),
    ],
    # A first official denial of a stored claim, and a sighting after it in the same batch.
    [
        _item("x6", "first", "ministry", "2024-03-04T00:00:00Z", "denies"),
        _item("x7", "first", "desk-b", "2024-03-05T00:00:00Z", "asserts", cites_refs=["x6"]),
        _item("z3", "third", "desk-b", "2024-03-08T08:00:00Z", "reports", cites_refs=["z2"]),
    ],
    # Spreading after a stored denial; a new earliest sighting; one tied with the earliest.
    [
        _item("x8", "first", "desk-c", "2024-03-06T00:00:00Z", "asserts", cites_refs=["x7"]),
        _item("y0", "second", "desk-c", "2024-03-04T08:00:00Z"),
        _item("z0", "third", "desk-c", "2024-03-06T08:00:00Z", "asserts"),
        _item("x9", "first", "ministry", "2024-03-05T00:00:00Z", "confirms"),
        # An outlet the claim has, in a language it had not: a row of its own, no new outlet.
        _item("y4", "second", "desk-a", "2024-03-07T08:00:00Z", language="ru"),
    ],
]


COUNTERS = [
    Claim.id,
    Claim.sightings_count,
    Claim.outlets_count,
    Claim.first_seen_at,
    Claim.denial_status,
    Claim.sightings_after_denial,
]


async def _record(writer: httpx.AsyncClient) -> None:
    for slug, kind in OUTLETS:
        created = await writer.post("/v1/outlets", json={"slug": slug, "name": slug, "kind": kind})
        assert created.status_code == 201, created.text
    ids: dict[str, str] = {}
    for items in BATCHES:
        # Items citing what an earlier batch recorded cite it by id.
        batch = [
            {
                **item,
                "cites": [ids[r] for r in item.get("cites_refs", []) if r in ids],
                "cites_refs": [r for r in item.get("cites_refs", []) if r not in ids],
            }
            for item in items
        ]
        response = await writer.post("/v1/sightings/batch", json={"items": batch})
        assert response.status_code == 200, response.text
        results = response.json()["results"]
        assert {r["status"] for r in results} == {"created"}, results
        ids |= {r["ref"]: r["id"] for r in results}


async def test_recording_moves_the_network_as_a_recount_would(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _record(writer)
    async with sessionmaker() as session:
        moved = await _tables(session)
    async with sessionmaker() as session, session.begin():
        claim_ids = list(await session.scalars(select(Claim.id)))
        await claims.lock(session=session, claim_ids=claim_ids)
        await flows.recount(session, claim_ids)
    async with sessionmaker() as session:
        counted = await _tables(session)
    assert moved == counted
    assert len(counted["outlet_links"]) >= 4
    after_denial = sum(row[5] for row in counted["outlet_days"])
    assert after_denial == 4


async def test_recording_moves_claims_counters_as_a_recount_would(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await _record(writer)
    async with sessionmaker() as session:
        moved = (await session.execute(select(*COUNTERS).order_by(Claim.id))).all()
    async with sessionmaker() as session, session.begin():
        claim_ids = [row[0] for row in moved]
        await claims.lock(session=session, claim_ids=claim_ids)
        await projection.refresh_claims(session=session, claim_ids=claim_ids)
    async with sessionmaker() as session:
        counted = (await session.execute(select(*COUNTERS).order_by(Claim.id))).all()
    assert moved == counted
    statuses = {row[4] for row in counted}
    assert statuses == {"none", "denied", "confirmed"}
