"""Outlets by address: domain entries stored canonical, held by one outlet, and URLs resolved to
the outlet with the longest entry matching on a segment boundary."""

import httpx

from tests.factories import outlet
from tests.problems import assert_problem


async def test_domains_are_stored_canonical_and_held_by_one_outlet(
    writer: httpx.AsyncClient,
) -> None:
    times = await outlet(
        writer, "asia-times", domains=["https://www.AsiaTimes.com/", "asiatimes.com"]
    )
    assert times["domains"] == ["asiatimes.com"]
    channel = await outlet(writer, "laundress", domains=["t.me/kremlinlaundress/"])
    assert channel["domains"] == ["t.me/kremlinlaundress"]
    # Another outlet taking an entry, in any spelling, on creation or by correction.
    taken = await writer.post(
        "/v1/outlets",
        json={
            "slug": "copy",
            "name": "Copy",
            "kind": "other",
            "domains": ["http://m.asiatimes.com"],
        },
    )
    assert assert_problem(taken, 409)["existing_id"] == times["id"]
    assert (await writer.get("/v1/outlets/copy")).status_code == 404
    patched = await writer.patch("/v1/outlets/laundress", json={"domains": ["asiatimes.com"]})
    assert assert_problem(patched, 409)["existing_id"] == times["id"]
    refused = await writer.patch("/v1/outlets/laundress", json={"domains": ["t.me/x", "co.uk"]})
    body = assert_problem(refused, 422)
    assert body["errors"][0]["loc"] == ["body", "domains", 1]
    assert "co.uk" in body["errors"][0]["msg"]
    assert (await writer.get("/v1/outlets/laundress")).json()["domains"] == [
        "t.me/kremlinlaundress"
    ]
    # An outlet may give an entry up; another may then take it.
    moved = await writer.patch("/v1/outlets/asia-times", json={"domains": []})
    assert moved.json()["domains"] == []
    took = await writer.patch("/v1/outlets/laundress", json={"domains": ["asiatimes.com"]})
    assert took.json()["domains"] == ["asiatimes.com"]
    history = await writer.get("/v1/outlets/laundress/history")
    assert history.json()["items"][0]["changes"]["domains"] == {
        "from": ["t.me/kremlinlaundress"],
        "to": ["asiatimes.com"],
    }


async def test_a_url_resolves_to_the_longest_entry_on_a_segment_boundary(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient
) -> None:
    await outlet(writer, "telegram", kind="other", domains=["t.me"])
    await outlet(writer, "laundress", kind="anonymous_channel", domains=["t.me/kremlinlaundress"])
    await outlet(writer, "asia-times", domains=["asiatimes.com"])
    await outlet(writer, "press-office", kind="official", domains=["127.0.0.1:8080/press"])

    async def resolved(url: str) -> str | None:
        response = await reader.get("/v1/outlets/resolve", params={"url": url})
        return response.json()["slug"] if response.status_code == 200 else None

    assert await resolved("https://t.me/kremlinlaundress/1200") == "laundress"
    assert await resolved("https://t.me/s/kremlinlaundress/1200?utm_source=x") == "laundress"
    assert await resolved("https://t.me/kremlinlaundress2/1") == "telegram"
    assert await resolved("https://t.me/kremlinlaundress") == "laundress"
    # A host entry covers its subdomains, whatever prefix the URL carries.
    assert await resolved("http://www.asiatimes.com/2022/08/x/") == "asia-times"
    assert await resolved("https://opinion.asiatimes.com/a") == "asia-times"
    assert await resolved("https://notasiatimes.com/a") is None
    assert await resolved("http://127.0.0.1:8080/press/2022/denial") == "press-office"
    assert await resolved("http://127.0.0.1:8080/pressure") is None
    assert await resolved("http://127.0.0.1/press/1") is None
    missing = await reader.get("/v1/outlets/resolve", params={"url": "https://nowhere.example/"})
    assert_problem(missing, 404)
    bad = await reader.get("/v1/outlets/resolve", params={"url": "javascript:alert(1)"})
    assert_problem(bad, 422, "url")
