"""One article, one sighting: the duplicate rule compares canonical URLs on every route, and a
sighting's outlet may come from its URL."""

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.recording.recorder import sightings_at
from tests.factories import claim, day, outlet, sighting
from tests.plans import plan_of
from tests.problems import assert_problem

ARTICLE = "https://www.asiatimes.com/2022/08/north-korea-troops/"
# The same article as people paste it: each must meet the first sighting's id.
SAME_ARTICLE = [
    "http://asiatimes.com/2022/08/north-korea-troops/?utm_source=telegram&utm_medium=social",
    "https://asiatimes.com/2022/08/north-korea-troops/#comments",
    "https://m.asiatimes.com/2022/08/north-korea-troops/?fbclid=IwAR0",
    "https://amp.asiatimes.com/2022/08/north-korea-troops/amp/",
    "HTTPS://WWW.ASIATIMES.COM:443/2022/08/north-korea-troops/?amp=1",
]


async def test_every_form_of_one_url_is_one_sighting(writer: httpx.AsyncClient) -> None:
    troops = await claim(writer, "North Korea offered 100,000 troops")
    await outlet(writer, "asia-times", domains=["asiatimes.com"])
    first = await sighting(writer, troops["id"], "asia-times", day(4), url=ARTICLE)
    assert first["canonical_url"] == "https://asiatimes.com/2022/08/north-korea-troops/"
    body = {"claim_id": troops["id"], "published_at": day(4), "stance": "reports"}
    for url in SAME_ARTICLE:
        # By slug, and with the outlet found from the URL alike.
        for named in ({"outlet": "asia-times"}, {}):
            response = await writer.post("/v1/sightings", json=body | named | {"url": url})
            assert assert_problem(response, 409)["existing_id"] == first["id"], url
        found = await writer.get("/v1/sightings", params={"url": url})
        assert [s["id"] for s in found.json()["items"]] == [first["id"]], url
    batch = await writer.post(
        "/v1/sightings/batch", json={"items": [body | {"url": SAME_ARTICLE[0]}]}
    )
    assert batch.json()["results"][0] | {"problem": None} == {
        "index": 0,
        "ref": None,
        "status": "duplicate",
        "id": None,
        "existing_id": first["id"],
        "problem": None,
    }
    # Another page of the same site is another sighting; a query that is not tracking stays.
    other = await sighting(
        writer, troops["id"], "asia-times", day(5), url=ARTICLE + "?page=2&utm_source=x"
    )
    assert other["canonical_url"] == "https://asiatimes.com/2022/08/north-korea-troops/?page=2"
    # A correction to another form of a recorded URL meets the same rule.
    moved = await writer.patch(
        f"/v1/sightings/{other['id']}",
        json={"url": SAME_ARTICLE[1], "reason": "pasted the wrong link"},
    )
    assert assert_problem(moved, 409)["existing_id"] == first["id"]
    # ...and one to a new address follows it, its canonical form with it.
    fixed = await writer.patch(
        f"/v1/sightings/{other['id']}",
        json={"url": "https://asiatimes.com/2022/08/other/#top", "reason": "the right link"},
    )
    assert fixed.json()["canonical_url"] == "https://asiatimes.com/2022/08/other/"
    listed = await writer.get("/v1/sightings", params={"claim_id": troops["id"]})
    assert len(listed.json()["items"]) == 2


async def test_telegram_preview_and_post_are_one_address(writer: httpx.AsyncClient) -> None:
    troops = await claim(writer, "North Korea offered 100,000 troops")
    await outlet(writer, "kremlin-laundress", kind="anonymous_channel")
    first = await sighting(
        writer,
        troops["id"],
        "kremlin-laundress",
        day(1),
        url="https://t.me/s/kremlinlaundress/1200",
    )
    assert first["canonical_url"] == "https://t.me/kremlinlaundress/1200"
    again = await writer.post(
        "/v1/sightings",
        json={
            "claim_id": troops["id"],
            "outlet": "kremlin-laundress",
            "url": "https://t.me/kremlinlaundress/1200?single",
            "published_at": day(1),
            "stance": "asserts",
        },
    )
    # `?single` is no tracking parameter: Telegram's own query is another address.
    assert again.status_code == 201
    found = await writer.get("/v1/sightings", params={"url": "http://t.me/kremlinlaundress/1200"})
    assert [s["id"] for s in found.json()["items"]] == [first["id"]]


