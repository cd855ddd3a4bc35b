"""The forms over HTTP, without a browser: every wrong field at once and in a person's words,
dates as precise as they are known, the new fields, claims corrected and merged, and names where
the correction form used to ask for ids."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.sightings.models import Sighting
from tests import factories
from tests.conftest import ADMIN_KEY, make_client
from tests.ui.pages import hidden_field, sign_in

UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@pytest.fixture
async def browser_like(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with make_client(app, key=None) as http:
        await sign_in(http, ADMIN_KEY)
        yield http


async def _tokens(http: httpx.AsyncClient, path: str) -> dict[str, str]:
    page = await http.get(path)
    assert page.status_code == 200, page.text
    found = {"csrf_token": hidden_field(page.text, "csrf_token")}
    for name in ("form_token", "revision"):
        if f'name="{name}" value="' in page.text:
            found[name] = hidden_field(page.text, name)
    return found


def _errors(html: str) -> dict[str, str]:
    return dict(re.findall(r'<p class="error" id="err-([a-z_]+)">([^<]*)</p>', html))


async def test_every_wrong_field_is_named_at_once_beside_its_own_input(
    browser_like: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    body = {
        **await _tokens(browser_like, "/ui/sightings/new"),
        "claim_text": "",
        "outlet": "kyiv-evening",
        "new_outlet_name": "Kyiv Evening",
        "new_outlet_kind": "news_outlet",
        "new_outlet_country": "Ukraine",
        "url": "kyiv-evening.example/troops",
        "published_at": "2022-08-07",
        "published_at_precision": "exact",
        "stance": "reports",
        "language": "Ukrainian language",
    }
    answer = await browser_like.post("/ui/sightings/new", data=body)
    assert answer.status_code == 422
    errors = _errors(answer.text)
    assert set(errors) == {"claim", "new_outlet_country", "url", "published_at", "language"}
    assert "two-letter country code" in errors["new_outlet_country"]
    assert "https://" in errors["url"] and "time" in errors["published_at"]
    # A person's words, not a validator's.
    for message in errors.values():
        assert not re.search(r"Input should|Value error|validation error|string_pattern", message)
    # Each message is announced by its own input.
    for name in ("new_outlet_country", "url", "published_at", "language"):
        assert re.search(rf'id="{name}"[^>]*aria-describedby="[^"]*err-{name}"', answer.text)
    assert 'value="Ukraine"' in answer.text  # what was typed stays, not cut to two letters
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Sighting)) == 0


async def test_dates_as_precise_as_known_and_the_new_fields_are_recorded(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    claim = await factories.claim(client, "North Korea offered troops")
    await factories.outlet(client, "kremlin-laundress", kind="anonymous_channel")
    await factories.outlet(client, "paper")
    source = await factories.sighting(client, claim["id"], "kremlin-laundress", factories.day(1))
    page = (await browser_like.get(f"/ui/sightings/new?claim_id={claim['id']}")).text
    assert 'name="cites_outlets" value="kremlin-laundress"' in page
    body = {
        **await _tokens(browser_like, f"/ui/sightings/new?claim_id={claim['id']}"),
        "claim_id": claim["id"],
        "outlet": "paper",
        "url": "https://paper.example/troops",
        "published_at": "2022-08-03",
        "published_at_precision": "day",
        "stance": "reports",
        "title": "Troops from Pyongyang?",
        "language": "uk",
        "attribution": "citing a Telegram channel",
        "cites_outlets": "kremlin-laundress",
    }
    done = await browser_like.post("/ui/sightings/new", data=body)
    assert done.status_code == 303, _errors(done.text)
    recorded = (
        await client.get(f"/v1/sightings/{done.headers['location'].split('#s-')[1]}")
    ).json()
    assert recorded["published_at"] == "2022-08-03T00:00:00Z"
    assert recorded["published_at_precision"] == "day"
    assert (recorded["title"], recorded["language"]) == ("Troops from Pyongyang?", "uk")
    assert recorded["attribution"] == "citing a Telegram channel"
    assert recorded["cites"] == [source["id"]]

    monthly = {
        **await _tokens(browser_like, "/ui/sightings/new"),
        "claim_text": "Pyongyang sends builders to Donbas",
        "new_claim": "1",
        "summary": "Daily NK, citing unnamed sources.",
        "tags": "labour, north-korea",
        "outlet": "paper",
        "url": "https://paper.example/builders",
        "published_at": "2022-07",
        "published_at_precision": "month",
        "stance": "reports",
    }
    made = await browser_like.post("/ui/sightings/new", data=monthly)
    assert made.status_code == 303, _errors(made.text)
    new_claim = (
        await client.get(f"/v1/claims/{made.headers['location'].split('/')[3][:36]}")
    ).json()
    assert new_claim["summary"] == "Daily NK, citing unnamed sources."
    assert new_claim["tags"] == ["labour", "north-korea"]
    retold = {
        **monthly,
        **await _tokens(browser_like, "/ui/sightings/new"),
        "published_at_precision": "day",
    }
    refused = await browser_like.post("/ui/sightings/new", data=retold)
    assert "set Date precision to “month”" in _errors(refused.text)["published_at"]


async def test_a_claim_is_corrected_and_merged_from_its_pages(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    kept = await factories.claim(client, "North Korea offered 100,000 troops to the DPR")
    duplicate = await factories.claim(client, "North Korea offers 100 000 troops for the DPR")
    await factories.outlet(client, "paper")
    await factories.sighting(client, duplicate["id"], "paper", factories.day(2))
    claim_page = (await browser_like.get(f"/ui/claims/{duplicate['id']}")).text
    assert f"/ui/claims/{duplicate['id']}/edit" in claim_page
    assert f"/ui/claims/{duplicate['id']}/merge" in claim_page

    edit = f"/ui/claims/{duplicate['id']}/edit"
    form = {**await _tokens(browser_like, edit), "statement": duplicate["statement"]}
    form |= {"summary": "", "language": "xx-not a tag", "tags": "military", "variant_of": ""}
    refused = await browser_like.post(edit, data=form)
    assert refused.status_code == 422 and set(_errors(refused.text)) == {"language", "reason"}
    fixed = await browser_like.post(edit, data={**form, "language": "en", "reason": "tagged"})
    assert fixed.status_code == 303
    corrected = (await client.get(f"/v1/claims/{duplicate['id']}")).json()
    assert corrected["tags"] == ["military"] and corrected["revision"] == 2

    merge = f"/ui/claims/{duplicate['id']}/merge"
    page = await browser_like.get(merge)
    # Searched by its own words first: the claim it duplicates is offered by its statement.
    assert re.search(
        rf'name="into" value="{kept["id"]}"[^>]*>\s*{re.escape(kept["statement"])}', page.text
    )
    tokens = await _tokens(browser_like, merge)
    unpicked = await browser_like.post(merge, data={**tokens, "reason": "same claim"})
    assert unpicked.status_code == 422 and "into" in _errors(unpicked.text)
    merged = await browser_like.post(merge, data={**tokens, "into": kept["id"], "reason": "same"})
    assert merged.status_code == 303 and merged.headers["location"].startswith(
        f"/ui/claims/{kept['id']}"
    )
    assert (await client.get(f"/v1/claims/{kept['id']}")).json()["sightings_count"] == 1
    moved = await client.get(f"/v1/claims/{duplicate['id']}", follow_redirects=False)
    assert moved.status_code == 308


async def test_the_correction_form_names_sightings_and_claims_never_bare_ids(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    claim = await factories.claim(client, "A claim told twice")
    await factories.outlet(client, "paper", name="The Paper")
    await factories.outlet(client, "blog", name="The Blog")
    first = await factories.sighting(client, claim["id"], "paper", factories.day(1))
    second = await factories.sighting(
        client, claim["id"], "blog", factories.day(2), cites=[first["id"]]
    )
    page = (await browser_like.get(f"/ui/sightings/{second['id']}")).text
    start = page.index('<form class="sighting correct"')
    form = page[start : page.index("</form>", start)]
    # Ids travel only as the values of choices; what a person reads and types are names.
    visible = re.sub(r"<[^>]+>", " ", form[form.index(">") + 1 :])
    assert not re.search(UUID, visible)
    for typed in re.findall(r'<input(?![^>]*type="(?:hidden|radio|checkbox)")[^>]*>', form):
        value = re.search(r' value="([^"]*)"', typed)
        assert not (value and re.search(UUID, value.group(1))), typed
    assert re.search(rf'value="{first["id"]}" checked>\s*The Paper, 01 Aug 2022', form)
    assert "Keep it in: A claim told twice" in form
    details = page[: page.index("Correct this sighting")]
    assert re.search(
        r'<dt>Cites</dt><dd><a href="/ui/sightings/[^"]+">The Paper, 01 Aug 2022', details
    )

    # A refusal that the service words with ids is told by what it means.
    page = (await browser_like.get(f"/ui/sightings/{first['id']}")).text
    moved_later = {
        "csrf_token": hidden_field(page, "csrf_token"),
        "revision": "1",
        "outlet": "paper",
        "url": first["url"],
        "published_at": "2022-08-05 12:00",
        "published_at_precision": "exact",
        "stance": "reports",
        "claim_id": claim["id"],
        "reason": "the date was wrong",
    }
    refused = await browser_like.post(f"/ui/sightings/{first['id']}/correct", data=moved_later)
    message = _errors(refused.text)["published_at"]
    assert "time never runs backwards" in message and not re.search(UUID, message)


async def test_the_claim_page_explains_its_drawings(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    recorded = await factories.record_worked_example(client)
    page = (await browser_like.get(f"/ui/claims/{recorded['laundress']['claim_id']}")).text
    legend = re.search(r"<ul [^>]*data-legend[^>]*>(.*?)</ul>", page, re.S)
    assert legend is not None
    items = set(re.findall(r'data-legend-item="([^"]+)"', legend.group(1)))
    assert {"main-path", "first-denial", "after-denial", "imprecise-dates", "outlet-kinds"} <= items
    graph_legend = re.search(r"<ul [^>]*data-graph-legend[^>]*>(.*?)</ul>", page, re.S)
    assert graph_legend is not None and 'data-legend-item="stance-denies"' in graph_legend.group(1)
    details = re.search(r'<div id="mark-details"[^>]*>(.*?)</div>', page, re.S)
    assert details is not None and "Kremlin Laundress" in details.group(1)
    assert len(re.findall(r'<g class="tick" data-tick="2022-\d\d-\d\d"', page)) >= 3


async def test_an_outlets_domains_are_corrected_from_its_page_and_a_taken_one_is_refused(
    browser_like: httpx.AsyncClient, client: httpx.AsyncClient
) -> None:
    await factories.outlet(client, "asia-times")
    await factories.outlet(client, "daily-nk")
    taken = await client.patch("/v1/outlets/daily-nk", json={"domains": ["dailynk.com"]})
    assert taken.status_code == 200, taken.text

    body = {
        **await _tokens(browser_like, "/ui/outlets/asia-times"),
        "domains": "https://www.asiatimes.com/\nt.me/asiatimes",
        "reason": "its site and its channel",
    }
    saved = await browser_like.post("/ui/outlets/asia-times/domains", data=body)
    assert saved.status_code == 303, saved.text
    outlet = (await client.get("/v1/outlets/asia-times")).json()
    assert sorted(outlet["domains"]) == ["asiatimes.com", "t.me/asiatimes"]
    resolved = await client.get(
        "/v1/outlets/resolve", params={"url": "https://t.me/asiatimes/77?utm_source=x"}
    )
    assert resolved.json()["slug"] == "asia-times"

    body = {**await _tokens(browser_like, "/ui/outlets/asia-times"), "domains": "dailynk.com"}
    refused = await browser_like.post("/ui/outlets/asia-times/domains", data=body)
    assert refused.status_code == 422
    assert "Another outlet already publishes" in _errors(refused.text)["domains"]
    body = {**await _tokens(browser_like, "/ui/outlets/asia-times"), "domains": "javascript:x"}
    refused = await browser_like.post("/ui/outlets/asia-times/domains", data=body)
    assert refused.status_code == 422 and "one a line" in _errors(refused.text)["domains"]
    outlet = (await client.get("/v1/outlets/asia-times")).json()
    assert sorted(outlet["domains"]) == ["asiatimes.com", "t.me/asiatimes"]
