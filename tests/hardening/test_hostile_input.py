"""Input no client should be able to push into the database: refused with a 422 naming where."""

import base64
import json

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.models import Claim, Outlet, Sighting
from tests.factories import claim, day, outlet, sighting
from tests.problems import assert_problem


async def _stored(sessionmaker: async_sessionmaker[AsyncSession]) -> tuple[int, ...]:
    async with sessionmaker() as session:
        return tuple(
            [
                await session.scalar(select(func.count()).select_from(model)) or 0
                for model in (Claim, Outlet, Sighting)
            ]
        )


def _sighting_body(claim_id: str, /, **change: object) -> dict:
    return {
        "claim_id": claim_id,
        "outlet": "origin",
        "url": "https://origin.example/a",
        "published_at": day(5),
        "stance": "reports",
        **change,
    }


@pytest.fixture
async def claim_id(client: httpx.AsyncClient) -> str:
    await outlet(client, "origin")
    created = await claim(client, "The dam was breached")
    return str(created["id"])


CONTROL_IN_BODY = [
    ("nul in a top-level field", {"title": "before\u0000after"}, ["body", "title"]),
    ("nul in a list item", {"cites_outlets": ["origin\u0000"]}, ["body", "cites_outlets", 0]),
    (
        "nul in an inline claim",
        {"claim_id": None, "claim": {"statement": "New\u0000claim"}},
        ["body", "claim", "statement"],
    ),
    ("escape character", {"attribution": "a\u001bb"}, ["body", "attribution"]),
    ("C1 control", {"excerpt": "a\u0085b"}, ["body", "excerpt"]),
]


@pytest.mark.parametrize(
    ("change", "loc"), [c[1:] for c in CONTROL_IN_BODY], ids=[c[0] for c in CONTROL_IN_BODY]
)
async def test_control_characters_in_a_body_are_refused_naming_the_field(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    claim_id: str,
    change: dict,
    loc: list,
) -> None:
    before = await _stored(sessionmaker)
    body = {k: v for k, v in _sighting_body(claim_id, **change).items() if v is not None}

    problem = assert_problem(await client.post("/v1/sightings", json=body), 422)

    assert problem["errors"][0]["loc"] == loc
    assert await _stored(sessionmaker) == before


async def test_a_lone_surrogate_is_refused(client: httpx.AsyncClient) -> None:
    raw = b'{"statement": "half an emoji \\ud83d"}'
    response = await client.post(
        "/v1/claims", content=raw, headers={"Content-Type": "application/json"}
    )
    assert assert_problem(response, 422)["errors"][0]["loc"] == ["body", "statement"]


async def test_ordinary_text_with_newlines_and_escapes_is_kept(
    client: httpx.AsyncClient, claim_id: str
) -> None:
    text = 'Line one\n\tline two, a quote " and a backslash-u: \\u0000, and 😀'
    recorded = await sighting(client, claim_id, "origin", day(5), excerpt=text)
    assert recorded["excerpt"] == text


@pytest.mark.parametrize(
    ("path", "loc"),
    [
        ("/v1/claims/abc%00def", ["path"]),
        ("/v1/claims?q=dam%00", ["query", "q"]),
        ("/v1/sightings?outlet=%01origin", ["query", "outlet"]),
        ("/v1/outlets/orig%7Fin", ["path"]),
    ],
)
async def test_control_characters_in_a_path_or_query_are_refused(
    client: httpx.AsyncClient, path: str, loc: list
) -> None:
    assert assert_problem(await client.get(path), 422)["errors"][0]["loc"] == loc


async def test_control_characters_in_a_header_are_refused(
    client: httpx.AsyncClient, claim_id: str
) -> None:
    response = await client.post(
        "/v1/sightings",
        json=_sighting_body(claim_id),
        headers={"Idempotency-Key": "retry\x00-1"},
    )
    assert assert_problem(response, 422)["errors"][0]["loc"] == ["header", "idempotency-key"]


@pytest.mark.parametrize(
    "published_at",
    [
        "9999-12-31T23:59:59-05:00",
        "0001-01-01T00:00:00+05:00",
        "0999-12-31T23:59:59Z",
        1659355200,
        1659355200.5,
    ],
)
async def test_times_outside_the_range_or_not_text_are_refused(
    client: httpx.AsyncClient,
    sessionmaker: async_sessionmaker[AsyncSession],
    claim_id: str,
    published_at: object,
) -> None:
    before = await _stored(sessionmaker)
    response = await client.post(
        "/v1/sightings", json=_sighting_body(claim_id, published_at=published_at)
    )
    assert_problem(response, 422, "published_at")
    assert await _stored(sessionmaker) == before


