"""The chain's other shapes: compact, the spread summary, CSV cells safe in a spreadsheet."""

import csv
import io
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from tests.factories import claim, day, outlet, sighting
from tests.problems import assert_problem


@pytest.fixture
async def story(client: httpx.AsyncClient) -> dict[str, Any]:
    """a → b → a → ministry denial → b again (after the denial), over a week and a day."""
    await outlet(client, "a", "anonymous_channel", country="RU")
    await outlet(client, "b", "news_outlet", country="UA", language="uk")
    await outlet(client, "gov", "official", country="RU")
    c = await claim(client, "Troops were moved to the border")
    s1 = await sighting(client, c["id"], "a", day(1), "asserts")
    s2 = await sighting(client, c["id"], "b", day(2), cites=[s1["id"]])
    s3 = await sighting(
        client, c["id"], "a", day(3), "asserts", cites=[s2["id"]], url="https://a/3"
    )
    denial = await sighting(client, c["id"], "gov", day(4), "denies", cites=[s3["id"]])
    late = await sighting(client, c["id"], "b", day(8), cites=[s2["id"]], url="https://b/8")
    return {"claim": c, "ids": [s1["id"], s2["id"], s3["id"], denial["id"], late["id"]]}


async def test_compact_lists_each_outlet_once_and_changes_nothing_else(
    client: httpx.AsyncClient, story: dict[str, Any]
) -> None:
    url = f"/v1/claims/{story['claim']['id']}/chain"
    full = (await client.get(url)).json()
    compact = (await client.get(url, params={"shape": "compact"})).json()

    assert compact["outlets"] == {n["outlet"]["slug"]: n["outlet"] for n in full["nodes"]}
    assert sorted(compact["outlets"]) == ["a", "b", "gov"]
    assert compact["nodes"] == [{**n, "outlet": n["outlet"]["slug"]} for n in full["nodes"]]
    assert {k: v for k, v in compact.items() if k not in ("outlets", "nodes")} == {
        k: v for k, v in full.items() if k != "nodes"
    }
    assert_problem(await client.get(url, params={"shape": "tiny"}), 422, "shape")


async def test_spread_summarises_the_chain_by_outlet_flow_and_day(
    client: httpx.AsyncClient, story: dict[str, Any]
) -> None:
    claim_id = story["claim"]["id"]
    chain = (await client.get(f"/v1/claims/{claim_id}/chain")).json()

    spread = (await client.get(f"/v1/claims/{claim_id}/spread", params={"bucket": "day"})).json()

    assert spread["claim"]["id"] == claim_id
    assert [(o["slug"], o["kind"], o["sightings"]) for o in spread["outlets"]] == [
        ("a", "anonymous_channel", 2),
        ("b", "news_outlet", 2),
        ("gov", "official", 1),
    ]
    assert (spread["outlets"][1]["first_at"], spread["outlets"][1]["last_at"]) == (day(2), day(8))
    assert [(f["from_outlet"], f["to_outlet"], f["citations"]) for f in spread["flows"]] == [
        ("a", "b", 1),
        ("b", "a", 1),
        ("a", "gov", 1),
        ("b", "b", 1),
    ]
    assert [b["start"] for b in spread["timeline"]] == [
        f"2022-08-0{n}T00:00:00Z" for n in (1, 2, 3, 4, 8)
    ]
    assert spread["timeline"][3]["by_kind"] == {"official": 1}
    assert spread["timeline"][3]["by_stance"] == {"denies": 1}
    assert (spread["path"], spread["hops"], spread["metrics"]) == (
        chain["path"],
        chain["hops"],
        chain["metrics"],
    )
    assert spread["metrics"]["sightings_after_denial"] == 1


async def test_spread_buckets_by_hour_and_by_week_starting_monday(
    client: httpx.AsyncClient, story: dict[str, Any]
) -> None:
    url = f"/v1/claims/{story['claim']['id']}/spread"

    weeks = (await client.get(url, params={"bucket": "week"})).json()["timeline"]
    hours = (await client.get(url, params={"bucket": "hour"})).json()["timeline"]

    # 2022-08-01 and 2022-08-08 are Mondays.
    assert [(b["start"], b["sightings"]) for b in weeks] == [
        ("2022-08-01T00:00:00Z", 4),
        ("2022-08-08T00:00:00Z", 1),
    ]
    assert weeks[0]["by_stance"] == {"asserts": 2, "reports": 1, "denies": 1}
    assert [b["start"] for b in hours] == [day(n) for n in (1, 2, 3, 4, 8)]
    assert_problem(await client.get(url, params={"bucket": "fortnight"}), 422, "bucket")
    assert_problem(await client.get("/v1/claims/missing/spread"), 404)


