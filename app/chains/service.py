"""Chains and traces: a fixed handful of index-backed queries, whatever the database's size.

A chain or trace is a set of sightings, its *members*, named by a SQL condition rather than by a
list of ids, so that no statement grows with the chain. Every function reads through a
`LedgerView`, so the same code answers for today and for a past moment.
"""

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    Table,
    and_,
    case,
    literal,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.claims.models import Claim
from app.evidence.service import with_evidence
from app.ledger import CURRENT, LedgerView
from app.outlets.models import Outlet
from app.portable import Unindexed, in_by_key, not_indexed
from app.sightings.models import Citation, Sighting, sighting_versions
from app.sightings.presenter import SIGHTING_COLUMNS
from app.streaming import columns_of, raw, time_order

MAX_TRACE_DEPTH = 1000
# Whether a sightings entity (the view's, or an alias of it) belongs to the chain or trace.
Members = Callable[[Any], ColumnElement[bool]]


class Direction(StrEnum):
    upstream = "upstream"
    downstream = "downstream"


def _claim_family(view: LedgerView, claim_id: str, include_variants: bool) -> Select[Any]:
    """The claim's id, or with variants every claim linked to it by `variant_of` either way."""
    if not include_variants:
        return select(literal(claim_id, String(36)).label("id"))
    claims = view[Claim]
    family = select(literal(claim_id, String(36)).label("id")).cte("family", recursive=True)
    # One recursive reference (all PostgreSQL allows) stepping both ways: to children through
    # the variant_of index, to the parent through the primary key. Each OR arm is index-backed
    # on both engines, so the walk never scans claims outside the family.
    is_parent_of_member = claims.id == family.c.id
    is_child_of_member = claims.variant_of == family.c.id
    step = select(case((is_parent_of_member, claims.variant_of), else_=claims.id)).join(
        family, or_(is_child_of_member, and_(is_parent_of_member, claims.variant_of.is_not(None)))
    )
    return select(family.union(step).c.id)


def chain_members(
    *, view: LedgerView = CURRENT, claim_id: str, include_variants: bool = False
) -> Members:
    """The sightings of the claim, and with variants those of every claim in its family."""
    family = _claim_family(view, claim_id, include_variants)
    if not include_variants:
        return lambda entity: entity.claim_id == claim_id
    return lambda entity: entity.claim_id.in_(family)


class ChainView(NamedTuple):
    """The view a read of a chain or trace reads through, its members in it, and whether that
    view holds the members' own rows alone (`own_rows`: their sightings, and citations made by
    them or by sightings that were once among them)."""

    view: LedgerView
    members: Members
    own_rows: bool = False


def claim_chain(
    *, view: LedgerView = CURRENT, claim_id: str, include_variants: bool = False
) -> ChainView:
    """The view a read of the claim's chain reads through, and the chain's members in it.

    At a past moment the view holds only the sightings that were the claim's then, and the
    citations made by any sighting that was ever the claim's: every read of a chain joins its
    citations to its sightings, so rows outside these are never part of an answer, and leaving
    them out lets each half of the past be read through the claim's index instead of whole.
    """
    members = chain_members(view=view, claim_id=claim_id, include_variants=include_variants)
    if view.as_of is None or include_variants:
        return ChainView(view, members)

    def of_claim(table: Table) -> ColumnElement[bool]:
        return table.c.claim_id == claim_id

    ever_of_claim = union_all(
        select(Sighting.id).where(Sighting.claim_id == claim_id),
        select(sighting_versions.c.id).where(sighting_versions.c.claim_id == claim_id),
    )

    def made_by_one_of_them(table: Table) -> ColumnElement[bool]:
        return in_by_key(table.c.citing_id, ever_of_claim)

    narrowed = view.narrowed({Sighting: of_claim, Citation: made_by_one_of_them})
    # Already within the view; asked again where the index is, SQLite would take the past's
    # rows for a handful and join them to others by scanning instead of by key.
    return ChainView(narrowed, lambda entity: not_indexed(entity.claim_id) == claim_id, True)


