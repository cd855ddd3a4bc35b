"""Every way a sighting can be refused: a clear problem naming the field, and nothing stored."""

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import Citation, Claim, Outlet, Sighting
from tests.factories import claim, day, outlet, sighting
from tests.problems import assert_problem


async def _counts(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, ...]:
    async with sessionmaker() as session:
        return tuple(
            [
                await session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Claim, Outlet, Sighting, Citation)
            ]
        )


@pytest.fixture
async def base(client: httpx.AsyncClient) -> dict:
    await outlet(client, "origin")
    await outlet(client, "echo")
    c = await claim(client, "The dam was breached")
    first = await sighting(client, c["id"], "origin", day(5), url="https://origin.example/1")
    return {
        "claim_id": c["id"],
        "first": first,
        "body": {
            "claim_id": c["id"],
            "outlet": "echo",
            "url": "https://echo.example/1",
            "published_at": day(6),
            "stance": "reports",
        },
    }


def _future(minutes: int) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


BAD_BODIES = [
    ("missing url", {"url": None}, 422, "url"),
    ("url scheme", {"url": "ftp://echo.example/1"}, 422, "url"),
    ("not a url", {"url": "echo dot example"}, 422, "url"),
    ("no offset", {"published_at": "2022-08-06T12:00:00"}, 422, "published_at"),
    ("not a time", {"published_at": "yesterday"}, 422, "published_at"),
    ("far future", {"published_at": _future(30)}, 422, "published_at"),
    ("unknown stance", {"stance": "shouts"}, 422, "stance"),
    ("unknown precision", {"published_at_precision": "week"}, 422, "published_at_precision"),
    ("unknown claim", {"claim_id": "no-such-claim"}, 422, "claim_id"),
    ("no claim at all", {"claim_id": None}, 422, "claim_id"),
    ("unknown outlet", {"outlet": "nobody"}, 422, "outlet"),
    ("bad outlet slug", {"outlet": "Not A Slug"}, 422, "outlet"),
    ("cites unknown", {"cites": ["missing-id"]}, 422, "cites"),
    ("cites outlet never seen", {"cites_outlets": ["echo"]}, 422, "cites_outlets"),
    ("bad hash", {"content_sha256": "xyz"}, 422, "content_sha256"),
    ("bad archive url", {"archive_url": "javascript:alert(1)"}, 422, "archive_url"),
    ("bad language", {"language": "not a language"}, 422, "language"),
    ("unknown field", {"sauce": "secret"}, 422, "sauce"),
]


@pytest.mark.parametrize(
    ("change", "status", "field"), [b[1:] for b in BAD_BODIES], ids=[b[0] for b in BAD_BODIES]
)
async def test_bad_sighting_is_refused_and_nothing_changes(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    base: dict,
    change: dict,
    status: int,
    field: str,
) -> None:
    before = await _counts(sessionmaker)
    body = {k: v for k, v in {**base["body"], **change}.items() if v is not None}

    assert_problem(await client.post("/v1/sightings", json=body), status, field)
    assert await _counts(sessionmaker) == before


async def test_inline_outlet_and_claim_are_not_kept_when_the_sighting_is_refused(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], base: dict
) -> None:
    before = await _counts(sessionmaker)
    body = {
        **base["body"],
        "claim_id": None,
        "claim": {"statement": "A brand new claim"},
        "outlet": {"slug": "brand-new", "name": "Brand New", "kind": "other"},
        "cites": ["missing-id"],
    }
    body.pop("claim_id")
    assert_problem(await client.post("/v1/sightings", json=body), 422, "cites")
    assert await _counts(sessionmaker) == before


async def test_both_claim_id_and_inline_claim_is_refused(
    client: httpx.AsyncClient, base: dict
) -> None:
    body = {**base["body"], "claim": {"statement": "Something else"}}
    assert_problem(await client.post("/v1/sightings", json=body), 422, "claim_id")


async def test_citing_a_later_sighting_is_refused(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], base: dict
) -> None:
    before = await _counts(sessionmaker)
    body = {**base["body"], "published_at": day(4), "cites": [base["first"]["id"]]}

    problem = assert_problem(await client.post("/v1/sightings", json=body), 422, "cites")

    assert "after" in problem["detail"]
    assert problem["errors"][0]["loc"] == ["body", "cites", 0]
    assert await _counts(sessionmaker) == before


async def test_cites_outlets_only_looks_back_in_time(client: httpx.AsyncClient, base: dict) -> None:
    body = {**base["body"], "published_at": day(4), "cites_outlets": ["origin"]}
    problem = assert_problem(await client.post("/v1/sightings", json=body), 422, "cites_outlets")
    assert "record it first" in problem["detail"]


async def test_a_few_minutes_of_clock_skew_is_tolerated(
    client: httpx.AsyncClient, base: dict
) -> None:
    body = {**base["body"], "published_at": _future(2)}
    assert (await client.post("/v1/sightings", json=body)).status_code == 201


async def test_the_same_claim_outlet_and_url_twice_is_a_conflict(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], base: dict
) -> None:
    first = await client.post("/v1/sightings", json=base["body"])
    before = await _counts(sessionmaker)

    again = await client.post("/v1/sightings", json={**base["body"], "stance": "asserts"})

    problem = assert_problem(again, 409)
    assert problem["existing_id"] == first.json()["id"]
    assert await _counts(sessionmaker) == before


async def test_malformed_json_is_a_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/sightings", content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 422)


async def test_oversized_body_is_refused_with_413(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], base: dict
) -> None:
    before = await _counts(sessionmaker)
    body = {**base["body"], "excerpt": "x" * (1024 * 1024 + 10)}

    assert_problem(await client.post("/v1/sightings", json=body), 413)
    assert await _counts(sessionmaker) == before


async def test_oversized_body_without_content_length_is_refused(
    client: httpx.AsyncClient, base: dict
) -> None:
    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(20):
            yield b"x" * 65536

    response = await client.post(
        "/v1/sightings", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_problem(response, 413)


async def test_a_read_key_cannot_record(reader: httpx.AsyncClient, base: dict) -> None:
    assert_problem(await reader.post("/v1/sightings", json=base["body"]), 403)


async def test_no_key_cannot_record(anonymous: httpx.AsyncClient, base: dict) -> None:
    assert_problem(await anonymous.post("/v1/sightings", json=base["body"]), 401)
