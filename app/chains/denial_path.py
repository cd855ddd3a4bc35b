"""A chain's first official denial, its metrics and its main path.

The main path walks only what leads to the first denial (or, without one, what the earliest
origin reached), never reading whole sightings.
"""

from dataclasses import dataclass
from datetime import datetime
from itertools import pairwise

from sqlalchemy import (
    ColumnElement,
    and_,
    exists,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.chains import service
from app.chains.outlet_figures import Carried, as_utc
from app.chains.paths import main_path
from app.chains.schemas import Hop, Metrics
from app.chains.service import Direction, Members
from app.claims.models import Claim
from app.enums import OutletKind, Stance
from app.ledger import LedgerView
from app.outlets.models import Outlet
from app.portable import Unindexed
from app.sightings.models import Citation, Sighting
from app.sightings.rules import SPREADING, lag_seconds
from app.streaming import time_order


def _cites_a_member(view: LedgerView, members: Members) -> ColumnElement[bool]:
    """Whether the view's sighting cites some member of the chain."""
    citations, cited = view[Citation], aliased(view[Sighting])
    return exists(
        select(citations.citing_id)
        .join(cited, cited.id == citations.cited_id)
        # The cited sighting looked up by its key, not among all the chain's.
        .where(citations.citing_id == view[Sighting].id, members(Unindexed(cited)))
    )


def _is_first_denial(view: LedgerView) -> ColumnElement[bool]:
    return and_(view[Outlet].kind == OutletKind.official, view[Sighting].stance == Stance.denies)


async def first_denial(
    session: AsyncSession, view: LedgerView, members: Members
) -> tuple[str, datetime, bool] | None:
    """The first official denial: its id, time, and whether anything in the chain reaches it."""
    sightings = view[Sighting]
    statement = (
        select(sightings.id, sightings.published_at, _cites_a_member(view, members))
        .join(view[Outlet], view[Outlet].id == sightings.outlet_id)
        .where(members(sightings), _is_first_denial(view))
        .order_by(*time_order(session, sightings))
        .limit(1)
    )
    row = (await session.execute(statement)).first()
    return (row[0], row[1], bool(row[2])) if row else None


async def _earliest_origin(session: AsyncSession, view: LedgerView, members: Members) -> str | None:
    sightings = view[Sighting]
    statement = (
        select(sightings.id)
        .where(members(sightings), ~_cites_a_member(view, members))
        .order_by(*time_order(session, sightings))
        .limit(1)
    )
    return await session.scalar(statement)


async def metrics(
    session: AsyncSession,
    view: LedgerView,
    members: Members,
    carried: Carried,
    denial: tuple[str, datetime, bool] | None,
    *,
    projected: Claim | None = None,
) -> Metrics:
    """The chain's metrics. `projected` is the claim when the chain is that one claim's, now:
    its projection already counts what spread after the first denial."""
    sightings = view[Sighting]
    outlets = carried.shown
    first_seen = min((o.first_at for o in outlets), default=None)
    denial_at = denial[1] if denial else None
    after = 0
    if projected is not None:
        after = projected.sightings_after_denial
    elif denial_at is not None:
        after = (
            await session.scalar(
                select(func.count()).where(
                    members(sightings),
                    sightings.stance.in_(SPREADING),
                    sightings.published_at > denial_at,
                )
            )
            or 0
        )
    return Metrics(
        sightings=sum(o.sightings for o in outlets),
        outlets=len(outlets),
        countries=len({o.country for o in outlets if o.country}),
        languages=len(carried.languages),
        first_seen_at=first_seen,
        first_denial_at=denial_at,
        denial_lag_seconds=lag_seconds(first_seen, denial_at),
        sightings_after_denial=after,
    )


@dataclass(slots=True)
class _Walked:
    published_at: datetime
    order: tuple[datetime, datetime, str]
    outlet: str
    cites: list[str]


async def _walk(
    session: AsyncSession, view: LedgerView, members: Members, start: str, direction: Direction
) -> dict[str, _Walked]:
    """The chain's sightings reached from `start`, each with what of the chain it cites, read
    in one statement: the walk runs once, and only the fields a path needs are read."""
    walked = service.trace_members(
        view=view,
        sighting_id=start,
        direction=direction,
        dialect=session.get_bind().dialect.name,
        within=members,
    )
    sightings, citations, cited = view[Sighting], view[Citation], aliased(view[Sighting])
    statement = (
        select(
            sightings.id,
            sightings.published_at,
            sightings.recorded_at,
            view[Outlet].slug,
            cited.id,
        )
        .join(view[Outlet], view[Outlet].id == sightings.outlet_id)
        .outerjoin(citations, citations.citing_id == sightings.id)
        .outerjoin(cited, and_(cited.id == citations.cited_id, members(Unindexed(cited))))
        # Read from the walk, by key: the claim's own index would read all its sightings.
        .where(members(Unindexed(sightings)), walked(sightings))
    )
    nodes: dict[str, _Walked] = {}
    connection = await session.connection()
    for sighting_id, published_at, recorded_at, outlet, cited_id in await connection.execute(
        statement
    ):
        node = nodes.get(sighting_id)
        if node is None:
            published, recorded = as_utc(published_at), as_utc(recorded_at)
            node = _Walked(published, (published, recorded, sighting_id), outlet, [])
            nodes[sighting_id] = node
        if cited_id is not None:
            node.cites.append(cited_id)
    return nodes


async def main_path_of(
    session: AsyncSession,
    view: LedgerView,
    members: Members,
    denial: tuple[str, datetime, bool] | None,
) -> tuple[list[str], list[Hop]]:
    """The chain's main path and its hops, reading only the sightings on the walks to it."""
    # The main path is the chain's: from what reaches the first denial, or else from the
    # earliest origin; only the sightings on those walks are read, and only what a path needs.
    towards_denial = denial is not None and denial[2]
    start = denial[0] if denial is not None and towards_denial else None
    direction = Direction.upstream
    if start is None:
        start, direction = await _earliest_origin(session, view, members), Direction.downstream
    if start is None:
        return [], []
    nodes = await _walk(session, view, members, start, direction)
    in_time_order = sorted(nodes, key=lambda sighting_id: nodes[sighting_id].order)
    position = {sighting_id: index for index, sighting_id in enumerate(in_time_order)}
    path = main_path(
        in_time_order,
        # What a walked sighting cites outside the walk (downstream) is no step of a path.
        lambda node: [c for c in nodes[node].cites if c in position],
        (sighting_id for sighting_id in in_time_order if not nodes[sighting_id].cites),
        start if towards_denial else None,
        order=position.__getitem__,
    )
    hops = [
        Hop(
            from_=a,
            to=b,
            from_outlet=nodes[a].outlet,
            to_outlet=nodes[b].outlet,
            lag_seconds=lag_seconds(nodes[a].published_at, nodes[b].published_at) or 0,
        )
        for a, b in pairwise(path)
    ]
    return path, hops
