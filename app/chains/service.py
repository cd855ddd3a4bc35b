"""Chains and traces: a fixed handful of index-backed queries, whatever the database's size."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, case, literal, or_, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.denials import rules
from app.ledger import CURRENT, LedgerView, with_outlet
from app.sightings.models import Citation, Sighting

MAX_TRACE_DEPTH = 1000


class Direction(StrEnum):
    upstream = "upstream"
    downstream = "downstream"


@dataclass(frozen=True)
class Graph:
    nodes: list[Sighting]
    edges: list[Citation]


def _claim_family(claim_id: str, include_variants: bool, view: LedgerView) -> Select[str]:
    """The claim's id, or with variants every claim linked to it by `variant_of` either way."""
    if not include_variants:
        return select(literal(claim_id, String(36)).label("id"))
    family = select(literal(claim_id, String(36)).label("id")).cte("family", recursive=True)
    # One recursive reference (all PostgreSQL allows) stepping both ways: to children through
    # the variant_of index, to the parent through the primary key. Each OR arm is index-backed
    # on both engines, so the walk never scans claims outside the family.
    claims = view.claims
    is_parent_of_member = claims.id == family.c.id
    is_child_of_member = claims.variant_of == family.c.id
    step = select(case((is_parent_of_member, claims.variant_of), else_=claims.id)).join(
        family, or_(is_child_of_member, and_(is_parent_of_member, claims.variant_of.is_not(None)))
    )
    return select(family.union(step).c.id)


Membership = Callable[[Any], ColumnElement[bool]]


async def _graph(session: AsyncSession, is_node: Membership, view: LedgerView) -> Graph:
    """The sightings `is_node` accepts and the citations between them.

    Citations are reached from the nodes that make them, and those citing something outside
    are dropped here: a join driven by the nodes stays on the indexes even when the view is a
    past moment's union of two tables, where a second membership test would not.
    """
    nodes = rules.in_time_order(
        (await session.scalars(with_outlet(view).where(is_node(view.sightings)))).unique().all()
    )
    citing, citations = aliased(view.sightings), view.citations
    made = await session.scalars(
        select(citations)
        .join(citing, citing.id == citations.citing_id)
        .where(is_node(citing))
        .order_by(citations.citing_id, citations.cited_id)
        .execution_options(populate_existing=True)
    )
    ids = {node.id for node in nodes}
    return Graph(nodes=nodes, edges=[edge for edge in made.all() if edge.cited_id in ids])


async def chain_graph(
    *, session: AsyncSession, claim_id: str, include_variants: bool, view: LedgerView = CURRENT
) -> Graph:
    """Every sighting of the claim (and its variants) and the citations between them."""
    family = _claim_family(claim_id, include_variants, view)
    return await _graph(session, lambda sightings: sightings.claim_id.in_(family), view)


async def trace_graph(
    *,
    session: AsyncSession,
    sighting_id: str,
    direction: Direction,
    max_depth: int,
    view: LedgerView = CURRENT,
) -> Graph:
    """Sightings reachable from one sighting: its sources upstream, its audience downstream."""
    citations = view.citations
    near, far = (
        (citations.citing_id, citations.cited_id)
        if direction is Direction.upstream
        else (citations.cited_id, citations.citing_id)
    )
    walk = select(literal(sighting_id, String(36)).label("id"), literal(0).label("depth")).cte(
        "walk", recursive=True
    )
    walk = walk.union(
        select(far, walk.c.depth + 1).join(walk, near == walk.c.id).where(walk.c.depth < max_depth)
    )
    reached = select(walk.c.id).distinct()
    return await _graph(session, lambda sightings: sightings.id.in_(reached), view)


def edge_pairs(edges: Sequence[Citation]) -> list[tuple[str, str]]:
    """Citations as propagation steps: from the cited sighting to the one citing it."""
    return [(e.cited_id, e.citing_id) for e in edges]
