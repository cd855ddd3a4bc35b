"""Chain and trace documents written as they are read: JSON bytes, chunk by chunk.

Each chunk of sightings is validated and serialised by pydantic in one call, and its bytes are
sent before the next chunk is read; the fields after `nodes` come from the reader's compact
lists once the sightings have gone by.
"""

from collections.abc import AsyncIterator, Iterator
from enum import StrEnum
from itertools import islice
from typing import Any

from pydantic import TypeAdapter

from app.chains.assembly import GraphReader
from app.chains.schemas import CompactSighting, Edge, Hop
from app.claims.schemas import Claim as ClaimOut
from app.enums import CitationBasis
from app.outlets.schemas import Outlet as OutletOut
from app.sightings.schemas import Sighting as SightingOut


class Shape(StrEnum):
    default = "default"
    compact = "compact"


_FULL_NODES = TypeAdapter(list[SightingOut])
_COMPACT_NODES = TypeAdapter(list[CompactSighting])
_EDGES = TypeAdapter(list[Edge])
_OUTLETS = TypeAdapter(dict[str, OutletOut])
_IDS = TypeAdapter(list[str])
_HOPS = TypeAdapter(list[Hop])
EDGE_CHUNK = 5000


def _items(adapter: TypeAdapter[Any], chunk: list[Any]) -> bytes:
    """A chunk as the items of a JSON array, without its brackets."""
    return adapter.dump_json(adapter.validate_python(chunk))[1:-1]


async def _node_items(reader: GraphReader, shape: Shape) -> AsyncIterator[bytes]:
    outlets = reader.outlet_models()
    adapter = _COMPACT_NODES if shape is Shape.compact else _FULL_NODES
    async for chunk in reader.nodes():
        for node in chunk:
            outlet = outlets[node["outlet_id"]]
            node["outlet"] = outlet.slug if shape is Shape.compact else outlet
        yield _items(adapter, chunk)


def _edge_items(edges: Iterator[tuple[str, str, CitationBasis]]) -> Iterator[bytes]:
    while chunk := list(islice(edges, EDGE_CHUNK)):
        yield _items(_EDGES, [{"from": a, "to": b, "basis": basis} for a, b, basis in chunk])


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
        by_slug = {o.slug: o for o in reader.outlet_models().values()}
        yield b',"outlets":' + _OUTLETS.dump_json(by_slug)
    yield b","
    async for body in _nodes_and_edges(reader, shape):
        yield body
    summary = reader.summary()
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
