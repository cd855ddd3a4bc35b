"""Outlets: create, find, page through, change; and every refusal."""

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import Outlet
from tests.factories import outlet
from tests.problems import assert_problem


async def test_create_and_fetch_by_slug(client: httpx.AsyncClient) -> None:
    created = await outlet(
        client,
        "russian-mfa",
        "official",
        name="Russian Foreign Ministry",
        country="ru",
        language="RU",
        url="https://mid.ru/",
        aliases=["МИД России"],
    )
    fetched = (await client.get("/v1/outlets/russian-mfa")).json()

    assert fetched == created
    assert (created["country"], created["language"], created["kind"]) == ("RU", "ru", "official")
    assert_problem(await client.get("/v1/outlets/nobody"), 404)


async def test_search_by_kind_country_and_substring(client: httpx.AsyncClient) -> None:
    await outlet(
        client,
        "kremlin-laundress",
        "anonymous_channel",
        country="RU",
        aliases=["Кремлёвская прачка"],
    )
    await outlet(client, "asia-times", country="HK", name="Asia Times")
    await outlet(client, "ministry", "official", country="RU")

    async def slugs(**params: str) -> list[str]:
        return [o["slug"] for o in (await client.get("/v1/outlets", params=params)).json()["items"]]

    assert await slugs(kind="official") == ["ministry"]
    assert await slugs(country="ru") == ["kremlin-laundress", "ministry"]
    assert await slugs(q="TIMES") == ["asia-times"]
    assert await slugs(q="ПРАЧКА") == ["kremlin-laundress"]
    assert await slugs(q="%") == []
    assert_problem(await client.get("/v1/outlets", params={"kind": "blog"}), 422, "kind")


async def test_pages_cover_every_outlet_once(client: httpx.AsyncClient) -> None:
    for n in range(7):
        await outlet(client, f"outlet-{n}")
    seen, cursor = [], None
    while True:
        params = {"limit": "3", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/v1/outlets", params=params)).json()
        seen += [o["slug"] for o in page["items"]]
        if not (cursor := page["next_cursor"]):
            break
    assert seen == [f"outlet-{n}" for n in range(7)]
    assert_problem(await client.get("/v1/outlets", params={"limit": "501"}), 422, "limit")
    assert_problem(await client.get("/v1/outlets", params={"cursor": "garbage!"}), 422, "cursor")


async def test_patch_changes_only_what_is_sent(client: httpx.AsyncClient) -> None:
    await outlet(client, "paper", country="UA", language="uk")

    patched = await client.patch("/v1/outlets/paper", json={"name": "The Paper", "language": None})

    assert patched.status_code == 200
    body = patched.json()
    assert (body["name"], body["country"], body["language"]) == ("The Paper", "UA", None)
    assert_problem(await client.patch("/v1/outlets/paper", json={"name": None}), 422, "name")
    assert_problem(await client.patch("/v1/outlets/paper", json={"slug": "other"}), 422, "slug")
    assert_problem(await client.patch("/v1/outlets/nobody", json={"name": "x"}), 404)


BAD = [
    ("slug with capitals", {"slug": "Paper"}, "slug"),
    ("slug too long", {"slug": "p" * 64}, "slug"),
    ("slug starting with dash", {"slug": "-paper"}, "slug"),
    ("unknown country", {"country": "XX"}, "country"),
    ("country name", {"country": "Russia"}, "country"),
    ("bad language", {"language": "english please"}, "language"),
    ("ftp url", {"url": "ftp://paper.example"}, "url"),
    ("unknown kind", {"kind": "blog"}, "kind"),
    ("missing name", {"name": None}, "name"),
    ("empty name", {"name": ""}, "name"),
]


@pytest.mark.parametrize(("change", "field"), [b[1:] for b in BAD], ids=[b[0] for b in BAD])
async def test_bad_outlets_are_refused(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    change: dict,
    field: str,
) -> None:
    body = {"slug": "paper", "name": "Paper", "kind": "news_outlet", **change}
    body = {k: v for k, v in body.items() if v is not None}
    assert_problem(await client.post("/v1/outlets", json=body), 422, field)
    async with sessionmaker() as session:
        assert await session.scalar(select(func.count()).select_from(Outlet)) == 0


async def test_a_taken_slug_is_a_conflict_naming_the_existing_outlet(
    client: httpx.AsyncClient,
) -> None:
    first = await outlet(client, "paper")
    problem = assert_problem(
        await client.post("/v1/outlets", json={"slug": "paper", "name": "Other", "kind": "other"}),
        409,
    )
    assert problem["existing_id"] == first["id"]
    assert (await client.get("/v1/outlets/paper")).json()["name"] == first["name"]