@pytest.mark.parametrize("path", ["/v1/sightings", "/v1/denials"])
@pytest.mark.parametrize("since", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"])
async def test_since_outside_the_range_is_refused(
    client: httpx.AsyncClient, path: str, since: str
) -> None:
    assert_problem(await client.get(path, params={"since": since}), 422, "since")


def _cursor(values: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


LISTS = [
    "/v1/keys",
    "/v1/outlets",
    "/v1/claims",
    "/v1/sightings",
    "/v1/denials",
    "/v1/subscriptions",
    "/v1/events",
]
FORGED = [
    [1, 2],
    [{"a": 1}, ["b"]],
    ["9999-12-31T23:59:59-23:59", "x"],
    ["2022-08-01T00:00:00", "x"],
    [True, "x"],
    ["x" * 5000, "x"],
    [2**70, "x"],
    [-1, "x"],
    ["a\u0000b", "c\u0000d"],
    [],
]
# Of no type a one-key list (outlets by slug, events by id) could take.
FORGED_ONE = [[{"a": 1}], [True], ["x" * 5000], [2**70], [-1], ["a\u0000b"], [1.5], [None]]


@pytest.mark.parametrize("path", LISTS)
async def test_a_forged_cursor_is_refused_on_every_list(
    client: httpx.AsyncClient, path: str
) -> None:
    for values in FORGED + FORGED_ONE:
        response = await client.get(path, params={"cursor": _cursor(values)})
        assert_problem(response, 422, "cursor")


async def test_a_forged_cursor_is_refused_on_the_delivery_log(client: httpx.AsyncClient) -> None:
    created = await client.post(
        "/v1/subscriptions", json={"url": "http://127.0.0.1:9/", "event_types": ["claim.created"]}
    )
    path = f"/v1/subscriptions/{created.json()['id']}/deliveries"
    for values in FORGED:
        assert_problem(await client.get(path, params={"cursor": _cursor(values)}), 422, "cursor")


# Header bytes are read as Latin-1, where b"\xb2" is the superscript digit two.
@pytest.mark.parametrize("last_event_id", [b"\xb2", b"\xb9\xb3", b"12x", b"99999999999999999999"])
async def test_last_event_id_must_be_ascii_digits(
    client: httpx.AsyncClient, last_event_id: bytes
) -> None:
    response = await client.get("/v1/events/stream", headers={"Last-Event-ID": last_event_id})
    assert_problem(response, 422, "Last-Event-ID")


@pytest.mark.parametrize("statement", ["\u200b\u200b", "\u200d \ufeff", "!!! ...", "\u2060"])
async def test_a_statement_with_nothing_visible_is_refused(
    client: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession], statement: str
) -> None:
    before = await _stored(sessionmaker)
    response = await client.post("/v1/claims", json={"statement": statement})
    assert_problem(response, 422, "statement")
    assert await _stored(sessionmaker) == before


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/v1/sightings/batch", {"items": [], "atomic": 0}, "atomic"),
        ("/v1/sightings/batch", {"items": [], "atomic": "true"}, "atomic"),
        ("/v1/claims/match", {"text": "troops", "limit": "5"}, "limit"),
    ],
)
async def test_numbers_and_text_are_not_taken_for_booleans_or_numbers(
    client: httpx.AsyncClient, path: str, body: dict, field: str
) -> None:
    assert_problem(await client.post(path, json=body), 422, field)


@pytest.mark.parametrize("text", ["0" * 5000, "9" * 4999 + "k", "1," * 2000 + "5 million"])
async def test_matching_a_long_run_of_digits_answers(client: httpx.AsyncClient, text: str) -> None:
    await claim(client, "North Korea offered 100,000 troops")
    response = await client.post("/v1/claims/match", json={"text": text})
    assert response.status_code == 200


@pytest.mark.parametrize("as_of", ["0.5", "1659355200", "0001-01-01T00:00:00+05:00"])
async def test_as_of_must_be_a_timestamp_in_range(client: httpx.AsyncClient, as_of: str) -> None:
    assert_problem(await client.get("/v1/denials", params={"as_of": as_of}), 422, "as_of")
