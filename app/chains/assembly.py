"""From a loaded graph to the contract's chain document."""

from collections.abc import Sequence
from itertools import pairwise

from app.chains.paths import main_path
from app.chains.schemas import Chain, Edge, Hop, Metrics, Trace
from app.chains.service import Graph, edge_pairs
from app.claims.models import Claim
from app.claims.schemas import Claim as ClaimOut
from app.denials import rules
from app.sightings.models import Citation, Sighting
from app.sightings.presenter import present_one


def _edges(edges: Sequence[Citation]) -> list[Edge]:
    return [Edge(from_=e.cited_id, to=e.citing_id, basis=e.basis) for e in edges]


def _nodes(graph: Graph) -> list[object]:
    citing: dict[str, list[Citation]] = {n.id: [] for n in graph.nodes}
    for edge in graph.edges:
        citing[edge.citing_id].append(edge)
    return [present_one(node, citing[node.id]) for node in graph.nodes]


def _metrics(nodes: Sequence[Sighting]) -> Metrics:
    first_seen = rules.earliest(nodes)
    denial = rules.first_denial(nodes)
    denial_at = denial.published_at if denial else None
    return Metrics(
        sightings=len(nodes),
        outlets=len({n.outlet_id for n in nodes}),
        countries=len({n.outlet.country for n in nodes if n.outlet.country}),
        languages=len({lang for n in nodes if (lang := n.language or n.outlet.language)}),
        first_seen_at=first_seen,
        first_denial_at=denial_at,
        denial_lag_seconds=rules.lag_seconds(first_seen, denial_at),
        sightings_after_denial=rules.spread_after(nodes, denial_at) if denial_at else 0,
    )


def build_chain(claim: Claim, graph: Graph) -> Chain:
    by_id = {n.id: n for n in graph.nodes}
    position = {n.id: i for i, n in enumerate(graph.nodes)}
    pairs = edge_pairs(graph.edges)
    cited_something = {citing for _, citing in pairs}
    origins = [n.id for n in graph.nodes if n.id not in cited_something]
    denial = rules.first_denial(graph.nodes)
    path = main_path(
        pairs,
        origins,
        denial.id if denial else None,
        order=position.__getitem__,
    )
    hops = [
        Hop(
            from_=a,
            to=b,
            from_outlet=by_id[a].outlet.slug,
            to_outlet=by_id[b].outlet.slug,
            lag_seconds=rules.lag_seconds(by_id[a].published_at, by_id[b].published_at) or 0,
        )
        for a, b in pairwise(path)
    ]
    return Chain.model_validate(
        {
            "claim": ClaimOut.model_validate(claim),
            "nodes": _nodes(graph),
            "edges": _edges(graph.edges),
            "origins": origins,
            "path": path,
            "hops": hops,
            "metrics": _metrics(graph.nodes),
        }
    )


def build_trace(graph: Graph) -> Trace:
    return Trace.model_validate({"nodes": _nodes(graph), "edges": _edges(graph.edges)})
