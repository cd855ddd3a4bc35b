"""POST /v1/sightings/batch: per-item outcomes, refs between items, all-or-nothing."""

import asyncio
from typing import Any

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from app.sightings.models import Sighting
from tests.problems import assert_problem
from tests.story import LAUNDRESS, TROOPS, WORKED_EXAMPLE


def item(url: str, **fields: Any) -> dict[str, Any]:
    return {
        "claim": {"statement": TROOPS},
        "outlet": LAUNDRESS,
        "url": url,
        "published_at": "2022-08-01T09:00:00Z",
        "stance": "asserts",
        **fields,
    }


async def stored(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return await session.scalar(select(func.count()).select_from(Sighting)) or 0


async def test_worked_example_in_one_batch_builds_its_chain(
    worked_example: dict[str, Any], writer: httpx.AsyncClient
) -> None:
    ids = worked_example["ids"]
    chain = (await writer.get(f"/v1/claims/{worked_example['troops']}/chain")).json()
    assert chain["path"] == [
        ids[r] for r in ("laundress", "channel-one", "asia-times", "unian", "denial")
    ]
    denial = (await writer.get(f"/v1/claims/{worked_example['troops']}/denial")).json()
    assert denial["status"] == "denied"
    assert denial["sightings_after_denial"] == 1


async def test_non_atomic_batch_reports_each_item_and_keeps_the_good_ones(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await writer.post("/v1/sightings/batch", json={"items": [item("https://t.me/a/1")]})
    existing = first.json()["results"][0]["id"]

    response = await writer.post(
        "/v1/sightings/batch",
        json={
            "items": [
                item(
                    "https://t.me/a/2",
                    ref="b",
                    cites_refs=["c"],
                    published_at="2022-08-02T00:00:00Z",
                ),
                item("https://t.me/a/1"),
                item("https://t.me/a/3", stance="shouts"),
                item("https://t.me/a/4", ref="c"),
                item("https://t.me/a/5", cites_refs=["nowhere"]),
                item("https://t.me/a/6", ref="x", cites_refs=["y"]),
                item("https://t.me/a/7", ref="y", cites_refs=["x"]),
                item("https://t.me/a/8", published_at="2022-08-01T09:00:00"),
            ]
        },
    )

    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [r["index"] for r in results] == list(range(8))
    assert [r["status"] for r in results] == [
        "created",
        "duplicate",
        "error",
        "created",
        "error",
        "error",
        "error",
        "error",
    ]
    assert results[0]["ref"] == "b"
    assert results[1]["existing_id"] == existing
    assert results[2]["problem"]["errors"][0]["loc"] == ["body", "items", 2, "stance"]
    assert results[4]["problem"]["errors"][0]["loc"] == ["body", "items", 4, "cites_refs", 0]
    assert "cycle" in results[5]["problem"]["detail"]
    assert "cycle" in results[6]["problem"]["detail"]
    assert results[7]["problem"]["errors"][0]["loc"][-1] == "published_at"
    cited = (await writer.get(f"/v1/sightings/{results[0]['id']}")).json()["cites"]
    assert cited == [results[3]["id"]]
    assert await stored(sessionmaker) == 3


async def test_an_item_citing_a_later_one_is_refused_at_its_ref(writer: httpx.AsyncClient) -> None:
    response = await writer.post(
        "/v1/sightings/batch",
        json={
            "items": [
                item("https://t.me/a/1", ref="early"),
                item("https://t.me/a/2", cites_refs=["late"], published_at="2022-07-01T00:00:00Z"),
                item("https://t.me/a/3", ref="late", published_at="2022-08-01T10:00:00Z"),
                item("https://t.me/a/4", ref="orphan", cites_refs=["bad"]),
                item("ftp://example.org/5", ref="bad"),
            ]
        },
    )
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["created", "error", "created", "error", "error"]
    assert results[1]["problem"]["errors"][0]["loc"] == ["body", "items", 1, "cites_refs", 0]
    assert "not recorded" in results[3]["problem"]["detail"]


async def test_atomic_batch_with_a_bad_item_stores_nothing(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    items = [item("https://t.me/a/1"), item("https://t.me/a/2"), item("not a url")]
    response = await writer.post("/v1/sightings/batch", json={"items": items, "atomic": True})

    body = assert_problem(response, 422)
    assert [r["status"] for r in body["results"]] == ["created", "created", "error"]
    assert all(r["id"] is None for r in body["results"])
    assert body["results"][2]["problem"]["errors"][0]["loc"] == ["body", "items", 2, "url"]
    assert await stored(sessionmaker) == 0
    claims = (await writer.get("/v1/claims")).json()["items"]
    assert claims == []


async def test_atomic_batch_that_succeeds_stores_everything_and_reruns_as_duplicates(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = {"items": WORKED_EXAMPLE, "atomic": True}
    first = await writer.post("/v1/sightings/batch", json=payload)
    assert first.status_code == 200, first.text
    assert {r["status"] for r in first.json()["results"]} == {"created"}

    again = await writer.post("/v1/sightings/batch", json=payload)
    assert again.status_code == 200, again.text
    results = again.json()["results"]
    assert {r["status"] for r in results} == {"duplicate"}
    assert [r["existing_id"] for r in results] == [r["id"] for r in first.json()["results"]]
    assert await stored(sessionmaker) == len(WORKED_EXAMPLE)


async def test_more_than_a_thousand_items_is_too_large(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    items = [item(f"https://t.me/a/{n}") for n in range(1001)]
    response = await writer.post("/v1/sightings/batch", json={"items": items})
    assert_problem(response, 413)
    assert await stored(sessionmaker) == 0


async def test_batch_needs_write_scope_and_a_list_of_items(
    reader: httpx.AsyncClient, writer: httpx.AsyncClient
) -> None:
    assert_problem(
        await reader.post("/v1/sightings/batch", json={"items": [item("https://t.me/a/1")]}), 403
    )
    assert_problem(await writer.post("/v1/sightings/batch", json={"items": 3}), 422, "items")
    assert_problem(
        await writer.post("/v1/sightings/batch", json={"items": [], "atomically": True}),
        422,
        "atomically",
    )
    not_an_object = await writer.post(
        "/v1/sightings/batch", json={"items": ["x", item("https://t.me/a/1")]}
    )
    results = not_an_object.json()["results"]
    assert [r["status"] for r in results] == ["error", "created"]
    assert results[0]["problem"]["errors"][0]["loc"] == ["body", "items", 0]


async def test_a_failed_item_leaves_no_inline_claim_or_outlet_behind(
    writer: httpx.AsyncClient,
) -> None:
    response = await writer.post(
        "/v1/sightings/batch",
        json={
            "items": [
                item(
                    "https://t.me/a/1",
                    claim={"statement": "A claim nobody else makes"},
                    outlet={"slug": "new-outlet", "name": "New", "kind": "other"},
                    cites_outlets=["kremlin-laundress"],
                ),
                item("https://t.me/a/2"),
            ]
        },
    )
    results = response.json()["results"]
    assert [r["status"] for r in results] == ["error", "created"]
    assert results[0]["problem"]["errors"][0]["loc"] == ["body", "items", 0, "cites_outlets", 0]
    claims = (await writer.get("/v1/claims")).json()["items"]
    assert [c["statement"] for c in claims] == [TROOPS]
    assert claims[0]["sightings_count"] == 1
    assert (await writer.get("/v1/outlets/new-outlet")).status_code == 404


async def test_a_retried_batch_with_its_idempotency_key_gets_the_first_answer(
    writer: httpx.AsyncClient, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    payload = {"items": [item("https://t.me/a/1"), item("https://t.me/a/2")]}
    headers = {"Idempotency-Key": "sheet-2022-08-01"}
    first = await writer.post("/v1/sightings/batch", json=payload, headers=headers)
    again = await writer.post("/v1/sightings/batch", json=payload, headers=headers)
    assert again.status_code == 200
    assert again.headers["idempotent-replayed"] == "true"
    assert again.json() == first.json()
    assert await stored(sessionmaker) == 2


async def test_concurrent_batches_over_the_same_claims_both_succeed(
    writer: httpx.AsyncClient,
) -> None:
    statements = ["First claim of two", "Second claim of two"]
    ids = [
        (await writer.post("/v1/claims", json={"statement": s})).json()["id"] for s in statements
    ]

    def batch(order: list[str], run: str) -> dict[str, Any]:
        items = []
        for n in range(30):
            for claim_id in order:
                fields = item(f"https://t.me/{run}/{claim_id}/{n}")
                del fields["claim"]
                outlet = {"slug": f"outlet-{run}", "name": run, "kind": "other"}
                items.append({**fields, "claim_id": claim_id, "outlet": outlet})
        return {"items": items}

    first, second = await asyncio.gather(
        writer.post("/v1/sightings/batch", json=batch(ids, "a")),
        writer.post("/v1/sightings/batch", json=batch(ids[::-1], "b")),
    )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    claims = (await writer.get("/v1/claims")).json()["items"]
    assert [c["sightings_count"] for c in claims] == [60, 60]


async def test_concurrent_batches_creating_the_same_new_claims_both_succeed(
    writer: httpx.AsyncClient,
) -> None:
    statements = [f"New claim number {n} that both batches carry" for n in range(12)]

    def batch(order: list[str], run: str) -> dict[str, Any]:
        items = []
        for n, statement in enumerate(order):
            fields = item(f"https://t.me/{run}/{n}", claim={"statement": statement}, ref=str(n))
            if n:
                # Each cites the item before it, a claim of its own, published no later.
                fields["cites_refs"] = [str(n - 1)]
            items.append(fields)
        return {"items": items}

    first, second = await asyncio.gather(
        writer.post("/v1/sightings/batch", json=batch(statements, "a")),
        writer.post("/v1/sightings/batch", json=batch(statements[::-1], "b")),
    )
    assert first.status_code == second.status_code == 200, (first.text, second.text)
    for response in (first, second):
        assert {r["status"] for r in response.json()["results"]} == {"created"}
    claims = (await writer.get("/v1/claims", params={"limit": 50})).json()["items"]
    assert sorted(c["statement"] for c in claims) == sorted(statements)
    assert {c["sightings_count"] for c in claims} == {2}
    cited = (await writer.get(f"/v1/sightings/{first.json()['results'][3]['id']}")).json()
    assert cited["cites"] == [first.json()["results"][2]["id"]]
