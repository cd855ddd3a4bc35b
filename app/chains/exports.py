"""A chain as a file: GraphML and GEXF for Gephi, Cytoscape and networkx; CSV for spreadsheets."""

import csv
import io
from enum import StrEnum
from typing import Any

import networkx as nx
from fastapi import Response

from app.chains.schemas import Chain
from app.schemas import Timestamp
from app.sightings.schemas import Sighting


class ChainFormat(StrEnum):
    json = "json"
    graphml = "graphml"
    gexf = "gexf"
    csv = "csv"


MEDIA_TYPES = {
    ChainFormat.graphml: "application/graphml+xml",
    ChainFormat.gexf: "application/gexf+xml",
    ChainFormat.csv: "text/csv; charset=utf-8",
}

RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {
        "description": "The chain as JSON, or as a file with `?format=`.",
        "content": {media: {} for media in MEDIA_TYPES.values()},
    }
}

CSV_SIDE = ["id", "outlet", "outlet_name", "kind", "country", "stance", "published_at", "url"]
CSV_COLUMNS = [
    *(f"from_{name}" for name in CSV_SIDE),
    *(f"to_{name}" for name in CSV_SIDE),
    "basis",
    "lag_seconds",
]


def _time(node: Sighting) -> str:
    shown: str = node.model_dump(mode="json")["published_at"]
    return shown


def _node_attributes(node: Sighting) -> dict[str, str]:
    # GraphML and GEXF have no null, so a missing value is an empty string of the same type.
    return {
        "label": node.outlet.name,
        "outlet": node.outlet.slug,
        "kind": node.outlet.kind.value,
        "country": node.outlet.country or "",
        "language": node.language or node.outlet.language or "",
        "stance": node.stance.value,
        "published_at": _time(node),
        "published_at_precision": node.published_at_precision.value,
        "url": node.url,
        "claim_id": node.claim_id,
    }


def _lags(chain: Chain) -> dict[tuple[str, str], int]:
    published: dict[str, Timestamp] = {n.id: n.published_at for n in chain.nodes}
    return {
        (e.from_, e.to): round((published[e.to] - published[e.from_]).total_seconds())
        for e in chain.edges
    }


def to_graph(chain: Chain) -> nx.DiGraph:
    """The chain as a directed graph: sightings as nodes, the claim's steps as edges."""
    graph = nx.DiGraph(
        claim_id=chain.claim.id,
        claim=chain.claim.statement,
        denial_status=chain.claim.denial_status.value,
    )
    for node in chain.nodes:
        graph.add_node(node.id, **_node_attributes(node))
    lags = _lags(chain)
    for edge in chain.edges:
        graph.add_edge(
            edge.from_, edge.to, basis=edge.basis.value, lag_seconds=lags[(edge.from_, edge.to)]
        )
    return graph


def graphml(chain: Chain) -> bytes:
    buffer = io.BytesIO()
    nx.write_graphml(to_graph(chain), buffer, encoding="utf-8")
    return buffer.getvalue()


def gexf(chain: Chain) -> bytes:
    buffer = io.BytesIO()
    nx.write_gexf(to_graph(chain), buffer, encoding="utf-8")
    return buffer.getvalue()


def _csv_side(node: Sighting) -> list[str]:
    attributes = _node_attributes(node)
    return [
        node.id,
        node.outlet.slug,
        node.outlet.name,
        *(attributes[name] for name in ("kind", "country", "stance", "published_at", "url")),
    ]


def edges_csv(chain: Chain) -> str:
    """One row per edge, with both ends' outlets and times."""
    by_id = {n.id: n for n in chain.nodes}
    lags = _lags(chain)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for edge in chain.edges:
        writer.writerow(
            [
                *_csv_side(by_id[edge.from_]),
                *_csv_side(by_id[edge.to]),
                edge.basis.value,
                lags[(edge.from_, edge.to)],
            ]
        )
    return buffer.getvalue()


def as_file(chain: Chain, file_format: ChainFormat) -> Response:
    """The chain in this format, named so that a browser saves it as a file."""
    body: bytes | str
    if file_format is ChainFormat.graphml:
        body = graphml(chain)
    elif file_format is ChainFormat.gexf:
        body = gexf(chain)
    else:
        body = edges_csv(chain)
    filename = f"chain-{chain.claim.id}.{file_format.value}"
    return Response(
        body,
        media_type=MEDIA_TYPES[file_format],
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )
