"""Outlet records and the network read from the outlet flows, against the worked example."""

from typing import Any

import httpx
from alembic import command
from sqlalchemy.engine import Connection

from app.migrate import alembic_config
from tests.problems import assert_problem

ALL = "/v1/network"


def _edges(network: dict[str, Any]) -> set[tuple[str, str, int]]:
    return {(e["from_outlet"], e["to_outlet"], e["citations"]) for e in network["edges"]}


CHAIN = {
    ("kremlin-laundress", "channel-one", 1),
    ("channel-one", "asia-times", 1),
    ("asia-times", "unian", 1),
    ("unian", "mid-rf", 1),
}


async def test_an_outlets_record(reader: httpx.AsyncClient, worked_example: dict[str, Any]) -> None:
    record = (await reader.get("/v1/outlets/asia-times/record")).json()
    assert record["outlet"]["slug"] == "asia-times"
    assert (record["claims"], record["sightings"], record["first_to_carry"]) == (1, 2, 0)
    # It went on reporting the troops five days after the ministry called them fake.
    assert record["after_denial"] == {"sightings": 1, "claims": 1}
    assert (record["denials"], record["by_stance"]) == (0, {"reports": 2})
    # One day from Channel One, eleven from its own first report (a follow-up, not a flow).
    assert record["lag_seconds"] == {"median": 518400, "p90": 950400}
    assert record["took_from"] == [{"outlet": "channel-one", "citations": 1, "claims": 1}]
    assert record["gave_to"] == [{"outlet": "unian", "citations": 1, "claims": 1}]
    assert record["timeline"] == [
        {"start": "2022-08-01T00:00:00Z", "sightings": 2, "after_denial": 1}
    ]

    laundress = (await reader.get("/v1/outlets/kremlin-laundress/record")).json()
    assert (laundress["first_to_carry"], laundress["lag_seconds"]) == (1, None)
    ministry = (await reader.get("/v1/outlets/mid-rf/record")).json()
    assert (ministry["denials"], ministry["after_denial"]["sightings"]) == (1, 0)

    later = await reader.get(
        "/v1/outlets/asia-times/record", params={"since": "2022-08-10T00:00:00Z"}
    )
    assert (later.json()["sightings"], later.json()["took_from"]) == (1, [])
    assert later.json()["lag_seconds"] == {"median": 950400, "p90": 950400}
    untagged = await reader.get("/v1/outlets/asia-times/record", params={"tag": "elsewhere"})
    assert (untagged.json()["claims"], untagged.json()["timeline"]) == (0, [])

    carried = await reader.get("/v1/claims", params={"outlet": "daily-nk"})
    assert [c["id"] for c in carried.json()["items"]] == [worked_example["workers"]]

    assert_problem(await reader.get("/v1/outlets/nobody/record"), 404)
    assert_problem(await reader.get("/v1/claims", params={"outlet": "nobody"}), 404)
    backwards = {"since": "2022-08-11T00:00:00Z", "until": "2022-08-01T00:00:00Z"}
    assert_problem(await reader.get("/v1/outlets/asia-times/record", params=backwards), 422)
    assert_problem(await reader.get(ALL, params=backwards), 422)


async def test_the_network_and_its_filters(
    reader: httpx.AsyncClient, worked_example: dict[str, Any]
) -> None:
    network = (await reader.get(ALL)).json()
    assert _edges(network) == CHAIN
    nodes = {n["slug"]: n for n in network["nodes"]}
    assert set(nodes) == {
        "kremlin-laundress",
        "channel-one",
        "asia-times",
        "unian",
        "mid-rf",
        "daily-nk",
    }
    assert nodes["asia-times"] | {} == {
        "slug": "asia-times",
        "name": "Asia Times",
        "kind": "news_outlet",
        "country": "HK",
        "claims": 1,
        "sightings": 2,
        "first_to_carry": 0,
        "after_denial": 1,
    }
    edge = next(e for e in network["edges"] if e["from_outlet"] == "unian")
    assert (edge["claims"], edge["first_at"], edge["last_at"]) == (
        1,
        "2022-08-11T12:00:00Z",
        "2022-08-11T12:00:00Z",
    )

    news = (await reader.get(ALL, params={"kind": "news_outlet"})).json()
    assert {n["slug"] for n in news["nodes"]} == {"asia-times", "unian", "daily-nk"}
    assert _edges(news) == {("asia-times", "unian", 1)}
    early = (await reader.get(ALL, params={"until": "2022-08-04T23:00:00Z"})).json()
    assert _edges(early) == {("kremlin-laundress", "channel-one", 1)}
    workers = (await reader.get(ALL, params={"claim_id": worked_example["workers"]})).json()
    assert ([n["slug"] for n in workers["nodes"]], workers["edges"]) == (["daily-nk"], [])
    assert (await reader.get(ALL, params={"min_citations": 2})).json()["edges"] == []

    assert_problem(await reader.get(ALL, params={"format": "dot"}), 422)
    # A query string of 10,000 ids is longer than clients and servers carry (64 KiB); just past
    # the cap is refused the same way.
    many = [("claim_id", f"{n:036d}") for n in range(1001)]
    refused = await reader.get(ALL, params=many)
    assert_problem(refused, 422)
    assert "at most 1000" in refused.json()["detail"]


def _downgrade_and_upgrade(connection: Connection) -> None:
    config = alembic_config(connection)
    command.downgrade(config, "3b7f0d9e2a61-1")
    command.upgrade(config, "head")


async def test_the_migration_counts_what_was_recorded_before_it(
    app: Any, reader: httpx.AsyncClient, worked_example: dict[str, Any]
) -> None:
    before = (await reader.get(ALL)).json()
    record = (await reader.get("/v1/outlets/asia-times/record")).json()
    async with app.state.engine.begin() as connection:
        await connection.run_sync(_downgrade_and_upgrade)
    assert (await reader.get(ALL)).json() == before
    assert (await reader.get("/v1/outlets/asia-times/record")).json() == record
