"""Claims: normalised uniqueness, variants, search and the fields every claim carries."""

import httpx

from tests.factories import claim, day, outlet, sighting
from tests.problems import assert_problem

CLAIM_FIELDS = {
    "id",
    "statement",
    "tags",
    "variant_of",
    "created_at",
    "denial_status",
    "first_seen_at",
    "sightings_count",
    "outlets_count",
}


async def test_a_claim_carries_the_contract_fields(client: httpx.AsyncClient) -> None:
    created = await claim(
        client, "North Korea offered 100,000 troops", tags=["dprk"], language="en"
    )
    assert created.keys() >= CLAIM_FIELDS
    assert (created["denial_status"], created["sightings_count"], created["first_seen_at"]) == (
        "none",
        0,
        None,
    )
    assert (await client.get(f"/v1/claims/{created['id']}")).json() == created
    assert_problem(await client.get("/v1/claims/unknown"), 404)


async def test_the_same_statement_differently_written_is_a_conflict(
    client: httpx.AsyncClient,
) -> None:
    first = await claim(client, "North Korea offered 100,000 troops.")

    for retelling in (
        "north korea  offered 100000 troops",
        "NORTH KOREA OFFERED 100,000 TROOPS!!",
        "North\tKorea offered\n100,000 troops",
    ):
        problem = assert_problem(
            await client.post("/v1/claims", json={"statement": retelling}), 409
        )
        assert problem["existing_id"] == first["id"]
    # NFKC folds compatibility characters, such as full-width digits.
    wide = await client.post(
        "/v1/claims",
        json={"statement": "North Korea offered \uff11\uff10\uff10,\uff10\uff10\uff10 troops"},
    )
    assert assert_problem(wide, 409)["existing_id"] == first["id"]


async def test_variants_link_to_the_claim_they_grew_from(client: httpx.AsyncClient) -> None:
    original = await claim(client, "Troops were offered")
    variant = await claim(client, "Troops are already fighting", variant_of=original["id"])
    assert variant["variant_of"] == original["id"]
    assert_problem(
        await client.post("/v1/claims", json={"statement": "x y", "variant_of": "missing"}),
        422,
        "variant_of",
    )


async def test_search_by_text_tag_and_status(client: httpx.AsyncClient) -> None:
    await outlet(client, "ministry", "official")
    a = await claim(client, "Ушли войска из Херсона", tags=["kherson"])
    b = await claim(client, "Troops moved to the border", tags=["border", "troops"])
    await sighting(client, b["id"], "ministry", day(2), "denies")

    async def ids(**params: str) -> list[str]:
        return [c["id"] for c in (await client.get("/v1/claims", params=params)).json()["items"]]

    assert await ids(q="ВОЙСКА") == [a["id"]]
    assert await ids(q="moved to the") == [b["id"]]
    assert await ids(tag="troops") == [b["id"]]
    assert await ids(status="denied") == [b["id"]]
    assert await ids() == [b["id"], a["id"]]  # newest first
    assert_problem(await client.get("/v1/claims", params={"status": "lies"}), 422, "status")


async def test_bad_claims_are_refused(client: httpx.AsyncClient) -> None:
    assert_problem(await client.post("/v1/claims", json={}), 422, "statement")
    assert_problem(await client.post("/v1/claims", json={"statement": ""}), 422, "statement")
    assert_problem(await client.post("/v1/claims", json={"statement": "?!"}), 422, "statement")
    assert_problem(
        await client.post("/v1/claims", json={"statement": "x", "tags": "a"}), 422, "tags"
    )
    assert_problem(
        await client.post("/v1/claims", json={"statement": "x", "language": "!!"}), 422, "language"
    )
    assert (await client.get("/v1/claims")).json()["items"] == []
