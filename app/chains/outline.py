"""A chain's outline: what a picture of the chain needs, read as plain rows.

The chain document builds a full sighting, with its outlet, for every node: right for the API,
but seconds of work at 100,000 sightings. A page drawing the chain needs a handful of fields per
node, so this reads just those, in three queries, and derives the main path and the metrics
with the same functions as the chain document, so the two never disagree.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ColumnElement, Integer, case, func, literal, or_, select
from sqlalchemy import cast as cast_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.chains import denial_path, outlet_figures
from app.chains.paths import main_path
from app.chains.schemas import Metrics
from app.chains.service import chain_members
from app.claims.models import Claim
from app.enums import OutletKind, Precision, Stance
from app.ledger import CURRENT
from app.outlets.models import Outlet
from app.portable import not_indexed
from app.sightings import rules
from app.sightings.models import Citation, Sighting


@dataclass(frozen=True, slots=True)
class OutletRef:
    id: str
    slug: str
    name: str
    kind: OutletKind
    country: str | None
    language: str | None


# Plain (not frozen) slotted classes: a frozen dataclass costs several times as much to build,
# which shows at 100,000 nodes and twice as many citations.
@dataclass(slots=True)
class Node:
    id: str
    outlet_id: str
    outlet: OutletRef
    published_at: datetime
    published_at_precision: Precision
    stance: Stance
    url: str
    archive_url: str | None
    language: str | None


@dataclass(slots=True)
class Step:
    """The claim went from `from_` (the cited sighting) to `to` (the one citing it)."""

    from_: str
    to: str
    basis: str


# A chain longer than a picture can show in buckets of the shortest width is drawn in wider ones.
BUCKETS = [
    ("hour", timedelta(hours=1)),
    ("day", timedelta(days=1)),
    ("week", timedelta(weeks=1)),
    ("30 days", timedelta(days=30)),
    ("year", timedelta(days=365)),
]
MAX_BUCKETS = 80
# The lane of every outlet not drawn on its own.
OTHERS = "*others"
# The time axis runs this much past the first and the last sighting, on each side.
AXIS_MARGIN = 0.03


def bucket_for(start: datetime, end: datetime) -> tuple[str, timedelta]:
    """The narrowest bucket that divides the axis of this stretch into at most MAX_BUCKETS."""
    length = (end - start) * (1 + 2 * AXIS_MARGIN)
    for name, width in BUCKETS:
        if length / width <= MAX_BUCKETS:
            return name, width
    return BUCKETS[-1]


@dataclass
class Aggregate:
    """A chain too large to draw sighting by sighting, as counts the database made of it."""

    outlets: dict[str, OutletRef]  # every outlet that carried it, by slug
    counts: dict[str, int]  # sightings per outlet
    first_at: dict[str, datetime]  # each outlet's first sighting
    start: datetime  # the first sighting's time, where bucket 0 starts
    end: datetime
    bucket: str
    width: timedelta
    # Sightings per outlet and bucket number (read aggregated: the quieter outlets together,
    # under OTHERS).
    cells: dict[tuple[str, int], int]
    # Citations from one outlet's sightings to another's (read aggregated: among the busiest).
    flows: dict[tuple[str, str], int]


@dataclass
class Outline:
    claim: Claim
    nodes: list[Node]
    edges: list[Step]
    path: list[str]
    metrics: Metrics
    first_denial: Node | None = None
    cites: dict[str, int] = field(default_factory=dict)
    # Set for a chain drawn from counts: `nodes` then holds only the first sightings, the main
    # path and the first denial, and `edges` nothing.
    aggregate: Aggregate | None = None


def _as_sightings(nodes: Sequence[Node]) -> Sequence[Sighting]:
    # The denial rules read only fields a Node has under the same names.
    return cast(Sequence[Sighting], nodes)


async def _nodes(
    session: AsyncSession, claim_id: str, *, limit: int | None = None, ids: list[str] | None = None
) -> list[Node]:
    """The claim's sightings in time order: all of them, the first `limit`, or these `ids`."""
    outlets: dict[str, OutletRef] = {}
    # Core rows straight from the connection: no ORM identity map for 100,000 plain tuples.
    connection = await session.connection()
    rows = await connection.execute(
        select(
            Sighting.id,
            Sighting.outlet_id,
            Sighting.published_at,
            Sighting.published_at_precision,
            Sighting.stance,
            Sighting.url,
            Sighting.archive_url,
            Sighting.language,
            Outlet.slug,
            Outlet.name,
            Outlet.kind,
            Outlet.country,
            Outlet.language,
        )
        .join(Outlet, Outlet.id == Sighting.outlet_id)
        .where(Sighting.claim_id == claim_id, *([Sighting.id.in_(ids)] if ids is not None else []))
        # The denial rules' own order (`rules.in_time_order`), so no sort is needed here.
        .order_by(Sighting.published_at, Sighting.recorded_at, Sighting.id)
        .limit(limit)
    )
    nodes = []
    for (
        sighting_id,
        outlet_id,
        published_at,
        precision,
        stance,
        url,
        archive_url,
        language,
        *outlet_fields,
    ) in rows:
        outlet = outlets.get(outlet_id)
        if outlet is None:
            slug, name, kind, country, outlet_language = outlet_fields
            outlet = OutletRef(outlet_id, slug, name, kind, country, outlet_language)
            outlets[outlet_id] = outlet
        nodes.append(
            Node(
                sighting_id,
                outlet_id,
                outlet,
                published_at,
                precision,
                stance,
                url,
                archive_url,
                language,
            )
        )
    return nodes


