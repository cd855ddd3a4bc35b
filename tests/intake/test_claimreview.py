"""GET /v1/claims/{id}/claimreview: schema.org ClaimReview, read by a JSON-LD processor."""

from typing import Any

import httpx
from pyld import jsonld

from app.intake.claimreview import SCHEMA_ORG
from tests.intake.conftest import TROOPS

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
        rating = review[S + "reviewRating"][0]
        assert value(rating, "alternateName") == "False"
        item = review[S + "itemReviewed"][0]
        assert item["@type"] == [S + "Claim"]
        assert value(item[S + "author"][0], "name") == "Kremlin Laundress"
        first = item[S + "firstAppearance"][0]
        assert value(first, "url") == "https://t.me/kremlin_laundress/2022"
        assert value(item, "datePublished") == "2022-08-01"
    assert value(denial, "url") == "https://mid.ru/ru/press_service/2022-08-11/"
    assert value(denial, "datePublished") == "2022-08-11"
    assert value(denial[S + "author"][0], "name") == "Russian Foreign Ministry"
    assert denial[S + "author"][0]["@type"] == [S + "GovernmentOrganization"]
    assert value(check, "url") == "https://www.stopfake.org/en/north-korea-troops/"
    assert value(check, "datePublished") == "2022-08-12T08:30:00Z"
    assert value(check[S + "author"][0], "name") == "StopFake"
    appearance = check[S + "itemReviewed"][0][S + "appearance"][0]
    assert value(appearance, "url") == "https://asiatimes.com/2022/08/north-korea-troops-ukraine/"


async def test_a_claim_nobody_reviewed_has_no_claimreview(
    worked_example: dict[str, Any], reader: httpx.AsyncClient
) -> None:
    response = await reader.get(f"/v1/claims/{worked_example['workers']}/claimreview")
    assert response.status_code == 200
    assert response.json() == []
    assert (await reader.get("/v1/claims/nope/claimreview")).status_code == 404