def _walk(
    *,
    view: LedgerView,
    sighting_id: str,
    direction: Direction,
    dialect: str,
    within: Members | None = None,
) -> Select[Any]:
    """The ids of every sighting reachable from this one in this direction, at any depth.

    The walk keeps ids only, so UNION visits each sighting once: carrying the depth along would
    visit a sighting once per distinct path length, which on a dense chain is many times over.
    With `within`, the walk steps only onto sightings that also belong there.
    """

    def ends(citations: Any) -> tuple[Any, Any]:
        if direction is Direction.upstream:
            return citations.citing_id, citations.cited_id
        return citations.cited_id, citations.citing_id

    walk = select(literal(sighting_id, String(36)).label("id")).cte("walk", recursive=True)
    if dialect == "postgresql":
        # Each step looks its sightings' citations up by key, row by row (a LATERAL subquery
        # behind OFFSET 0 cannot be planned otherwise). Planned as a join, a step without
        # fresh statistics scans every citation, once per step: a walk 600 steps deep took
        # 16 s that way, and 1.4 s this way.
        near, far = ends(view[Citation])
        onward = select(far.label("id")).where(near == walk.c.id).offset(0).lateral("onward")
        step = select(onward.c.id).select_from(walk).join(onward, true())
        if within is not None:
            reached_sighting = aliased(view[Sighting])
            member = (
                select(literal(1).label("found"))
                .where(reached_sighting.id == onward.c.id, within(reached_sighting))
                .offset(0)
                .lateral("member")
            )
            step = step.join(member, true())
        return select(walk.union(step).c.id)
    # SQLite walks a recursive query one row at a time, each by key already, once each
    # step joins the tables themselves: joined to the union of a past moment's rows, it
    # would first copy every citation there ever was.
    steps = []
    for citations, condition in view.parts(Citation):
        near, far = ends(citations.c)
        step = select(far).join(walk, near == walk.c.id).where(condition)
        if within is not None:
            reached_sighting = aliased(view[Sighting])
            step = step.join(reached_sighting, reached_sighting.id == far).where(
                within(Unindexed(reached_sighting))
            )
        steps.append(step)
    return select(walk.union(*steps).c.id)


def trace_members(
    *,
    view: LedgerView = CURRENT,
    sighting_id: str,
    direction: Direction,
    dialect: str,
    within: Members | None = None,
) -> Members:
    """Every sighting reachable from this one in this direction, at any depth (see `_walk`).

    Depth limits are applied afterwards, to the edges between these members.
    """
    reached = _walk(
        view=view, sighting_id=sighting_id, direction=direction, dialect=dialect, within=within
    )
    return lambda entity: entity.id.in_(reached)


def trace_view(
    *, view: LedgerView = CURRENT, sighting_id: str, direction: Direction, dialect: str
) -> ChainView:
    """The view a read of a trace reads through, and the trace's members in it.

    At a past moment the view holds only the sightings the walk reaches and the citations they
    make, each half of the past read by key from the walk (as `claim_chain` does from the
    claim), rather than joined to the walk as a union of every row there ever was.
    """
    if view.as_of is None:
        members = trace_members(
            view=view, sighting_id=sighting_id, direction=direction, dialect=dialect
        )
        return ChainView(view, members)
    reached = _walk(view=view, sighting_id=sighting_id, direction=direction, dialect=dialect)

    def reached_sighting(table: Table) -> ColumnElement[bool]:
        return in_by_key(table.c.id, reached)

    def made_by_one_of_them(table: Table) -> ColumnElement[bool]:
        return in_by_key(table.c.citing_id, reached)

    narrowed = view.narrowed({Sighting: reached_sighting, Citation: made_by_one_of_them})
    return ChainView(narrowed, lambda entity: true(), True)


