"""An outlet's record across claims, and the outlet network, read from the outlet flows."""

import math
import statistics
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, distinct, func, literal, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.claims.models import Claim
from app.enums import Stance
from app.network.filters import Selection
from app.network.models import OutletDay, OutletFlow, OutletLink, OutletTotal
from app.network.schemas import AfterDenial, Counterpart, Lag, Month, Record
from app.outlets.models import Outlet
from app.outlets.schemas import Outlet as OutletOut
from app.sightings.models import Citation, Sighting
from app.streaming import raw

# An outlet's own word against a claim: what it counts as `denials`.
OWN_DENIALS = (Stance.denies, Stance.debunks, Stance.retracts)
# The contract's cap on whom an outlet took from and gave to.
COUNTERPARTS = 20


def _as_utc(value: datetime) -> datetime:
    # SQLite hands back aggregated times as naive UTC.
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _days(outlet_id: str, selection: Selection) -> Any:
    return (
        OutletDay.outlet_id == outlet_id,
        selection.days(OutletDay.day),
        selection.claims(OutletDay.claim_id),
    )


async def _counterparts(
    session: AsyncSession, outlet_id: str, selection: Selection, *, took: bool
) -> list[Counterpart]:
    own, other = (
        (OutletFlow.target_outlet_id, OutletFlow.source_outlet_id)
        if took
        else (OutletFlow.source_outlet_id, OutletFlow.target_outlet_id)
    )
    flows = (
        select(
            other.label("outlet_id"),
            func.sum(OutletFlow.citations).label("citations"),
            func.count(distinct(OutletFlow.claim_id)).label("claims"),
        )
        .where(
            own == outlet_id,
            selection.days(OutletFlow.day),
            selection.claims(OutletFlow.claim_id),
        )
        .group_by(other)
        .subquery()
    )
    # Each counterpart's slug is looked up by its key: a join could read every outlet of the
    # ledger to name the few this one dealt with.
    slug = select(Outlet.slug).where(Outlet.id == flows.c.outlet_id).scalar_subquery()
    rows = await session.execute(
        select(slug.label("slug"), flows.c.citations, flows.c.claims)
        .order_by(flows.c.citations.desc(), flows.c.claims.desc(), slug)
        .limit(COUNTERPARTS)
    )
    return [Counterpart(outlet=slug, citations=c, claims=n) for slug, c, n in rows]


def _percentile(ordered: list[float], share: float) -> float:
    """Nearest rank: the smallest lag at least `share` of the lags do not exceed."""
    return ordered[max(math.ceil(share * len(ordered)) - 1, 0)]


async def _lags(session: AsyncSession, outlet_id: str, selection: Selection) -> Lag | None:
    """From each sighting the outlet's sightings cite to the citing sighting, read from the
    outlet's own citations: bounded by what the outlet carried, not by the ledger."""
    citing, cited = aliased(Sighting), aliased(Sighting)
    rows = await session.execute(
        select(citing.published_at, cited.published_at)
        .select_from(citing)
        .join(Citation, Citation.citing_id == citing.id)
        .join(cited, cited.id == Citation.cited_id)
        .where(
            citing.outlet_id == outlet_id,
            selection.published(citing.published_at),
            selection.claims(citing.claim_id),
        )
    )
    lags = sorted((_as_utc(end) - _as_utc(start)).total_seconds() for end, start in rows.all())
    if not lags:
        return None
    return Lag(median=statistics.median(lags), p90=_percentile(lags, 0.9))


def _month(day: datetime) -> datetime:
    return _as_utc(day).replace(day=1, hour=0, minute=0, second=0, microsecond=0)


async def record(*, session: AsyncSession, outlet: Any, selection: Selection) -> Record:
    """What the outlet carried across the selected claims and days, and with whom."""
    # The outlet's rows are read once and added up here: three sums in the database would
    # each visit the same scattered rows again.
    rows = await session.execute(
        select(
            OutletDay.claim_id,
            OutletDay.day,
            raw(OutletDay.stance, "stance"),
            OutletDay.sightings,
            OutletDay.carried_first,
            OutletDay.after_denial,
        ).where(*_days(outlet.id, selection))
    )
    by_stance: dict[str, int] = {}
    sightings = first = after = 0
    claims: set[str] = set()
    claims_after: set[str] = set()
    months: dict[datetime, Month] = {}
    for claim_id, day, stance, count, carried_first, after_denial in rows:
        by_stance[stance] = by_stance.get(stance, 0) + count
        sightings, first, after = sightings + count, first + carried_first, after + after_denial
        claims.add(claim_id)
        if after_denial > 0:
            claims_after.add(claim_id)
        start = _month(day)
        month = months.setdefault(start, Month(start=start, sightings=0, after_denial=0))
        month.sightings += count
        month.after_denial += after_denial
    return Record(
        outlet=OutletOut.model_validate(outlet),
        claims=len(claims),
        sightings=sightings,
        first_to_carry=first,
        after_denial=AfterDenial(sightings=after, claims=len(claims_after)),
        denials=sum(by_stance.get(stance, 0) for stance in OWN_DENIALS),
        by_stance=dict(sorted(by_stance.items())),
        lag_seconds=await _lags(session, outlet.id, selection),
        took_from=await _counterparts(session, outlet.id, selection, took=True),
        gave_to=await _counterparts(session, outlet.id, selection, took=False),
        timeline=[months[start] for start in sorted(months)],
    )