async def test_spread_path_without_a_reachable_denial_is_the_chains(
    client: httpx.AsyncClient,
) -> None:
    await outlet(client, "x")
    await outlet(client, "y")
    await outlet(client, "gov-z", "official")
    c = await claim(client, "Denied out of the blue")
    s1 = await sighting(client, c["id"], "x", day(1))
    await sighting(client, c["id"], "y", day(2), cites=[s1["id"]])
    await sighting(client, c["id"], "gov-z", day(3), "denies")

    chain = (await client.get(f"/v1/claims/{c['id']}/chain")).json()
    spread = (await client.get(f"/v1/claims/{c['id']}/spread")).json()

    assert len(chain["path"]) == 2
    assert (spread["path"], spread["hops"]) == (chain["path"], chain["hops"])
    assert spread["metrics"] == chain["metrics"]


async def test_spread_path_along_branches_is_the_chains(client: httpx.AsyncClient) -> None:
    for slug in ("x", "y", "z"):
        await outlet(client, slug)
    await outlet(client, "gov", "official")
    c = await claim(client, "Carried along two branches")
    first = await sighting(client, c["id"], "x", day(1))
    second = await sighting(client, c["id"], "y", day(1))
    a = await sighting(client, c["id"], "z", day(2), cites=[first["id"]])
    # Cites the earliest origin's line and the other origin, outside the earliest's reach.
    b = await sighting(client, c["id"], "y", day(3), cites=[a["id"], second["id"]])
    await sighting(client, c["id"], "x", day(4), cites=[second["id"]])
    base = f"/v1/claims/{c['id']}"

    chain = (await client.get(f"{base}/chain")).json()
    spread = (await client.get(f"{base}/spread")).json()
    assert chain["path"] == [first["id"], a["id"], b["id"]]
    assert (spread["path"], spread["hops"]) == (chain["path"], chain["hops"])

    denial = await sighting(client, c["id"], "gov", day(5), "denies", cites=[b["id"]])
    chain = (await client.get(f"{base}/chain")).json()
    spread = (await client.get(f"{base}/spread")).json()
    assert chain["path"] == [first["id"], a["id"], b["id"], denial["id"]]
    assert (spread["path"], spread["hops"]) == (chain["path"], chain["hops"])


async def test_a_downstream_trace_leaves_out_what_its_nodes_cite_from_elsewhere(
    client: httpx.AsyncClient,
) -> None:
    await outlet(client, "p")
    await outlet(client, "q")
    c = await claim(client, "Two sources meet")
    s1 = await sighting(client, c["id"], "p", day(1))
    other = await sighting(client, c["id"], "q", day(1))
    s2 = await sighting(client, c["id"], "q", day(2), cites=[s1["id"], other["id"]])

    trace = (
        await client.get(f"/v1/sightings/{s1['id']}/trace", params={"direction": "downstream"})
    ).json()

    assert [n["id"] for n in trace["nodes"]] == [s1["id"], s2["id"]]
    assert trace["edges"] == [{"from": s1["id"], "to": s2["id"], "basis": "cites"}]
    assert trace["nodes"][1]["cites"] == [s1["id"]]


async def test_csv_cells_never_start_a_spreadsheet_formula(client: httpx.AsyncClient) -> None:
    names = ['=HYPERLINK("https://evil.example")', "+1", "-2", "@SUM(A1)", "Plain Name"]
    for n, name in enumerate(names):
        await outlet(client, f"o{n}", name=name)
    c = await claim(client, "Formulas in names")
    previous: list[str] = []
    for n in range(len(names)):
        previous = [(await sighting(client, c["id"], f"o{n}", day(n + 1), cites=previous))["id"]]

    exported = await client.get(f"/v1/claims/{c['id']}/chain", params={"format": "csv"})
    rows = list(csv.DictReader(io.StringIO(exported.text)))

    shown = [r["from_outlet_name"] for r in rows] + [rows[-1]["to_outlet_name"]]
    assert shown == [f"'{name}" for name in names[:4]] + ["Plain Name"]
    assert all(int(r["lag_seconds"]) == 86400 for r in rows)


async def test_both_shapes_answer_what_the_openapi_document_declares(
    client: httpx.AsyncClient, story: dict[str, Any]
) -> None:
    document = (await client.get("/openapi.json")).json()
    operation = document["paths"]["/v1/claims/{claim_id}/chain"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    # The references point into the document's components, so they travel with the schema.
    validator = Draft202012Validator({**schema, "components": document["components"]})
    url = f"/v1/claims/{story['claim']['id']}/chain"
    for shape in ("default", "compact"):
        answer = (await client.get(url, params={"shape": shape})).json()
        assert list(validator.iter_errors(answer)) == [], shape
