"""Hostile URLs are refused with a problem naming the field, and change nothing: read before
recording (`url-info`, with the server's default address guard), recorded, looked up or given
as an outlet's domain."""

import httpx

from tests.factories import claim, day, outlet
from tests.problems import assert_problem

REFUSED_EVERYWHERE = [
    "javascript:alert(document.cookie)//https://asiatimes.com/",
    "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
    "https://editor:hunter2@asiatimes.com/2022/08/x/",
    "https://asiatimes.com/search?q=" + "troops+" * 300,
    "https://xn--ls8h-.com/",
    "https://[fe80::1%25eth0]/",
    "https://asia\ttimes.com/",
]
# Addresses a sighting may name (an intranet page is a fact too) that Tracer does not fetch.
NOT_FETCHED = [
    "http://127.0.0.1:8080/press",
    "http://[::1]/",
    "http://10.0.0.7/internal",
    "http://169.254.169.254/latest/meta-data/",
    "http://[::ffff:192.168.0.1]/",
]


async def test_hostile_urls_are_refused_naming_the_field(writer: httpx.AsyncClient) -> None:
    troops = await claim(writer, "North Korea offered 100,000 troops")
    await outlet(writer, "asia-times", domains=["asiatimes.com"])
    events = (await writer.get("/v1/events")).json()["items"]
    body = {"claim_id": troops["id"], "published_at": day(4), "stance": "reports"}
    for url in REFUSED_EVERYWHERE + NOT_FETCHED:
        response = await writer.post("/v1/url-info", json={"url": url})
        assert_problem(response, 422, "url")
    for url in REFUSED_EVERYWHERE:
        recorded = await writer.post("/v1/sightings", json=body | {"url": url})
        assert_problem(recorded, 422, "url")
        batch = await writer.post(
            "/v1/sightings/batch", json={"items": [body | {"url": url}], "atomic": True}
        )
        problem = assert_problem(batch, 422)["results"][0]["problem"]
        assert problem["errors"][0]["loc"][-1] == "url", problem
        looked_up = await writer.get("/v1/sightings", params={"url": url})
        assert_problem(looked_up, 422, "url")
        resolved = await writer.get("/v1/outlets/resolve", params={"url": url})
        assert_problem(resolved, 422, "url")
        domain = await writer.patch("/v1/outlets/asia-times", json={"domains": [url]})
        assert domain.status_code == 422, (url, domain.text)
    assert (await writer.get("/v1/sightings")).json()["items"] == []
    assert (await writer.get("/v1/outlets/asia-times")).json()["domains"] == ["asiatimes.com"]
    assert (await writer.get("/v1/events")).json()["items"] == events
    # An IDN host is no hostile one: stored in punycode, found by either spelling.
    idn = await writer.post(
        "/v1/sightings",
        json=body | {"url": "https://пример.рф/новости", "outlet": "asia-times"},
    )
    assert idn.json()["canonical_url"] == (
        "https://xn--e1afmkfd.xn--p1ai/%D0%BD%D0%BE%D0%B2%D0%BE%D1%81%D1%82%D0%B8"
    )
    found = await writer.get("/v1/sightings", params={"url": "https://ПРИМЕР.РФ/новости"})
    assert [s["id"] for s in found.json()["items"]] == [idn.json()["id"]]