def _node_figures(selection: Selection) -> Any:
    if selection.everything:
        return select(OutletTotal).where(OutletTotal.sightings > 0).subquery()
    return (
        select(
            OutletDay.outlet_id,
            func.count(distinct(OutletDay.claim_id)).label("claims"),
            func.sum(OutletDay.sightings).label("sightings"),
            func.sum(OutletDay.carried_first).label("first_to_carry"),
            func.sum(OutletDay.after_denial).label("after_denial"),
        )
        .where(selection.days(OutletDay.day), selection.claims(OutletDay.claim_id))
        .group_by(OutletDay.outlet_id)
        .subquery()
    )


def node_statement(selection: Selection) -> Select[Any]:
    """One row per outlet that carried a selected claim on a selected day, most claims first."""
    figures = _node_figures(selection)
    statement = (
        select(
            Outlet.id.label("id"),
            Outlet.slug.label("slug"),
            Outlet.name.label("name"),
            raw(Outlet.kind, "kind"),
            Outlet.country.label("country"),
            figures.c.claims,
            figures.c.sightings,
            figures.c.first_to_carry,
            figures.c.after_denial,
        )
        .join(figures, figures.c.outlet_id == Outlet.id)
        .order_by(figures.c.claims.desc(), Outlet.slug)
    )
    if selection.kinds:
        statement = statement.where(Outlet.kind.in_(selection.kinds))
    return statement


def _edge_figures(selection: Selection, min_citations: int) -> Any:
    citations = func.sum(OutletFlow.citations)
    return (
        select(
            OutletFlow.source_outlet_id,
            OutletFlow.target_outlet_id,
            citations.label("citations"),
            func.count(distinct(OutletFlow.claim_id)).label("claims"),
            func.min(OutletFlow.first_at).label("first_at"),
            func.max(OutletFlow.last_at).label("last_at"),
        )
        .where(selection.days(OutletFlow.day), selection.claims(OutletFlow.claim_id))
        .group_by(OutletFlow.source_outlet_id, OutletFlow.target_outlet_id)
        .having(citations >= literal(min_citations))
        .subquery()
    )


def _whole_network_edges(selection: Selection, min_citations: int) -> Select[Any]:
    """Every claim's edges as the links keep them, in their index's order (app.network.models)."""
    columns: list[Any] = [
        OutletLink.source_slug.label("from_outlet"),
        OutletLink.target_slug.label("to_outlet"),
        OutletLink.citations,
        OutletLink.claims,
        OutletLink.first_at,
        OutletLink.last_at,
    ]
    statement = (
        select(*columns)
        .where(OutletLink.citations >= min_citations)
        .order_by(OutletLink.citations.desc(), OutletLink.source_slug, OutletLink.target_slug)
    )
    if selection.kinds:
        kinds = select(Outlet.id).where(Outlet.kind.in_(selection.kinds))
        statement = statement.where(
            OutletLink.source_outlet_id.in_(kinds), OutletLink.target_outlet_id.in_(kinds)
        )
    return statement


def edge_statement(selection: Selection, min_citations: int = 1) -> Select[Any]:
    """One row per pair of outlets a selected claim went between, most citations first:
    from_outlet, to_outlet, citations, claims, first_at and last_at, in that order
    (app.network.exports reads them by position)."""
    if selection.everything:
        return _whole_network_edges(selection, min_citations)
    flows = _edge_figures(selection, min_citations)
    source, target = aliased(Outlet), aliased(Outlet)
    statement = (
        select(
            source.slug.label("from_outlet"),
            target.slug.label("to_outlet"),
            flows.c.citations,
            flows.c.claims,
            flows.c.first_at,
            flows.c.last_at,
        )
        .join(source, source.id == flows.c.source_outlet_id)
        .join(target, target.id == flows.c.target_outlet_id)
        .order_by(flows.c.citations.desc(), source.slug, target.slug)
    )
    if selection.kinds:
        statement = statement.where(
            source.kind.in_(selection.kinds), target.kind.in_(selection.kinds)
        )
    return statement


async def repeated_after_denial(
    *, session: AsyncSession, outlet_id: str, limit: int
) -> list[tuple[str, str, int]]:
    """The claims the outlet went on asserting or reporting after their first official denial:
    (claim id, statement, how many such sightings), most first."""
    repeated = func.sum(OutletDay.after_denial)
    rows = await session.execute(
        select(Claim.id, Claim.statement, repeated)
        .join(Claim, Claim.id == OutletDay.claim_id)
        .where(OutletDay.outlet_id == outlet_id, OutletDay.after_denial > 0)
        .group_by(Claim.id, Claim.statement)
        .order_by(repeated.desc(), Claim.id)
        .limit(limit)
    )
    return [(claim_id, statement, count) for claim_id, statement, count in rows]