async def _steps(session: AsyncSession, claim_id: str, node_ids: set[str]) -> list[Step]:
    # Joined from the claim's sightings (index on claim_id, then the citations' key), and kept
    # within the chain here: SQLite plans two IN-subqueries as a scan per citing row.
    connection = await session.connection()
    rows = await connection.execute(
        select(Citation.cited_id, Citation.citing_id, Citation.basis)
        .join(Sighting, Sighting.id == Citation.citing_id)
        .where(Sighting.claim_id == claim_id)
    )
    return [Step(cited, citing, basis) for cited, citing, basis in rows if cited in node_ids]


async def outline(
    *,
    session: AsyncSession,
    claim: Claim,
    whole_up_to: int | None = None,
    shown: int = 200,
    busiest: int = 150,
    lanes: int = 40,
) -> Outline:
    """The claim's sightings, citations, main path and metrics, as a picture needs them.

    Past `whole_up_to` sightings, the outline is aggregated (`Aggregate`): the database counts
    them by outlet, by time bucket (for the `lanes` busiest outlets and the main path's, the
    rest together) and by outlet-to-outlet flow (among the `busiest` outlets), and only the
    first `shown` sightings, the main path and the first denial are read one by one.
    """
    if whole_up_to is not None and claim.sightings_count > whole_up_to:
        return await _aggregated(session, claim, shown, busiest, lanes)
    nodes = await _nodes(session, claim.id)
    steps = await _steps(session, claim.id, {n.id for n in nodes})
    position = {n.id: i for i, n in enumerate(nodes)}
    cited_something = {s.to for s in steps}
    cites: dict[str, int] = {}
    for step in steps:
        cites[step.to] = cites.get(step.to, 0) + 1
    origins = [n.id for n in nodes if n.id not in cited_something]
    as_sightings = _as_sightings(nodes)
    # Nodes come in the rules' time order, so the first official denial is the first one met.
    denial = next((n for n in nodes if rules.is_official_denial(cast(Sighting, n))), None)
    cited_by_citing: dict[str, list[str]] = {}
    for step in steps:
        cited_by_citing.setdefault(step.to, []).append(step.from_)
    path = main_path(
        position,
        lambda node: cited_by_citing.get(node, ()),
        origins,
        denial.id if denial else None,
        order=position.__getitem__,
    )
    first_seen = rules.earliest(as_sightings)
    denial_at = denial.published_at if denial else None
    metrics = Metrics(
        sightings=len(nodes),
        outlets=len({n.outlet_id for n in nodes}),
        countries=len({n.outlet.country for n in nodes if n.outlet.country}),
        languages=len({lang for n in nodes if (lang := n.language or n.outlet.language)}),
        first_seen_at=first_seen,
        first_denial_at=denial_at,
        denial_lag_seconds=rules.lag_seconds(first_seen, denial_at),
        sightings_after_denial=rules.spread_after(as_sightings, denial_at) if denial_at else 0,
    )
    return Outline(claim, nodes, steps, path, metrics, denial, cites)


def aggregate_of(chain: Outline) -> Aggregate:
    """The counts a whole outline would be drawn from if it were too large to draw one by
    one: the same as the database makes for a chain read aggregated."""
    if chain.aggregate is not None:
        return chain.aggregate
    outlets: dict[str, OutletRef] = {}
    counts: dict[str, int] = {}
    first_at: dict[str, datetime] = {}
    slug_of: dict[str, str] = {}
    for node in chain.nodes:
        slug = node.outlet.slug
        outlets.setdefault(slug, node.outlet)
        counts[slug] = counts.get(slug, 0) + 1
        first_at.setdefault(slug, node.published_at)
        slug_of[node.id] = slug
    start = min(n.published_at for n in chain.nodes)
    end = max(n.published_at for n in chain.nodes)
    bucket, width = bucket_for(start, end)
    cells: dict[tuple[str, int], int] = {}
    for node in chain.nodes:
        key = (node.outlet.slug, int((node.published_at - start) / width))
        cells[key] = cells.get(key, 0) + 1
    flows: dict[tuple[str, str], int] = {}
    for edge in chain.edges:
        pair = (slug_of[edge.from_], slug_of[edge.to])
        flows[pair] = flows.get(pair, 0) + 1
    return Aggregate(outlets, counts, first_at, start, end, bucket, width, cells, flows)


