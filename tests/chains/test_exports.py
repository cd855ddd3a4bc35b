"""GET /v1/claims/{id}/chain?format=graphml|gexf|csv: the same chain, as a file."""

import csv
import io
from typing import Any

import httpx
import networkx as nx
import pytest

from tests.problems import assert_problem

# One end's columns as the CSV has always had them, in order.
SIDE_BEFORE_PRECISION = [
    "id",
    "outlet",
    "outlet_name",
    "kind",
    "country",
    "stance",
    "published_at",
    "url",
]


async def chain_and_file(
    reader: httpx.AsyncClient, claim_id: str, file_format: str
) -> tuple[dict[str, Any], httpx.Response]:
    chain = (await reader.get(f"/v1/claims/{claim_id}/chain")).json()
    exported = await reader.get(f"/v1/claims/{claim_id}/chain", params={"format": file_format})
    assert exported.status_code == 200, exported.text
    disposition = exported.headers["content-disposition"]
    assert disposition == f'attachment; filename="chain-{claim_id}.{file_format}"'
    return chain, exported


@pytest.mark.parametrize(
    ("file_format", "read", "media_type"),
    [
        ("graphml", nx.read_graphml, "application/graphml+xml"),
        ("gexf", nx.read_gexf, "application/gexf+xml"),
    ],
)
async def test_graph_files_read_back_as_the_json_chain(
    worked_example: dict[str, Any],
    reader: httpx.AsyncClient,
    file_format: str,
    read: Any,
    media_type: str,
) -> None:
    chain, exported = await chain_and_file(reader, worked_example["troops"], file_format)
    assert exported.headers["content-type"].startswith(media_type)

    graph = read(io.BytesIO(exported.content))

    assert graph.is_directed()
    assert set(graph.nodes) == {n["id"] for n in chain["nodes"]}
    assert set(graph.edges) == {(e["from"], e["to"]) for e in chain["edges"]}
    denial = graph.nodes[worked_example["ids"]["denial"]]
    assert denial["outlet"] == "mid-rf"
    assert denial["kind"] == "official"
    assert denial["country"] == "RU"
    assert denial["stance"] == "denies"
    assert denial["published_at"] == "2022-08-11T12:00:00Z"
    first_hop = chain["hops"][0]
    edge = graph.edges[first_hop["from"], first_hop["to"]]
    assert edge["basis"] == "cites"
    assert int(edge["lag_seconds"]) == first_hop["lag_seconds"]


async def test_csv_has_one_row_per_edge_with_both_outlets_and_times(
    worked_example: dict[str, Any], reader: httpx.AsyncClient
) -> None:
    chain, exported = await chain_and_file(reader, worked_example["troops"], "csv")
    assert exported.headers["content-type"].startswith("text/csv")

    rows = list(csv.DictReader(io.StringIO(exported.text)))

    assert len(rows) == len(chain["edges"]) == 5
    assert {(r["from_id"], r["to_id"]) for r in rows} == {
        (e["from"], e["to"]) for e in chain["edges"]
    }
    denial = next(r for r in rows if r["to_outlet"] == "mid-rf")
    assert denial["from_outlet"] == "unian"
    assert denial["to_published_at"] == "2022-08-11T12:00:00Z"
    assert denial["from_published_at"] == "2022-08-06T00:00:00Z"
    assert int(denial["lag_seconds"]) == 5 * 86400 + 12 * 3600
    assert denial["to_published_at_precision"] == "day"
    assert denial["from_published_at_precision"] == "approximate"


async def test_csv_keeps_each_date_precision_beside_its_date(
    worked_example: dict[str, Any], reader: httpx.AsyncClient
) -> None:
    _, exported = await chain_and_file(reader, worked_example["troops"], "csv")

    header = next(csv.reader(io.StringIO(exported.text)))
    rows = list(csv.DictReader(io.StringIO(exported.text)))

    earlier = [
        *(f"{end}_{name}" for end in ("from", "to") for name in SIDE_BEFORE_PRECISION),
        "basis",
        "lag_seconds",
    ]
    assert [name for name in header if not name.endswith("_precision")] == earlier
    for end in ("from", "to"):
        date_at = header.index(f"{end}_published_at")
        assert header[date_at + 1] == f"{end}_published_at_precision"
    precisions = {(r["from_outlet"], r["from_published_at_precision"]) for r in rows}
    assert ("kremlin-laundress", "day") in precisions
    assert ("channel-one", "approximate") in precisions


async def test_json_stays_the_default_and_an_unknown_format_is_named(
    worked_example: dict[str, Any], reader: httpx.AsyncClient
) -> None:
    url = f"/v1/claims/{worked_example['troops']}/chain"
    default = await reader.get(url)
    assert default.headers["content-type"] == "application/json"
    assert default.json() == (await reader.get(url, params={"format": "json"})).json()
    assert_problem(await reader.get(url, params={"format": "pdf"}), 422, "format")


async def test_a_claim_with_no_edges_exports_an_empty_edge_list(
    worked_example: dict[str, Any], reader: httpx.AsyncClient
) -> None:
    _, exported = await chain_and_file(reader, worked_example["workers"], "csv")
    assert len(list(csv.DictReader(io.StringIO(exported.text)))) == 0
    _, graphml = await chain_and_file(reader, worked_example["workers"], "graphml")
    assert nx.read_graphml(io.BytesIO(graphml.content)).number_of_nodes() == 1