def edges_statement(
    view: LedgerView, members: Members, cited_members: Members | None = None, *, walk: bool = False
) -> Select[Any]:
    """Citations between members: (citing id, cited id, basis).

    A walk's reader asks only for the citing end to be a member (and the cited end to be one of
    `cited_members`, if given) and drops the edges leaving the walk once they are read: asked
    whether both ends lie in a walk, SQLite probes the citations index once per pair of walked
    sightings.
    """
    citations, citing, cited = view[Citation], aliased(view[Sighting]), aliased(view[Sighting])
    statement = (
        select(citations.citing_id, citations.cited_id, raw(citations.basis, "basis"))
        .join(citing, citing.id == citations.citing_id)
        .where(members(citing))
    )
    if cited_members is None and not walk:
        cited_members = members
    if cited_members is not None:
        statement = statement.join(cited, cited.id == citations.cited_id).where(
            cited_members(Unindexed(cited))
        )
    return statement


def member_ids_statement(view: LedgerView, members: Members) -> Select[Any]:
    """The members' ids."""
    sightings = view[Sighting]
    return select(sightings.id).where(members(sightings))


def own_citations_statement(view: LedgerView) -> Select[Any]:
    """Every citation of a view holding a chain's own rows (`ChainView.own_rows`): (citing id,
    cited id, basis), each end yet to be checked against the members."""
    citations = view[Citation]
    return select(citations.citing_id, citations.cited_id, raw(citations.basis, "basis"))


def outlets_statement(view: LedgerView, members: Members) -> Select[Any]:
    """The outlets that carried some member, each once."""
    sightings, outlets = view[Sighting], view[Outlet]
    carried = select(sightings.outlet_id).where(members(sightings))
    # Whole entities, a few hundred at most: the schema reads properties as well as columns.
    return (
        select(outlets)
        .where(outlets.id.in_(carried))
        .order_by(outlets.slug)
        .execution_options(populate_existing=True)
    )


OUTLINE_COLUMNS = ("id", "published_at", "outlet_id", "stance", "language")


def nodes_statement(
    session: AsyncSession, view: LedgerView, members: Members, *, outline_only: bool = False
) -> Select[Any]:
    """Every member's document columns (or only what a path and metrics read), in time order."""
    sightings = view[Sighting]
    if outline_only:
        columns = [raw(getattr(sightings, name), name) for name in OUTLINE_COLUMNS]
        return select(*columns).where(members(sightings)).order_by(*time_order(session, sightings))
    columns = columns_of(sightings, SIGHTING_COLUMNS)
    statement = with_evidence(select(*columns), sightings)
    return statement.where(members(sightings)).order_by(*time_order(session, sightings))


def edge_rows_statement(
    session: AsyncSession, view: LedgerView, members: Members, side: Sequence[str]
) -> Select[Any]:
    """Citations between members, ordered by the citing end's time: for the cited end then the
    citing end, the `side` columns (a sighting's, or its outlet's as `outlet_*`), then the basis.
    """
    citations = view[Citation]
    cited, citing = aliased(view[Sighting]), aliased(view[Sighting])
    cited_outlet, citing_outlet = aliased(view[Outlet]), aliased(view[Outlet])
    wanted = []
    for prefix, sighting, outlet in (("from", cited, cited_outlet), ("to", citing, citing_outlet)):
        for name in side:
            source, column = (outlet, name[7:]) if name.startswith("outlet_") else (sighting, name)
            wanted.append(raw(getattr(source, column), f"{prefix}_{name}"))
    return (
        select(*wanted, raw(citations.basis, "basis"))
        .join(citing, citing.id == citations.citing_id)
        .join(cited, cited.id == citations.cited_id)
        .join(cited_outlet, cited_outlet.id == cited.outlet_id)
        .join(citing_outlet, citing_outlet.id == citing.outlet_id)
        .where(members(citing), members(Unindexed(cited)))
        .order_by(*time_order(session, citing), cited.id)
    )
