"""Recording sightings: inline creation, citations and the record of who recorded what."""

from datetime import UTC, datetime, timedelta

import httpx

from tests.factories import claim, day, outlet, sighting


async def test_inline_claim_and_outlet_are_created_once_and_reused(
    writer: httpx.AsyncClient,
) -> None:
    body = {
        "claim": {"statement": "The bridge was closed on Monday", "tags": ["transport"]},
        "outlet": {"slug": "city-paper", "name": "City Paper", "kind": "news_outlet"},
        "url": "https://city.example/a",
        "published_at": day(1),
        "stance": "reports",
    }
    first = await writer.post("/v1/sightings", json=body)
    again = await writer.post(
        "/v1/sightings",
        json={
            **body,
            "claim": {"statement": "the bridge was closed on monday!"},
            "outlet": {"slug": "city-paper", "name": "Another name", "kind": "other"},
            "url": "https://city.example/b",
        },
    )

    assert first.status_code == again.status_code == 201
    assert first.json()["claim_id"] == again.json()["claim_id"]
    assert again.json()["outlet"]["name"] == "City Paper"
    assert len((await writer.get("/v1/claims")).json()["items"]) == 1
    assert len((await writer.get("/v1/outlets")).json()["items"]) == 1
    listed = (await writer.get(f"/v1/claims/{first.json()['claim_id']}")).json()
    assert (listed["sightings_count"], listed["outlets_count"]) == (2, 1)
    assert listed["first_seen_at"] == day(1)


async def test_the_record_keeps_who_recorded_it_and_the_evidence(
    writer: httpx.AsyncClient,
) -> None:
    await outlet(writer, "wire")
    c = await claim(writer, "Grain exports doubled")
    before = datetime.now(UTC)
    recorded = await sighting(
        writer,
        c["id"],
        "wire",
        "2022-08-01T09:30:00+03:00",
        archive_url="https://archive.example/wire/1",
        content_sha256="AB" * 32,
        attribution="citing unnamed sources",
        title="Exports",
        excerpt="doubled",
        language="en",
        published_at_precision="day",
    )

    fetched = (await writer.get(f"/v1/sightings/{recorded['id']}")).json()
    assert fetched == recorded
    assert fetched["recorded_by"] == "desk"
    assert datetime.fromisoformat(fetched["recorded_at"]) >= before - timedelta(seconds=1)
    assert fetched["recorded_at"].endswith("Z")
    assert fetched["published_at"] == "2022-08-01T06:30:00Z"
    assert fetched["content_sha256"] == "ab" * 32
    assert fetched["archive_url"] == "https://archive.example/wire/1"
    assert fetched["attribution"] == "citing unnamed sources"
    assert fetched["published_at_precision"] == "day"


async def test_cites_outlets_resolves_to_the_latest_earlier_sighting(
    client: httpx.AsyncClient,
) -> None:
    await outlet(client, "source")
    await outlet(client, "echo")
    c = await claim(client, "The mayor resigned")
    early = await sighting(client, c["id"], "source", day(1), url="https://source.example/1")
    later = await sighting(client, c["id"], "source", day(5), url="https://source.example/2")
    await sighting(client, c["id"], "source", day(20), url="https://source.example/3")

    echo = await sighting(client, c["id"], "echo", day(10), cites_outlets=["source"])
    both = await sighting(
        client,
        c["id"],
        "echo",
        day(11),
        url="https://echo.example/2",
        cites=[early["id"]],
        cites_outlets=["source"],
    )

    assert echo["cites"] == [later["id"]]
    assert echo["citations"] == [{"sighting_id": later["id"], "basis": "cites_outlet"}]
    assert sorted(both["cites"]) == sorted([early["id"], later["id"]])


async def test_citing_a_sighting_published_at_the_same_moment_is_allowed(
    client: httpx.AsyncClient,
) -> None:
    await outlet(client, "a")
    await outlet(client, "b")
    c = await claim(client, "Simultaneous story")
    first = await sighting(client, c["id"], "a", day(1))
    second = await sighting(client, c["id"], "b", day(1), cites=[first["id"]])
    assert second["cites"] == [first["id"]]


async def test_lists_filter_and_page_through_sightings(client: httpx.AsyncClient) -> None:
    await outlet(client, "one")
    await outlet(client, "two")
    c = await claim(client, "Paged claim")
    other = await claim(client, "Another claim")
    for n in range(1, 8):
        await sighting(
            client, c["id"], "one" if n % 2 else "two", day(n), "asserts" if n < 4 else "reports"
        )
    await sighting(client, other["id"], "one", day(9))

    seen, cursor = [], None
    while True:
        params = {"claim_id": c["id"], "limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/sightings", params=params)).json()
        seen += [s["published_at"] for s in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break

    assert seen == [day(n) for n in range(1, 8)]
    by_outlet = (await client.get("/v1/sightings", params={"outlet": "two"})).json()["items"]
    assert {s["outlet"]["slug"] for s in by_outlet} == {"two"} and len(by_outlet) == 3
    stance = (await client.get("/v1/sightings", params={"stance": "asserts"})).json()["items"]
    assert len(stance) == 3
    since = (await client.get("/v1/sightings", params={"since": day(6)})).json()["items"]
    assert [s["published_at"] for s in since] == [day(6), day(7), day(9)]