def _bucket_number(
    session: AsyncSession, moment: Any, start: datetime, width: timedelta
) -> ColumnElement[int]:
    """Which bucket of `width` from `start` a time falls in, computed by the database."""
    if session.get_bind().dialect.name == "postgresql":
        seconds = func.extract("epoch", moment) - start.timestamp()
        return cast_(func.floor(seconds / width.total_seconds()), Integer)
    # SQLite keeps UTC times as text, which julianday reads; 2440587.5 is 1970-01-01.
    seconds = (func.julianday(moment) - 2440587.5) * 86400.0 - start.timestamp()
    return cast_(seconds / width.total_seconds(), Integer)


async def _cells(
    session: AsyncSession,
    claim_id: str,
    start: datetime,
    width: timedelta,
    lanes: int,
    kept: list[str],
    slugs: dict[str, str],
) -> dict[tuple[str, int], int]:
    """Sightings per bucket for each of the `lanes` busiest outlets and the `kept` ones (by
    id), and for all the others together under OTHERS: what a picture of lanes can show."""
    # In the order the picture picks its lanes: most sightings first, then by slug.
    busiest = outlet_figures.busiest_outlets(claim_id, lanes, ties_by_slug=True)
    shown = or_(Sighting.outlet_id.in_(busiest), Sighting.outlet_id.in_(kept))
    lane = case((shown, Sighting.outlet_id), else_=literal(OTHERS)).label("lane")
    number = _bucket_number(session, Sighting.published_at, start, width).label("number")
    rows = await session.execute(
        select(lane, number, func.count())
        .where(Sighting.claim_id == claim_id)
        .group_by(lane, number)
    )
    return {(slugs.get(key, OTHERS), max(int(n), 0)): count for key, n, count in rows}


async def _cites_counts(session: AsyncSession, claim_id: str, ids: list[str]) -> dict[str, int]:
    """How many sightings of the claim each of these cites."""
    cited = aliased(Sighting)
    rows = await session.execute(
        select(Citation.citing_id, func.count())
        .join(cited, cited.id == Citation.cited_id)
        .where(Citation.citing_id.in_(ids), not_indexed(cited.claim_id) == claim_id)
        .group_by(Citation.citing_id)
    )
    return {citing_id: count for citing_id, count in rows}


async def _aggregated(
    session: AsyncSession, claim: Claim, shown: int, busiest: int, lanes: int
) -> Outline:
    members = chain_members(claim_id=claim.id)
    carried = await outlet_figures.carried_by(session, CURRENT, members, counted_for=claim.id)
    denial = await denial_path.first_denial(session, CURRENT, members)
    metrics = await denial_path.metrics(session, CURRENT, members, carried, denial, projected=claim)
    path, _ = await denial_path.main_path_of(session, CURRENT, members, denial)
    flows = await outlet_figures.flows(
        session, CURRENT, members, busiest=busiest, counted_for=claim.id
    )
    outlets = {
        row.slug: OutletRef(row.id, row.slug, row.name, row.kind, row.country, row.language)
        for row in await session.scalars(
            select(Outlet).where(Outlet.slug.in_([o.slug for o in carried.shown]))
        )
    }
    start = min(o.first_at for o in carried.shown)
    end = max(o.last_at for o in carried.shown)
    bucket, width = bucket_for(start, end)
    nodes = await _nodes(session, claim.id, limit=shown)
    wanted = [*path, *([denial[0]] if denial else [])]
    missing = sorted(set(wanted) - {n.id for n in nodes})
    if missing:
        nodes += await _nodes(session, claim.id, ids=missing)
        nodes.sort(key=lambda n: (n.published_at, n.id))
    first_denial = next((n for n in nodes if denial and n.id == denial[0]), None)
    on_path = set(path)
    aggregate = Aggregate(
        outlets=outlets,
        counts={o.slug: o.sightings for o in carried.shown},
        first_at={o.slug: o.first_at for o in carried.shown},
        start=start,
        end=end,
        bucket=bucket,
        width=width,
        cells=await _cells(
            session,
            claim.id,
            start,
            width,
            lanes,
            # The outlets of the main path keep lanes of their own, however quiet.
            sorted({n.outlet_id for n in nodes if n.id in on_path})[:lanes],
            {outlet.id: slug for slug, outlet in outlets.items()},
        ),
        flows={(f.from_outlet, f.to_outlet): f.citations for f in flows},
    )
    cites = await _cites_counts(session, claim.id, [n.id for n in nodes])
    return Outline(claim, nodes, [], path, metrics, first_denial, cites, aggregate)
