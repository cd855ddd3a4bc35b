"""GET /v1/claims/{id}/claimreview: schema.org ClaimReview, read by a JSON-LD processor."""

from typing import Any

import httpx
from pyld import jsonld

from app.chains.claimreview import SCHEMA_ORG
from app.intake.claimreview import entries_from_review
from tests.factories import record_worked_example
from tests.story import TROOPS

S = "http://schema.org/"


def offline_loader(url: str, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """schema.org's context, reduced to its vocabulary, so the test needs no network."""
    assert url.rstrip("/") in (SCHEMA_ORG, "http://schema.org"), url
    return {
        "contextUrl": None,
        "documentUrl": url,
        "document": {"@context": {"@vocab": S}},
    }


def value(node: dict[str, Any], name: str) -> Any:
    found = node[S + name][0]
    return found.get("@value", found.get("@id", found))


async def test_official_denial_and_fact_check_are_claimreviews(
    worked_example: dict[str, Any], writer: httpx.AsyncClient
) -> None:
    ids = worked_example["ids"]
    fact_check = await writer.post(
        "/v1/sightings",
        json={
            "claim_id": worked_example["troops"],
            "outlet": {"slug": "stopfake", "name": "StopFake", "kind": "fact_checker"},
            "url": "https://www.stopfake.org/en/north-korea-troops/",
            "published_at": "2022-08-12T08:30:00Z",
            "stance": "debunks",
            "cites": [ids["asia-times"]],
        },
    )
    assert fact_check.status_code == 201, fact_check.text

    response = await writer.get(f"/v1/claims/{worked_example['troops']}/claimreview")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/ld+json")
    expanded = jsonld.expand(response.json(), {"documentLoader": offline_loader})
    assert len(expanded) == 2
    assert all(node["@type"] == [S + "ClaimReview"] for node in expanded)
    denial, check = expanded
    for review in expanded:
        assert value(review, "claimReviewed") == TROOPS
        item = review[S + "itemReviewed"][0]
        assert item["@type"] == [S + "Claim"]
        assert value(item[S + "author"][0], "name") == "Kremlin Laundress"
        first = item[S + "firstAppearance"][0]
        assert value(first, "url") == "https://t.me/kremlin_laundress/2022"
        assert value(item, "datePublished") == "2022-08-01"
    # The ministry is the reviewer of record, in its own word, with no number on a fact-check
    # scale it never used.
    assert value(denial, "url") == "https://mid.ru/ru/press_service/2022-08-11/"
    assert value(denial, "datePublished") == "2022-08-11"
    assert value(denial[S + "author"][0], "name") == "Russian Foreign Ministry"
    assert denial[S + "author"][0]["@type"] == [S + "GovernmentOrganization"]
    rating = denial[S + "reviewRating"][0]
    assert value(rating, "alternateName") == "фейк"
    assert value(rating, "ratingExplanation") == "Official denial by Russian Foreign Ministry"
    assert not {S + "ratingValue", S + "bestRating", S + "worstRating"} & rating.keys()
    # The fact-checker's debunk keeps the fact-check form.
    assert value(check, "url") == "https://www.stopfake.org/en/north-korea-troops/"
    assert value(check, "datePublished") == "2022-08-12T08:30:00Z"
    assert value(check[S + "author"][0], "name") == "StopFake"
    assert check[S + "author"][0]["@type"] == [S + "Organization"]
    rating = check[S + "reviewRating"][0]
    assert value(rating, "alternateName") == "False"
    assert (value(rating, "ratingValue"), value(rating, "worstRating")) == (1, 1)
    assert value(rating, "bestRating") == 5
    assert S + "ratingExplanation" not in rating
    appearance = check[S + "itemReviewed"][0][S + "appearance"][0]
    assert value(appearance, "url") == "https://asiatimes.com/2022/08/north-korea-troops-ukraine/"


async def test_the_ministry_calls_the_demo_claim_fake_in_its_claimreview(
    client: httpx.AsyncClient,
) -> None:
    recorded = await record_worked_example(client)

    response = await client.get(f"/v1/claims/{recorded['denial']['claim_id']}/claimreview")

    [denial] = jsonld.expand(response.json(), {"documentLoader": offline_loader})
    rating = denial[S + "reviewRating"][0]
    assert value(rating, "alternateName") == "fake"
    assert value(rating, "ratingExplanation") == (
        "Official denial by Ministry of Foreign Affairs of the Russian Federation"
    )
    assert value(denial, "reviewBody") == recorded["denial"]["excerpt"]
    assert value(denial[S + "author"][0], "identifier") == "russian-mfa"


async def test_an_official_denial_quoting_no_word_is_officially_denied(
    worked_example: dict[str, Any], writer: httpx.AsyncClient
) -> None:
    silent = await writer.post(
        "/v1/sightings",
        json={
            "claim_id": worked_example["workers"],
            "outlet": {"slug": "dpr-mfa", "name": "DPR Foreign Ministry", "kind": "official"},
            "url": "https://example.org/dpr-mfa/statement",
            "published_at": "2022-08-20T00:00:00Z",
            "published_at_precision": "day",
            "stance": "denies",
        },
    )
    assert silent.status_code == 201, silent.text

    response = await writer.get(f"/v1/claims/{worked_example['workers']}/claimreview")

    [review] = response.json()
    assert review["author"]["name"] == "DPR Foreign Ministry"
    assert review["reviewRating"] == {
        "@type": "Rating",
        "alternateName": "Officially denied",
        "ratingExplanation": "Official denial by DPR Foreign Ministry",
    }
    assert "reviewBody" not in review


async def test_an_exported_official_denial_reads_back_as_an_official_denial(
    worked_example: dict[str, Any], writer: httpx.AsyncClient
) -> None:
    exported = (await writer.get(f"/v1/claims/{worked_example['troops']}/claimreview")).json()

    [denial, *_] = entries_from_review(1, exported[0])

    assert denial.item is not None
    assert denial.item["outlet"]["kind"] == "official"
    assert denial.item["stance"] == "denies"


async def test_a_claim_nobody_reviewed_has_no_claimreview(
    worked_example: dict[str, Any], reader: httpx.AsyncClient
) -> None:
    response = await reader.get(f"/v1/claims/{worked_example['workers']}/claimreview")
    assert response.status_code == 200
    assert response.json() == []
    assert (await reader.get("/v1/claims/nope/claimreview")).status_code == 404
