"""`POST /v1/url-info` against pages served by the test: what a pasted URL fills in."""

import json
from collections.abc import Awaitable, Callable

import httpx
import pytest

from app.config import Settings
from app.evidence.reading import telegram_embed_url
from app.url_info import service as url_info_service
from tests.evidence.pages import Pages, page, redirect
from tests.evidence.test_reading import TELEGRAM_EMBED
from tests.factories import claim, outlet
from tests.problems import assert_problem
from tests.processes import free_port

STATEMENT = "North Korea offered to send up to 100,000 troops to fight for the DPR and LPR"
ARTICLE = f"""<!doctype html>
<html lang="en"><head>
<title>{STATEMENT} | New Eastern Outlook</title>
<meta property="og:title" content="{STATEMENT}">
<meta property="og:site_name" content="New Eastern Outlook">
<link rel="canonical" href="/2022/08/25/troops/">
<script type="application/ld+json">{
    json.dumps(
        {
            "@context": "https://schema.org",
            "@type": "NewsArticle",
            "headline": STATEMENT,
            "datePublished": "2022-08-25T09:30:00+03:00",
        }
    )
}</script>
</head><body><article><h1>{STATEMENT}</h1>
<p>An anonymous channel claimed that the DPRK was ready to help the republics with military
force, up to 100 thousand men in ground units, as volunteers or under an alliance agreement.</p>
<p>On 11 August the Russian Foreign Ministry called the report a fake.</p>
</article></body></html>""".encode()
PLAIN = b"<!doctype html><html><head><title>Notes</title></head><body><p>Short.</p></body></html>"


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """A server that may fetch from 127.0.0.1, where the test's pages are served."""
    return settings.model_copy(update={"fetch_allow_private": True})


async def test_a_pasted_url_tells_outlet_page_sightings_and_claims(
    writer: httpx.AsyncClient, pages: Pages, indexed: Callable[[], Awaitable[None]]
) -> None:
    for path in ("/2022/08/25/troops/", "/2022/08/25/troops/?utm_source=telegram"):
        pages.routes[path] = page(ARTICLE)
    pages.routes["/moved"] = redirect("/2022/08/25/troops/")
    address = pages.url("/").removeprefix("http://").rstrip("/")
    neo = await outlet(writer, "new-eastern-outlook", domains=[address])
    troops = await claim(writer, STATEMENT)
    await indexed()
    pasted = pages.url("/2022/08/25/troops/?utm_source=telegram#comments")

    response = await writer.post("/v1/url-info", json={"url": pasted})
    assert response.status_code == 200, response.text
    info = response.json()
    assert info["url"] == pasted
    assert info["canonical_url"] == f"https://{address}/2022/08/25/troops/"
    assert info["outlet"]["id"] == neo["id"]
    assert info["sightings"] == []
    assert info["problem"] is None
    assert info["page"] == {
        "final_url": pages.url("/2022/08/25/troops/?utm_source=telegram"),
        "http_status": 200,
        "title": STATEMENT,
        "site_name": "New Eastern Outlook",
        "published_at": "2022-08-25T06:30:00Z",
        "published_at_precision": "exact",
        "language": "en",
        "excerpt": info["page"]["excerpt"],
        "canonical_link": pages.url("/2022/08/25/troops/"),
    }
    assert "100 thousand men" in info["page"]["excerpt"]
    assert info["matches"][0]["claim"]["id"] == troops["id"]
    assert info["matches"][0]["match"] == "same"

    # Recorded with what url-info proposed, the URL is then known, in any of its forms.
    recorded = await writer.post(
        "/v1/sightings",
        json={
            "claim_id": troops["id"],
            "url": pasted,
            "published_at": info["page"]["published_at"],
            "title": info["page"]["title"],
            "language": info["page"]["language"],
            "stance": "questions",
        },
    )
    assert recorded.json()["outlet"]["slug"] == "new-eastern-outlook"
    moved = await writer.post("/v1/url-info", json={"url": pages.url("/moved")})
    assert moved.json()["page"]["final_url"] == pages.url("/2022/08/25/troops/")
    again = await writer.post("/v1/url-info", json={"url": pages.url("/2022/08/25/troops/")})
    assert [s["id"] for s in again.json()["sightings"]] == [recorded.json()["id"]]


async def test_a_page_that_cannot_be_read_is_an_answer_not_an_error(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient, pages: Pages
) -> None:
    pages.routes["/2022/08/26/notes"] = page(PLAIN)
    dated = (await writer.post("/v1/url-info", json={"url": pages.url("/2022/08/26/notes")})).json()
    # No date on the page: the one in its path, to the day.
    assert dated["page"]["published_at"] == "2022-08-26T00:00:00Z"
    assert dated["page"]["published_at_precision"] == "day"
    assert dated["outlet"] is None and dated["matches"] == []
    for url, problem in [
        (pages.url("/deleted"), "HTTP 404"),
        (f"http://127.0.0.1:{free_port()}/closed", "connection failed"),
    ]:
        response = await writer.post("/v1/url-info", json={"url": url})
        assert response.status_code == 200, response.text
        assert (response.json()["page"], response.json()["problem"]) == (None, problem)
    # Reading a URL fetches on the server's behalf: a write key's work.
    refused = await reader.post("/v1/url-info", json={"url": pages.url("/2022/08/26/notes")})
    assert_problem(refused, 403)


async def test_a_pasted_telegram_post_is_read_from_its_embed_page(
    writer: httpx.AsyncClient, pages: Pages, monkeypatch: pytest.MonkeyPatch
) -> None:
    pages.routes["/kremlinlaundress/1200?embed=1&mode=tme"] = page(
        TELEGRAM_EMBED.encode(), content_type="text/html; charset=utf-8"
    )
    # t.me is out of a test's reach: its embed address leads to the test's own server instead,
    # and everything after the fetch (reading the post, the outlet, the canonical URL) is real.
    embed_urls: list[str] = []

    def embed_here(url: str) -> str | None:
        embed = telegram_embed_url(url)
        if embed is not None:
            embed_urls.append(embed)
            return pages.url(embed.removeprefix("https://t.me"))
        return None

    monkeypatch.setattr(url_info_service, "telegram_embed_url", embed_here)
    laundress = await outlet(writer, "kremlin-laundress", domains=["t.me/kremlinlaundress"])
    pasted = "https://t.me/s/kremlinlaundress/1200?single#comments"

    response = await writer.post("/v1/url-info", json={"url": pasted})
    assert response.status_code == 200, response.text
    info = response.json()
    assert embed_urls == ["https://t.me/kremlinlaundress/1200?embed=1&mode=tme"]
    assert info["outlet"]["id"] == laundress["id"]
    assert info["problem"] is None
    assert info["page"]["site_name"] == "Кремлёвская прачка"
    assert info["page"]["published_at"] == "2022-08-04T06:12:09Z"
    assert info["page"]["published_at_precision"] == "exact"
    assert info["page"]["language"] == "ru"
    assert info["page"]["title"].startswith("Кремлёвская прачка: КНДР готова отправить")
    assert "100 000 добровольцев" in info["page"]["excerpt"]
