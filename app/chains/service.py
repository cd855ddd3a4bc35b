"""Chains and traces: a fixed handful of index-backed queries, whatever the database's size."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Select, String, and_, case, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.claims.models import Claim
from app.denials import rules
from app.errors import Invalid
from app.sightings.models import Citation, Sighting
from app.sightings.service import with_outlet

MAX_TRACE_DEPTH = 1000
# The most sightings a trace answers with; a larger neighbourhood is the chain's job.
MAX_TRACE_NODES = 10_000
# Ids per IN (...) list, well under either engine's limit on bound parameters.
_IN_CHUNK = 500


class Direction(StrEnum):
    upstream = "upstream"
    downstream = "downstream"


@dataclass(frozen=True)
class Graph:
    nodes: list[Sighting]
    edges: list[Citation]


def _claim_family(claim_id: str, include_variants: bool) -> Select[str]:
    """The claim's id, or with variants every claim linked to it by `variant_of` either way."""
    if not include_variants:
        return select(literal(claim_id, String(36)).label("id"))
    family = select(literal(claim_id, String(36)).label("id")).cte("family", recursive=True)
    # One recursive reference (all PostgreSQL allows) stepping both ways: to children through
    # the variant_of index, to the parent through the primary key. Each OR arm is index-backed
    # on both engines, so the walk never scans claims outside the family.
    is_parent_of_member = Claim.id == family.c.id
    is_child_of_member = Claim.variant_of == family.c.id
    step = select(case((is_parent_of_member, Claim.variant_of), else_=Claim.id)).join(
        family, or_(is_child_of_member, and_(is_parent_of_member, Claim.variant_of.is_not(None)))
    )
    return select(family.union(step).c.id)


async def _graph(session: AsyncSession, node_ids: Select[str]) -> Graph:
    nodes = (await session.scalars(with_outlet().where(Sighting.id.in_(node_ids)))).unique().all()
    edges = (
        await session.scalars(
            select(Citation).where(
                Citation.citing_id.in_(node_ids), Citation.cited_id.in_(node_ids)
            )
        )
    ).all()
    return Graph(nodes=rules.in_time_order(nodes), edges=list(edges))


async def chain_graph(*, session: AsyncSession, claim_id: str, include_variants: bool) -> Graph:
    """Every sighting of the claim (and its variants) and the citations between them."""
    family = _claim_family(claim_id, include_variants)
    return await _graph(session, select(Sighting.id).where(Sighting.claim_id.in_(family)))


async def trace_graph(
    *, session: AsyncSession, sighting_id: str, direction: Direction, max_depth: int
) -> Graph:
    """Sightings reachable from one sighting: its sources upstream, its audience downstream.

    Walked one level at a time, each sighting visited once: a recursive query would follow
    every path to every depth, which on a densely cited claim grows without bound. Past
    MAX_TRACE_NODES sightings the walk stops and the request is refused.
    """
    near, far = (
        (Citation.citing_id, Citation.cited_id)
        if direction is Direction.upstream
        else (Citation.cited_id, Citation.citing_id)
    )
    seen = {sighting_id}
    frontier = [sighting_id]
    for _ in range(max_depth):
        if not frontier:
            break
        step: set[str] = set()
        for start in range(0, len(frontier), _IN_CHUNK):
            chunk = frontier[start : start + _IN_CHUNK]
            step.update(await session.scalars(select(far).where(near.in_(chunk))))
        frontier = sorted(step - seen)
        seen.update(frontier)
        if len(seen) > MAX_TRACE_NODES:
            raise Invalid(
                f"more than {MAX_TRACE_NODES} sightings lie within max_depth={max_depth} of this "
                "one; ask for fewer levels, or export the claim's chain",
                loc=["max_depth"],
                source="query",
            )
    return await _graph_of(session, sorted(seen))


async def _graph_of(session: AsyncSession, ids: list[str]) -> Graph:
    nodes: list[Sighting] = []
    edges: list[Citation] = []
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        nodes.extend((await session.scalars(with_outlet().where(Sighting.id.in_(chunk)))).unique())
        edges.extend(
            await session.scalars(
                select(Citation).where(Citation.citing_id.in_(chunk), Citation.cited_id.in_(ids))
            )
        )
    return Graph(nodes=rules.in_time_order(nodes), edges=edges)


def edge_pairs(edges: Sequence[Citation]) -> list[tuple[str, str]]:
    """Citations as propagation steps: from the cited sighting to the one citing it."""
    return [(e.cited_id, e.citing_id) for e in edges]
