"""Chains and traces: variants, the main path's rules, depth limits and query counts."""

from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from app.config import Settings
from tests.factories import claim, day, outlet, sighting
from tests.problems import assert_problem


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No alert dispatcher in these tests: its polling would count among a request's queries."""
    return settings.model_copy(update={"dispatch_in_app": False})


async def _outlets(client: httpx.AsyncClient, *slugs: str) -> None:
    for slug in slugs:
        await outlet(client, slug, "official" if slug.startswith("gov") else "news_outlet")


async def test_variants_join_the_chain_only_when_asked(client: httpx.AsyncClient) -> None:
    await _outlets(client, "a", "b", "c")
    original = await claim(client, "Troops were offered")
    variant = await claim(client, "Troops already arrived", variant_of=original["id"])
    grandchild = await claim(client, "Troops already died", variant_of=variant["id"])
    s1 = await sighting(client, original["id"], "a", day(1))
    s2 = await sighting(client, variant["id"], "b", day(2), cites=[s1["id"]])
    s3 = await sighting(client, grandchild["id"], "c", day(3), cites=[s2["id"]])

    plain = (await client.get(f"/v1/claims/{original['id']}/chain")).json()
    walked = (
        await client.get(f"/v1/claims/{original['id']}/chain", params={"include_variants": "true"})
    ).json()
    from_variant = (
        await client.get(f"/v1/claims/{variant['id']}/chain", params={"include_variants": "true"})
    ).json()

    assert [n["id"] for n in plain["nodes"]] == [s1["id"]]
    assert plain["edges"] == []
    assert [n["id"] for n in walked["nodes"]] == [s1["id"], s2["id"], s3["id"]]
    assert walked["path"] == [s1["id"], s2["id"], s3["id"]]
    assert {(e["from"], e["to"]) for e in walked["edges"]} == {
        (s1["id"], s2["id"]),
        (s2["id"], s3["id"]),
    }
    assert {n["id"] for n in from_variant["nodes"]} == {s1["id"], s2["id"], s3["id"]}


async def test_without_a_denial_the_path_ends_at_the_latest_node_reached(
    client: httpx.AsyncClient,
) -> None:
    await _outlets(client, "a", "b", "c", "d", "lonely")
    c = await claim(client, "A chain without denial")
    s1 = await sighting(client, c["id"], "a", day(1))
    s2 = await sighting(client, c["id"], "b", day(2), cites=[s1["id"]])
    s3 = await sighting(client, c["id"], "c", day(4), cites=[s2["id"]])
    await sighting(client, c["id"], "lonely", day(9))  # a later origin reaching nothing
    s4 = await sighting(client, c["id"], "d", day(5), cites=[s1["id"]])

    chain = (await client.get(f"/v1/claims/{c['id']}/chain")).json()

    assert chain["path"] == [s1["id"], s4["id"]]
    assert chain["hops"] == [
        {
            "from": s1["id"],
            "to": s4["id"],
            "from_outlet": "a",
            "to_outlet": "d",
            "lag_seconds": 4 * 86400,
        }
    ]
    assert chain["origins"][0] == s1["id"] and len(chain["origins"]) == 2
    assert s3["id"] not in chain["path"]
    assert chain["metrics"]["first_denial_at"] is None
    assert chain["metrics"]["denial_lag_seconds"] is None


async def test_the_path_takes_fewest_steps_and_ties_go_to_earlier_publication(
    client: httpx.AsyncClient,
) -> None:
    await _outlets(client, "origin", "early", "late", "long-1", "long-2", "gov-ministry")
    c = await claim(client, "A claim with several roads to its denial")
    o = await sighting(client, c["id"], "origin", day(1))
    early = await sighting(client, c["id"], "early", day(2), cites=[o["id"]])
    late = await sighting(client, c["id"], "late", day(3), cites=[o["id"]])
    l1 = await sighting(
        client, c["id"], "long-1", day(2), cites=[o["id"]], url="https://l1.example"
    )
    l2 = await sighting(client, c["id"], "long-2", day(3), cites=[l1["id"]])
    denial = await sighting(
        client, c["id"], "gov-ministry", day(6), "denies", cites=[late["id"], early["id"], l2["id"]]
    )

    chain = (await client.get(f"/v1/claims/{c['id']}/chain")).json()

    assert chain["path"] == [o["id"], early["id"], denial["id"]]
    assert chain["metrics"]["denial_lag_seconds"] == 5 * 86400


async def test_a_denial_citing_nothing_is_not_a_path(client: httpx.AsyncClient) -> None:
    await _outlets(client, "a", "b", "gov-x")
    c = await claim(client, "Denied out of the blue")
    s1 = await sighting(client, c["id"], "a", day(1))
    s2 = await sighting(client, c["id"], "b", day(2), cites=[s1["id"]])
    await sighting(client, c["id"], "gov-x", day(3), "denies")

    chain = (await client.get(f"/v1/claims/{c['id']}/chain")).json()

    assert chain["path"] == [s1["id"], s2["id"]]
    assert chain["metrics"]["first_denial_at"] == day(3)


async def test_trace_respects_direction_and_depth(client: httpx.AsyncClient) -> None:
    slugs = [f"o{n}" for n in range(6)]
    await _outlets(client, *slugs)
    c = await claim(client, "A long relay")
    ids: list[str] = []
    for n, slug in enumerate(slugs):
        ids.append((await sighting(client, c["id"], slug, day(n + 1), cites=ids[-1:]))["id"])

    async def trace(sid: str, **params: str) -> list[str]:
        response = await client.get(f"/v1/sightings/{sid}/trace", params=params)
        assert response.status_code == 200
        return [n["id"] for n in response.json()["nodes"]]

    assert await trace(ids[-1]) == ids
    assert await trace(ids[-1], max_depth="2") == ids[-3:]
    assert await trace(ids[0], direction="downstream") == ids
    assert await trace(ids[2], direction="downstream", max_depth="1") == ids[2:4]
    assert_problem(
        await client.get(f"/v1/sightings/{ids[0]}/trace?direction=sideways"), 422, "direction"
    )
    assert_problem(await client.get(f"/v1/sightings/{ids[0]}/trace?max_depth=0"), 422, "max_depth")
    assert_problem(await client.get("/v1/sightings/missing/trace"), 404)
    assert_problem(await client.get("/v1/claims/missing/chain"), 404)


@contextmanager
def _counting_queries(app: FastAPI) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.state.engine.sync_engine

    def count(_conn, _cursor, statement, *_args) -> None:  # type: ignore[no-untyped-def]
        # The rate limiter's count is written a few times a second, whatever the route.
        if "rate_limit_windows" not in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", count)


async def test_chain_cost_is_a_fixed_number_of_queries(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await _outlets(client, *[f"relay-{n}" for n in range(12)])
    small, large = await claim(client, "Small chain"), await claim(client, "Large chain")
    for target, length in ((small, 2), (large, 12)):
        previous: list[str] = []
        for n in range(length):
            made = await sighting(client, target["id"], f"relay-{n}", day(n + 1), cites=previous)
            previous = [made["id"]]

    counts = []
    for target in (small, large):
        for params in ({}, {"include_variants": "true"}):
            with _counting_queries(app) as statements:
                response = await client.get(f"/v1/claims/{target['id']}/chain", params=params)
            assert response.status_code == 200
            counts.append(len(statements))
    with _counting_queries(app) as statements:
        await client.get(f"/v1/sightings/{previous[0]}/trace")
    trace_queries = len(statements)

    assert counts[0] == counts[2] and counts[1] == counts[3], counts
    assert max(counts) <= 6 and trace_queries <= 6