async def test_outlet_comes_from_the_url_or_is_asked_for(writer: httpx.AsyncClient) -> None:
    troops = await claim(writer, "North Korea offered 100,000 troops")
    await outlet(writer, "telegram", kind="other", domains=["t.me"])
    await outlet(
        writer, "kremlin-laundress", kind="anonymous_channel", domains=["t.me/kremlinlaundress"]
    )
    body = {"claim_id": troops["id"], "published_at": day(1), "stance": "asserts"}
    # The longest entry wins, on a segment boundary only.
    own = await writer.post(
        "/v1/sightings", json=body | {"url": "https://t.me/kremlinlaundress/1200"}
    )
    assert own.json()["outlet"]["slug"] == "kremlin-laundress"
    near = await writer.post(
        "/v1/sightings", json=body | {"url": "https://t.me/kremlinlaundress2/1"}
    )
    assert near.json()["outlet"]["slug"] == "telegram"
    before = (await writer.get("/v1/sightings")).json()["items"]
    unknown = await writer.post("/v1/sightings", json=body | {"url": "https://nowhere.example/a"})
    assert "domains" in assert_problem(unknown, 422, "outlet")["detail"]
    batch = await writer.post(
        "/v1/sightings/batch",
        json={"items": [body | {"url": "https://nowhere.example/b"}], "atomic": True},
    )
    problem = assert_problem(batch, 422)["results"][0]["problem"]
    assert problem["errors"][0]["loc"] == ["body", "items", 0, "outlet"]
    assert (await writer.get("/v1/sightings")).json()["items"] == before


def test_import_rows_find_their_outlet_by_url(tracer: Any, tmp_path: Path) -> None:
    """The first row brings the outlet and its domain; the next ones name no outlet."""
    rows = tmp_path / "rows.csv"
    rows.write_text(
        "claim,outlet,outlet_name,outlet_kind,outlet_domains,url,published_at,stance\n"
        "Troops were offered,kremlin-laundress,Kremlin Laundress,anonymous_channel,"
        "https://t.me/kremlinlaundress/,https://t.me/kremlinlaundress/1200,2022-08-01,asserts\n"
        "Troops were offered,,,,,https://t.me/s/kremlinlaundress/1300,2022-08-02,asserts\n"
        "Troops were offered,,,,,https://nowhere.example/c,2022-08-02,asserts\n",
        encoding="utf-8",
    )
    first = tracer("import", rows)
    assert "2 created, 0 duplicates, 1 errors" in first.output, first.output
    assert "row 4: outlet: no outlet's domains match this url" in first.output
    # Found by its URL again, in any form, the row is the same sighting of the same outlet.
    rows.write_text(
        "claim,url,published_at,stance\n"
        "Troops were offered,http://t.me/kremlinlaundress/1300?utm_source=x,2022-08-02,asserts\n",
        encoding="utf-8",
    )
    again = tracer("import", rows)
    assert "0 created, 1 duplicates, 0 errors" in again.output, again.output


@pytest.mark.parametrize("count", [2, 300])
async def test_recording_finds_the_sightings_at_its_urls_by_their_index(
    sessionmaker: async_sessionmaker[AsyncSession], count: int
) -> None:
    """The sightings already at a recording's URLs, one or a batch's worth, are read through the
    canonical URL's index. Without statistics PostgreSQL read every sighting instead: asked for
    those that are not withdrawn duplicates, through the whole partial index of those; asked for
    hundreds of URLs at once, in a scan of the table (a 1,000-item batch took 1.8 s at 150,000
    sightings, and every recording grew with the ledger)."""
    async with sessionmaker() as session:
        dialect = session.get_bind().dialect
        urls = [f"https://example.org/{n}" for n in range(count)]
        plan = await plan_of(session, sightings_at(dialect.name, urls))
    if dialect.name == "sqlite":
        assert "USING INDEX ix_sightings_canonical_url (canonical_url=?)" in plan, plan
    else:
        assert "Index Cond: (canonical_url = " in plan, plan
        assert "ix_sightings_canonical_url" in plan, plan
        assert "Seq Scan on sightings" not in plan, plan
        assert "uq_sightings_claim_id_outlet_id_canonical_url" not in plan, plan
