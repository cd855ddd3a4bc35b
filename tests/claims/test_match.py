"""POST /v1/claims/match: is this claim already tracked, asked in one's own words."""

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from tests.problems import assert_problem
from tests.story import TROOPS, WORKERS

DISTRACTORS = [
    "Ukraine sold Western weapons on the black market to buyers in the Middle East",
    "Poland is preparing to annex western Ukraine, including Lviv",
    "Украина получила 300 танков Leopard от Германии",
]


@pytest.mark.parametrize(
    "query",
    [
        "north korea ready to send 100k soldiers to the DPR and LPR",
        "To the LPR and DPR, up to 100 000 troops were offered by North Korea",
        "Северная Корея готова отправить на Донбасс 100 тысяч добровольцев",
    ],
)
async def test_the_worked_example_claim_is_found_from_other_wordings(
    worked_example: dict[str, Any],
    reader: httpx.AsyncClient,
    writer: httpx.AsyncClient,
    indexed: Callable[[], Awaitable[None]],
    query: str,
) -> None:
    for statement in DISTRACTORS:
        assert (await writer.post("/v1/claims", json={"statement": statement})).status_code == 201
    await indexed()

    response = await reader.post("/v1/claims/match", json={"text": query})

    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert items[0]["claim"]["id"] == worked_example["troops"]
    assert items[0]["claim"]["statement"] == TROOPS
    scores = [item["score"] for item in items]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= score <= 1 for score in scores)


async def test_same_words_score_one_and_limit_is_kept(
    worked_example: dict[str, Any], reader: httpx.AsyncClient
) -> None:
    response = await reader.post(
        "/v1/claims/match", json={"text": TROOPS.upper().replace(",", " "), "limit": 1}
    )
    items = response.json()["items"]
    assert len(items) == 1
    assert items[0]["score"] == 1.0
    assert items[0]["claim"]["denial_status"] == "denied"


async def test_nothing_alike_finds_nothing(
    worked_example: dict[str, Any], reader: httpx.AsyncClient
) -> None:
    response = await reader.post("/v1/claims/match", json={"text": "Recipe for apple pie"})
    assert response.json() == {"items": []}


async def test_bad_match_requests_name_the_field(reader: httpx.AsyncClient) -> None:
    assert_problem(await reader.post("/v1/claims/match", json={"text": ""}), 422, "text")
    assert_problem(await reader.post("/v1/claims/match", json={"text": "?!"}), 422, "text")
    assert_problem(
        await reader.post("/v1/claims/match", json={"text": "x", "limit": 0}), 422, "limit"
    )
    assert_problem(await reader.post("/v1/claims/match", json={"query": "x"}), 422, "text")


async def test_numbers_and_names_carry_a_russian_query_to_an_english_statement(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient, indexed: Callable[[], Awaitable[None]]
) -> None:
    ids = {}
    for statement in [TROOPS, WORKERS, *DISTRACTORS]:
        ids[statement] = (await writer.post("/v1/claims", json={"statement": statement})).json()[
            "id"
        ]

    await indexed()

    troops = await reader.post(
        "/v1/claims/match", json={"text": "КНДР предложила ДНР и ЛНР 100 тысяч солдат"}
    )
    workers = await reader.post(
        "/v1/claims/match", json={"text": "1000 North Korean builders to Donbas"}
    )

    assert troops.json()["items"][0]["claim"]["id"] == ids[TROOPS]
    assert workers.json()["items"][0]["claim"]["id"] == ids[WORKERS]


async def test_a_ukrainian_telling_is_the_same_claim_as_its_english_record(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient, indexed: Callable[[], Awaitable[None]]
) -> None:
    ids = {}
    for statement in [TROOPS, WORKERS, *DISTRACTORS]:
        created = await writer.post("/v1/claims", json={"statement": statement})
        ids[statement] = created.json()["id"]

    await indexed()

    response = await reader.post(
        "/v1/claims/match",
        json={"text": "Північна Корея запропонувала ДНР і ЛНР до 100 тисяч військових"},
    )

    items = response.json()["items"]
    assert items[0]["claim"]["id"] == ids[TROOPS]
    assert items[0]["match"] == "same"
    assert all(item["match"] == "similar" for item in items[1:])


async def test_a_sibling_claim_with_another_number_is_never_called_same(
    writer: httpx.AsyncClient, reader: httpx.AsyncClient, indexed: Callable[[], Awaitable[None]]
) -> None:
    sibling = "North Korea offered up to 10,000 troops to the DPR and LPR"
    ids = {}
    for statement in [TROOPS, sibling, WORKERS]:
        created = await writer.post("/v1/claims", json={"statement": statement})
        ids[statement] = created.json()["id"]

    await indexed()

    tens = await reader.post(
        "/v1/claims/match", json={"text": "КНДР пообещала Донбассу 10 тысяч солдат"}
    )
    hundreds = await reader.post(
        "/v1/claims/match", json={"text": "Pyongyang offers 100k soldiers to Donetsk and Luhansk"}
    )

    assert tens.json()["items"][0]["claim"]["id"] == ids[sibling]
    assert hundreds.json()["items"][0]["claim"]["id"] == ids[TROOPS]
    for query, wanted in ((tens, sibling), (hundreds, TROOPS)):
        for item in query.json()["items"]:
            if item["claim"]["id"] != ids[wanted]:
                assert item["match"] == "similar", item
