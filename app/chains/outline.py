"""A chain's outline: what a picture of the chain needs, read as plain rows.

The chain document builds a full sighting, with its outlet, for every node: right for the API,
but seconds of work at 100,000 sightings. A page drawing the chain needs a handful of fields per
node, so this reads just those, in three queries, and derives the main path and the metrics
with the same functions as the chain document, so the two never disagree.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.chains.paths import main_path
from app.chains.schemas import Metrics
from app.claims.models import Claim
from app.denials import rules
from app.enums import OutletKind, Precision, Stance
from app.outlets.models import Outlet
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


@dataclass
class Outline:
    claim: Claim
    nodes: list[Node]
    edges: list[Step]
    path: list[str]
    metrics: Metrics
    first_denial: Node | None = None
    cites: dict[str, int] = field(default_factory=dict)


def _as_sightings(nodes: Sequence[Node]) -> Sequence[Sighting]:
    # The denial rules read only fields a Node has under the same names.
    return cast(Sequence[Sighting], nodes)


async def _nodes(session: AsyncSession, claim_id: str) -> list[Node]:
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
        .where(Sighting.claim_id == claim_id)
        # The denial rules' own order (`rules.in_time_order`), so no sort is needed here.
        .order_by(Sighting.published_at, Sighting.recorded_at, Sighting.id)
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


async def outline(*, session: AsyncSession, claim: Claim) -> Outline:
    """The claim's sightings, citations, main path and metrics, as a picture needs them."""
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
