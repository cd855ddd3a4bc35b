"""Small builders that record test data through the public API, as a client would."""

from typing import Any

import httpx

DAY = "2022-08-{:02d}T12:00:00Z"


def day(n: int) -> str:
    return DAY.format(n)


async def outlet(
    client: httpx.AsyncClient, slug: str, kind: str = "news_outlet", **extra: Any
) -> dict:
    body = {"slug": slug, "name": slug.replace("-", " ").title(), "kind": kind, **extra}
    response = await client.post("/v1/outlets", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def claim(client: httpx.AsyncClient, statement: str, **extra: Any) -> dict:
    response = await client.post("/v1/claims", json={"statement": statement, **extra})
    assert response.status_code == 201, response.text
    return response.json()


async def sighting(
    client: httpx.AsyncClient,
    claim_id: str,
    outlet_slug: str,
    published_at: str,
    stance: str = "reports",
    url: str | None = None,
    **extra: Any,
) -> dict:
    body = {
        "claim_id": claim_id,
        "outlet": outlet_slug,
        "url": url or f"https://{outlet_slug}.example/{claim_id[:8]}/{published_at[:10]}",
        "published_at": published_at,
        "stance": stance,
        **extra,
    }
    response = await client.post("/v1/sightings", json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def record_worked_example(client: httpx.AsyncClient) -> dict[str, dict]:
    """The shipped worked example, posted over HTTP; returns sightings by their ref."""
    from app.demo.loader import worked_example

    data = worked_example()
    for body in data["outlets"]:
        await outlet(client, **body)
    claims = {}
    for raw in data["claims"]:
        claims[raw["ref"]] = await claim(client, **{k: v for k, v in raw.items() if k != "ref"})
    recorded: dict[str, dict] = {}
    for raw in data["sightings"]:
        fields = {k: v for k, v in raw.items() if k not in ("ref", "claim", "cites", "outlet")}
        fields["cites"] = [recorded[ref]["id"] for ref in raw.get("cites", [])]
        recorded[raw["ref"]] = await sighting(
            client,
            claims[raw["claim"]]["id"],
            raw["outlet"],
            url=data["source"]["url"],
            **fields,
        )
    return recorded
