"""The network as files, and chains and the network as STIX 2.1 bundles."""

import json
from typing import Any

import httpx
import networkx as nx
from stix2validator import ValidationOptions, validate_string

from tests.problems import assert_problem

STIX = "application/stix+json;version=2.1"


async def test_the_network_as_gexf_and_graphml(
    reader: httpx.AsyncClient, worked_example: dict[str, Any]
) -> None:
    for file_format, read in (("gexf", nx.read_gexf), ("graphml", nx.read_graphml)):
        response = await reader.get("/v1/network", params={"format": file_format})
        assert response.status_code == 200, response.text
        assert "attachment" in response.headers["content-disposition"]
        graph = read(__import__("io").BytesIO(response.content))
        assert graph.has_edge("asia-times", "unian")
        assert not graph.has_edge("unian", "asia-times")
        assert graph.number_of_nodes() == 6
        asia = graph.nodes["asia-times"]
        assert (asia["claims"], asia["after_denial"], asia["kind"]) == (1, 1, "news_outlet")
        assert graph.edges["unian", "mid-rf"]["first_at"] == "2022-08-11T12:00:00Z"


def _valid(body: str) -> None:
    results = validate_string(body, ValidationOptions(version="2.1"))
    assert results.is_valid, [str(error) for error in results.errors]


async def test_chain_and_network_as_stix(
    reader: httpx.AsyncClient, worked_example: dict[str, Any]
) -> None:
    troops, ids = worked_example["troops"], worked_example["ids"]
    response = await reader.get(f"/v1/claims/{troops}/chain", params={"format": "stix"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == STIX
    _valid(response.text)
    bundle = json.loads(response.text)
    objects = {o["id"]: o for o in bundle["objects"]}
    by_type: dict[str, list[dict[str, Any]]] = {}
    for obj in bundle["objects"]:
        by_type.setdefault(obj["type"], []).append(obj)
    outlets = {o["name"] for o in by_type["identity"]} - {"Tracer"}
    assert outlets == {
        "Kremlin Laundress",
        "Channel One Russia",
        "Asia Times",
        "UNIAN",
        "Russian Foreign Ministry",
    }
    assert len(by_type["observed-data"]) == 6 and len(by_type["url"]) == 6
    sighting = {o["x_tracer_sighting_id"]: o["id"] for o in by_type["observed-data"]}
    links = {
        (r["relationship_type"], r["source_ref"], r["target_ref"]) for r in by_type["relationship"]
    }
    assert ("derived-from", sighting[ids["channel-one"]], sighting[ids["laundress"]]) in links
    assert ("denies", sighting[ids["denial"]], sighting[ids["unian"]]) in links
    (report,) = by_type["report"]
    assert report["name"].startswith("North Korea offered")
    assert set(report["object_refs"]) == set(objects) - {report["id"]}

    # The same records keep the same ids: a second export is the same bundle.
    again = await reader.get(f"/v1/claims/{troops}/chain", params={"format": "stix"})
    assert again.text == response.text

    network = await reader.get("/v1/network", params={"format": "stix"})
    assert network.headers["content-type"] == STIX
    _valid(network.text)
    everything = {o["id"] for o in json.loads(network.text)["objects"]}
    # The chain's objects are the network's objects, under the same ids.
    assert set(objects) - {report["id"]} <= everything
    assert_problem(await reader.get(f"/v1/claims/{troops}/chain", params={"format": "dot"}), 422)
