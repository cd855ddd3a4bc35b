"""Input the store would alter is refused, not altered (the contract's Operations)."""

import httpx
import pytest

from tests.factories import claim, outlet
from tests.problems import assert_problem

REWRITTEN = [
    ("slug with a trailing newline", {"slug": "a\n"}, "slug"),
    ("slug with a leading space", {"slug": " a"}, "slug"),
    ("language with an underscore", {"language": "en_US"}, "language"),
    ("language with a trailing newline", {"language": "en\n"}, "language"),
    ("country with a trailing space", {"country": "UA "}, "country"),
]


@pytest.mark.parametrize(
    ("change", "field"), [c[1:] for c in REWRITTEN], ids=[c[0] for c in REWRITTEN]
)
async def test_an_outlet_that_would_be_stored_otherwise_is_refused(
    client: httpx.AsyncClient, change: dict[str, str], field: str
) -> None:
    body = {"slug": "a", "name": "A", "kind": "news_outlet", **change}

    refused = await client.post("/v1/outlets", json=body)

    assert_problem(refused, 422, field)
    assert (await client.get("/v1/outlets")).json()["items"] == []


async def test_a_claim_language_written_with_an_underscore_is_refused(
    client: httpx.AsyncClient,
) -> None:
    created = await claim(client, "The dam was breached")

    refused = await client.post(
        "/v1/claims", json={"statement": "The bridge fell", "language": "en_US"}
    )
    corrected = await client.patch(f"/v1/claims/{created['id']}", json={"language": "en\n"})

    assert_problem(refused, 422, "language")
    assert_problem(corrected, 422, "language")
    assert [c["id"] for c in (await client.get("/v1/claims")).json()["items"]] == [created["id"]]


async def test_the_forms_the_contract_gives_are_kept(client: httpx.AsyncClient) -> None:
    stored = await outlet(client, "kyiv-post-2", country="UA", language="uk-UA")

    assert (stored["slug"], stored["country"], stored["language"]) == ("kyiv-post-2", "UA", "uk-UA")
