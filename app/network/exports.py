"""The outlet network as JSON, GEXF or GraphML, written as its rows are read.

Nodes are outlets, named by slug; an edge runs from the outlet a claim came from to the one that
took it. Every figure of the JSON answer is an attribute of the files, so Gephi or networkx can
size and filter by it.
"""

from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Any
from xml.sax.saxutils import escape, quoteattr

from sqlalchemy.ext.asyncio import AsyncSession

from app.network import service
from app.network.filters import Selection
from app.schemas import utc_z
from app.streaming import json_items, stream_dicts, stream_tuples


class NetworkFormat(StrEnum):
    json = "json"
    gexf = "gexf"
    graphml = "graphml"
    stix = "stix"


MEDIA_TYPES = {
    NetworkFormat.json: "application/json",
    NetworkFormat.graphml: "application/graphml+xml",
    NetworkFormat.gexf: "application/gexf+xml",
    NetworkFormat.stix: "application/stix+json;version=2.1",
}

NODE_FIGURES = [
    ("name", "string"),
    ("kind", "string"),
    ("country", "string"),
    ("claims", "long"),
    ("sightings", "long"),
    ("first_to_carry", "long"),
    ("after_denial", "long"),
]
EDGE_FIGURES = [("citations", "long"), ("claims", "long"), ("first_at", "string")]
EDGE_FIGURES += [("last_at", "string")]
NODE_FIELDS = ["slug", *(name for name, _ in NODE_FIGURES)]


async def network_json(
    session: AsyncSession, selection: Selection, min_citations: int
) -> AsyncIterator[bytes]:
    """`{"nodes": [...], "edges": [...]}`, a chunk of rows at a time."""
    yield b'{"nodes":['
    separator = b""
    async for chunk in stream_dicts(session, service.node_statement(selection)):
        for node in chunk:
            del node["id"]
        if chunk:
            yield separator + json_items(chunk)
            separator = b","
    yield b'],"edges":['
    separator = b""
    # Edges come by the hundred thousand: each is built from its row as it stands, without
    # first keying the row by its column names.
    async for rows in stream_tuples(session, service.edge_statement(selection, min_citations)):
        if rows:
            edges = [
                {
                    "from_outlet": from_outlet,
                    "to_outlet": to_outlet,
                    "citations": citations,
                    "claims": claims,
                    "first_at": first_at,
                    "last_at": last_at,
                }
                for from_outlet, to_outlet, citations, claims, first_at, last_at in rows
            ]
            yield separator + json_items(edges)
            separator = b","
    yield b"]}"


def _value(row: dict[str, Any], name: str) -> str:
    value = row[name]
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return utc_z(value)
    return str(value)


async def graphml(
    session: AsyncSession, selection: Selection, min_citations: int
) -> AsyncIterator[bytes]:
    """GraphML with typed keys for every node and edge figure."""
    keys = [
        *(
            f'<key id="n{i}" for="node" attr.name="{name}" attr.type="{kind}"/>\n'
            for i, (name, kind) in enumerate(NODE_FIGURES)
        ),
        *(
            f'<key id="e{i}" for="edge" attr.name="{name}" attr.type="{kind}"/>\n'
            for i, (name, kind) in enumerate(EDGE_FIGURES)
        ),
    ]
    yield (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<graphml xmlns="http://graphml.graphdrawing.org/xmlns" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://graphml.graphdrawing.org/xmlns '
        'http://graphml.graphdrawing.org/xmlns/1.0/graphml.xsd">\n'
        + "".join(keys)
        + '<graph edgedefault="directed">\n'
    ).encode()
    async for chunk in stream_dicts(session, service.node_statement(selection)):
        parts = []
        for node in chunk:
            parts.append(f"<node id={quoteattr(node['slug'])}>")
            parts += [
                f'<data key="n{i}">{escape(_value(node, name))}</data>'
                for i, (name, _) in enumerate(NODE_FIGURES)
            ]
            parts.append("</node>\n")
        yield "".join(parts).encode()
    async for chunk in stream_dicts(session, service.edge_statement(selection, min_citations)):
        parts = []
        for edge in chunk:
            parts.append(
                f"<edge source={quoteattr(edge['from_outlet'])} "
                f"target={quoteattr(edge['to_outlet'])}>"
            )
            parts += [
                f'<data key="e{i}">{_value(edge, name)}</data>'
                for i, (name, _) in enumerate(EDGE_FIGURES)
            ]
            parts.append("</edge>\n")
        yield "".join(parts).encode()
    yield b"</graph>\n</graphml>\n"


async def gexf(
    session: AsyncSession, selection: Selection, min_citations: int
) -> AsyncIterator[bytes]:
    """GEXF 1.2 with static attributes; an outlet's name is its node's label and an edge's
    citations its weight."""
    node_figures = NODE_FIGURES[1:]
    yield (
        "<?xml version='1.0' encoding='utf-8'?>\n"
        '<gexf xmlns="http://www.gexf.net/1.2draft" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:schemaLocation="http://www.gexf.net/1.2draft '
        'http://www.gexf.net/1.2draft/gexf.xsd" version="1.2">\n'
        "<meta><creator>Tracer</creator><description>Outlets across claims</description></meta>\n"
        '<graph defaultedgetype="directed" mode="static">\n'
        '<attributes class="node" mode="static">\n'
        + "".join(
            f'<attribute id="n{i}" title="{name}" type="{kind}"/>\n'
            for i, (name, kind) in enumerate(node_figures)
        )
        + '</attributes>\n<attributes class="edge" mode="static">\n'
        + "".join(
            f'<attribute id="e{i}" title="{name}" type="{kind}"/>\n'
            for i, (name, kind) in enumerate(EDGE_FIGURES)
        )
        + "</attributes>\n<nodes>\n"
    ).encode()
    async for chunk in stream_dicts(session, service.node_statement(selection)):
        parts = []
        for node in chunk:
            parts.append(
                f"<node id={quoteattr(node['slug'])} label={quoteattr(node['name'])}><attvalues>"
            )
            parts += [
                f'<attvalue for="n{i}" value={quoteattr(_value(node, name))}/>'
                for i, (name, _) in enumerate(node_figures)
            ]
            parts.append("</attvalues></node>\n")
        yield "".join(parts).encode()
    yield b"</nodes>\n<edges>\n"
    number = 0
    async for chunk in stream_dicts(session, service.edge_statement(selection, min_citations)):
        parts = []
        for edge in chunk:
            parts.append(
                f'<edge id="{number}" source={quoteattr(edge["from_outlet"])} '
                f'target={quoteattr(edge["to_outlet"])} weight="{edge["citations"]}"><attvalues>'
            )
            parts += [
                f'<attvalue for="e{i}" value="{_value(edge, name)}"/>'
                for i, (name, _) in enumerate(EDGE_FIGURES)
            ]
            parts.append("</attvalues></edge>\n")
            number += 1
        yield "".join(parts).encode()
    yield b"</edges>\n</graph>\n</gexf>\n"
