"""The citation graph's data for Cytoscape.js: sightings when few, outlets when many."""

from collections import Counter
from itertools import pairwise
from typing import Any

from app.chains.outline import Outline, aggregate_of

# Dagre lays out a few hundred nodes in well under a second; past that, outlets are drawn.
MAX_SIGHTING_NODES = 300
MAX_OUTLET_NODES = 150
MAX_FLOWS = 600


def elements(chain: Outline) -> dict[str, Any]:
    """Cytoscape elements for the chain, with the main path and the first denial flagged."""
    if chain.aggregate is None and len(chain.nodes) <= MAX_SIGHTING_NODES:
        return _by_sighting(chain)
    return _by_outlet(chain)


def _by_sighting(chain: Outline) -> dict[str, Any]:
    on_path = set(chain.path)
    steps = set(pairwise(chain.path))
    denial = chain.first_denial
    nodes = [
        {
            "data": {
                "id": node.id,
                "label": f"{node.outlet.name}\n{node.published_at:%d %b}",
                "stance": node.stance.value,
                "kind": node.outlet.kind.value,
                "path": node.id in on_path,
                "denial": denial is not None and node.id == denial.id,
            }
        }
        for node in chain.nodes
    ]
    edges = [
        {"data": {"source": e.from_, "target": e.to, "path": (e.from_, e.to) in steps}}
        for e in chain.edges
    ]
    return {"level": "sighting", "nodes": nodes, "edges": edges}


def _by_outlet(chain: Outline) -> dict[str, Any]:
    aggregate = aggregate_of(chain)
    counts = Counter(aggregate.counts)
    shown = {slug for slug, _ in counts.most_common(MAX_OUTLET_NODES)}
    outlet_of = {node.id: node.outlet for node in chain.nodes}
    path_outlets = [outlet_of[i].slug for i in chain.path]
    shown.update(path_outlets)
    steps = set(pairwise(path_outlets))
    flows: Counter[tuple[str, str]] = Counter(
        {(a, b): n for (a, b), n in aggregate.flows.items() if a != b and a in shown and b in shown}
    )
    names = aggregate.outlets
    denial = chain.first_denial
    nodes = [
        {
            "data": {
                "id": slug,
                "label": f"{names[slug].name}\n{counts[slug]:,} sightings",
                "kind": names[slug].kind.value,
                "path": slug in path_outlets,
                "denial": denial is not None and denial.outlet.slug == slug,
            }
        }
        for slug in sorted(shown)
    ]
    kept = {pair for pair, _ in flows.most_common(MAX_FLOWS)} | (steps & set(flows))
    edges = [
        {"data": {"source": a, "target": b, "count": n, "path": (a, b) in steps}}
        for (a, b), n in flows.items()
        if (a, b) in kept
    ]
    return {"level": "outlet", "nodes": nodes, "edges": edges}
