"""Chain and trace documents written as they are read: JSON bytes, chunk by chunk.

Each chunk of sightings is encoded and sent before the next chunk is read; the fields after
`nodes` come from the reader's compact lists once the sightings have gone by.
"""

import asyncio
from collections.abc import AsyncIterator, Iterator
from enum import StrEnum
from itertools import islice
from typing import Any

from pydantic import TypeAdapter

from app.chains.assembly import GraphReader
from app.chains.schemas import Hop
from app.claims.schemas import Claim as ClaimOut
from app.streaming import encode, json_items


class Shape(StrEnum):
    default = "default"
    compact = "compact"


_IDS = TypeAdapter(list[str])
_HOPS = TypeAdapter(list[Hop])
EDGE_CHUNK = 5000


def _outlets_by_id(reader: GraphReader, shape: Shape) -> dict[str, Any]:
    outlets = reader.outlets
    if shape is Shape.compact:
        return {oid: outlet.slug for oid, outlet in outlets.items()}
    return {oid: outlet.model_dump(mode="json") for oid, outlet in outlets.items()}


async def _node_items(reader: GraphReader, shape: Shape) -> AsyncIterator[bytes]:
    outlets = _outlets_by_id(reader, shape)
    async for chunk in reader.nodes():
        for node in chunk:
            node["outlet"] = outlets[node.pop("outlet_id")]
        yield json_items(chunk)


def _edge_items(edges: Iterator[tuple[str, str, str]]) -> Iterator[bytes]:
    while chunk := list(islice(edges, EDGE_CHUNK)):
        yield json_items([{"from": a, "to": b, "basis": basis} for a, b, basis in chunk])


async def _nodes_and_edges(reader: GraphReader, shape: Shape) -> AsyncIterator[bytes]:
    separator = b'"nodes":['
    async for body in _node_items(reader, shape):
        yield separator + body
        separator = b","
    yield b"]" if separator == b"," else separator + b"]"
    separator = b',"edges":['
    for body in _edge_items(reader.edges()):
        yield separator + body
        separator = b","
    yield b"]" if separator == b"," else separator + b"]"


async def chain_json(
    reader: GraphReader, claim: ClaimOut, shape: Shape = Shape.default
) -> AsyncIterator[bytes]:
    """The contract's chain document, default or compact."""
    yield b'{"claim":' + claim.model_dump_json().encode()
    if shape is Shape.compact:
        by_slug = {o.slug: o.model_dump(mode="json") for o in reader.outlets.values()}
        yield b',"outlets":' + encode(by_slug)
    yield b","
    async for body in _nodes_and_edges(reader, shape):
        yield body
    # A walk over every node: in a thread, the process answers others meanwhile.
    summary = await asyncio.to_thread(reader.summary)
    yield (
        b',"origins":'
        + _IDS.dump_json(summary.origins)
        + b',"path":'
        + _IDS.dump_json(summary.path)
        + b',"hops":'
        + _HOPS.dump_json(summary.hops)
        + b',"metrics":'
        + summary.metrics.model_dump_json().encode()
        + b"}"
    )


async def trace_json(reader: GraphReader) -> AsyncIterator[bytes]:
    """`{"nodes", "edges"}` of a trace."""
    yield b"{"
    async for body in _nodes_and_edges(reader, Shape.default):
        yield body
    yield b"}"
