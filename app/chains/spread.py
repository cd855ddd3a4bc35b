"""A chain summarised for dashboards: per outlet, per outlet-to-outlet flow, per time bucket.

Everything but the main path is aggregated by the database, so the answer and the work are
sized by outlets and time buckets. The main path walks only what leads to the first denial
(or, without one, what the earliest origin reached), never reading whole sightings.
"""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.chains import service
from app.chains.assembly import GraphReader
from app.chains.schemas import Bucket, Flow, Hop, Metrics, Spread, SpreadOutlet
from app.chains.service import Direction, Members
from app.claims.models import Claim
from app.claims.schemas import Claim as ClaimOut
from app.db import Unindexed, not_indexed
from app.denials.rules import SPREADING, lag_seconds
from app.enums import OutletKind, Stance
from app.errors import Invalid
from app.ledger import CURRENT, LedgerView
from app.streaming import time_order


class BucketSize(StrEnum):
    hour = "hour"
    day = "day"
    week = "week"


WIDTH = {
    BucketSize.hour: timedelta(hours=1),
    BucketSize.day: timedelta(days=1),
    BucketSize.week: timedelta(weeks=1),
}
# A timeline longer than this is a request for a coarser bucket, not for a bigger answer.
MAX_BUCKETS = 10_000
# SQLite keeps timestamps as naive UTC text; these cut it down to the bucket's start.
SQLITE_BUCKETS = {
    BucketSize.hour: ("%Y-%m-%d %H:00:00",),
    BucketSize.day: ("%Y-%m-%d 00:00:00",),
    # Forward to Sunday (or stay on it), then back six days: the Monday starting an ISO week.
    BucketSize.week: ("%Y-%m-%d 00:00:00", "weekday 0", "-6 days"),
}


def _bucket_start(session: AsyncSession, moment: Any, bucket: BucketSize) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "postgresql":
        # Truncated in UTC, not in the session's time zone.
        return func.date_trunc(bucket.value, func.timezone("UTC", moment))
    pattern, *modifiers = SQLITE_BUCKETS[bucket]
    return func.strftime(pattern, moment, *modifiers)


def _utc(value: datetime | str) -> datetime:
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass
class Carried:
    """The outlets that carried the chain, and what the metrics need of them."""

    shown: list[SpreadOutlet]
    languages: set[str]


async def carried_by(session: AsyncSession, view: LedgerView, members: Members) -> Carried:
    """Per outlet its sightings and their first and last times, in one pass that also collects
    the languages, so the metrics need no pass of their own over the chain."""
    sightings, outlets = view.sightings, view.outlets
    statement = (
        select(
            outlets.id,
            outlets.slug,
            outlets.kind,
            outlets.country,
            func.coalesce(sightings.language, outlets.language),
            func.count(),
            func.min(sightings.published_at),
            func.max(sightings.published_at),
        )
        .join(outlets, outlets.id == sightings.outlet_id)
        .where(members(sightings))
        .group_by(
            outlets.id,
            outlets.slug,
            outlets.kind,
            outlets.country,
            func.coalesce(sightings.language, outlets.language),
        )
    )
    by_outlet: dict[str, dict[str, Any]] = {}
    languages: set[str] = set()
    for outlet_id, slug, kind, country, language, count, first, last in await session.execute(
        statement
    ):
        if language:
            languages.add(language)
        seen = by_outlet.get(outlet_id)
        if seen is None:
            by_outlet[outlet_id] = {
                "slug": slug,
                "kind": kind,
                "country": country,
                "sightings": count,
                "first_at": _utc(first),
                "last_at": _utc(last),
            }
            continue
        seen["sightings"] += count
        seen["first_at"] = min(seen["first_at"], _utc(first))
        seen["last_at"] = max(seen["last_at"], _utc(last))
    ordered = sorted(by_outlet.values(), key=lambda o: (o["first_at"], o["slug"]))
    return Carried([SpreadOutlet.model_validate(o) for o in ordered], languages)


async def flows(
    session: AsyncSession, view: LedgerView, members: Members, *, busiest: int | None = None
) -> list[Flow]:
    """Citations between outlets of the chain; with `busiest`, only between that many of its
    busiest outlets (by sightings): a chain carried by thousands of outlets has millions of
    possible pairs, and a picture of it draws the busiest outlets alone."""
    citations = view.citations
    cited, citing = aliased(view.sightings), aliased(view.sightings)
    source, target = aliased(view.outlets), aliased(view.outlets)
    among: list[ColumnElement[bool]] = []
    if busiest is not None:
        sightings = view.sightings
        top = (
            select(sightings.outlet_id)
            .where(members(sightings))
            .group_by(sightings.outlet_id)
            .order_by(func.count().desc(), sightings.outlet_id)
            .limit(busiest)
        )
        among = [citing.outlet_id.in_(top), not_indexed(cited.outlet_id).in_(top)]
    # Grouped by the outlets' ids, the slugs joined to the few groups afterwards.
    pairs = (
        select(
            cited.outlet_id.label("source_id"),
            citing.outlet_id.label("target_id"),
            func.count().label("citations"),
            func.min(citing.published_at).label("first_at"),
        )
        .select_from(citations)
        .join(citing, citing.id == citations.citing_id)
        .join(cited, cited.id == citations.cited_id)
        .where(members(citing), members(Unindexed(cited)), *among)
        .group_by(cited.outlet_id, citing.outlet_id)
        .subquery()
    )
    statement = (
        select(
            source.slug.label("from_outlet"),
            target.slug.label("to_outlet"),
            pairs.c.citations,
            pairs.c.first_at,
        )
        .join(source, source.id == pairs.c.source_id)
        .join(target, target.id == pairs.c.target_id)
        .order_by(pairs.c.first_at, source.slug, target.slug)
    )
    # Outlets squared can be many (300 outlets make up to 90,000 flows): rows the database
    # typed are taken as they are rather than validated one by one.
    return [
        Flow.model_construct(from_outlet=source, to_outlet=to, citations=count, first_at=first)
        for source, to, count, first in await session.execute(statement)
    ]


async def _timeline(
    session: AsyncSession,
    view: LedgerView,
    members: Members,
    bucket: BucketSize,
    span: tuple[datetime, datetime] | None,
) -> list[Bucket]:
    if span is None:
        return []
    if (span[1] - span[0]) / WIDTH[bucket] > MAX_BUCKETS:
        raise Invalid(
            f"this chain spans more than {MAX_BUCKETS:,} buckets of one {bucket.value}; "
            "ask for a longer bucket",
            loc=["bucket"],
            source="query",
        )
    sightings, outlets = view.sightings, view.outlets
    start = _bucket_start(session, sightings.published_at, bucket).label("start")
    statement = (
        select(start, outlets.kind, sightings.stance, func.count())
        .join(outlets, outlets.id == sightings.outlet_id)
        .where(members(sightings))
        .group_by(start, outlets.kind, sightings.stance)
        .order_by(start)
    )
    buckets: dict[datetime, dict[str, Any]] = {}
    for moment, kind, stance, count in await session.execute(statement):
        shown = buckets.setdefault(_utc(moment), {"sightings": 0, "by_kind": {}, "by_stance": {}})
        shown["sightings"] += count
        shown["by_kind"][kind] = shown["by_kind"].get(kind, 0) + count
        shown["by_stance"][stance] = shown["by_stance"].get(stance, 0) + count
    return [Bucket(start=at, **shown) for at, shown in buckets.items()]


def _cites_a_member(view: LedgerView, members: Members) -> ColumnElement[bool]:
    """Whether the view's sighting cites some member of the chain."""
    citations, cited = view.citations, aliased(view.sightings)
    return exists(
        select(citations.citing_id)
        .join(cited, cited.id == citations.cited_id)
        .where(citations.citing_id == view.sightings.id, members(cited))
    )


def _is_first_denial(view: LedgerView) -> ColumnElement[bool]:
    return and_(view.outlets.kind == OutletKind.official, view.sightings.stance == Stance.denies)


async def first_denial(
    session: AsyncSession, view: LedgerView, members: Members
) -> tuple[str, datetime, bool] | None:
    """The first official denial: its id, time, and whether anything in the chain reaches it."""
    sightings = view.sightings
    statement = (
        select(sightings.id, sightings.published_at, _cites_a_member(view, members))
        .join(view.outlets, view.outlets.id == sightings.outlet_id)
        .where(members(sightings), _is_first_denial(view))
        .order_by(*time_order(session, sightings))
        .limit(1)
    )
    row = (await session.execute(statement)).first()
    return (row[0], row[1], bool(row[2])) if row else None


async def _earliest_origin(session: AsyncSession, view: LedgerView, members: Members) -> str | None:
    sightings = view.sightings
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
) -> Metrics:
    sightings = view.sightings
    outlets = carried.shown
    first_seen = min((o.first_at for o in outlets), default=None)
    denial_at = denial[1] if denial else None
    after = 0
    if denial_at is not None:
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


async def main_path_of(
    session: AsyncSession,
    view: LedgerView,
    members: Members,
    denial: tuple[str, datetime, bool] | None,
) -> tuple[list[str], list[Hop]]:
    """The chain's main path and its hops, reading only the sightings on the walks to it."""
    # The main path is the chain's: from what reaches the first denial, or else from the
    # earliest origin; only the sightings on those walks are read, and only their outlines.
    towards_denial = denial is not None and denial[2]
    start = denial[0] if denial is not None and towards_denial else None
    direction = Direction.upstream
    if start is None:
        start, direction = await _earliest_origin(session, view, members), Direction.downstream
    if start is not None:
        walked = service.trace_members(
            view=view, sighting_id=start, direction=direction, within=members
        )
        reader = GraphReader(
            session=session,
            members=lambda entity: and_(members(entity), walked(entity)),
            view=view,
            outline_only=True,
        )
        await reader.load(
            trace_from=start, direction=direction, max_depth=None, cited_members=members
        )
        await reader.read_outline()
        summary = reader.summary(towards_denial=towards_denial)
        return summary.path, summary.hops
    return [], []


async def spread(
    *,
    session: AsyncSession,
    claim: Claim,
    bucket: BucketSize,
    include_variants: bool = False,
    view: LedgerView = CURRENT,
) -> Spread:
    """The claim's chain by outlet, flow and time bucket, with its main path and metrics."""
    members = service.chain_members(view=view, claim_id=claim.id, include_variants=include_variants)
    carried = await carried_by(session, view, members)
    outlets = carried.shown
    span = (min(o.first_at for o in outlets), max(o.last_at for o in outlets)) if outlets else None
    timeline = await _timeline(session, view, members, bucket, span)
    denial = await first_denial(session, view, members)
    figures = await metrics(session, view, members, carried, denial)
    path, hops = await main_path_of(session, view, members, denial)
    return Spread(
        claim=ClaimOut.model_validate(claim),
        outlets=outlets,
        flows=await flows(session, view, members),
        timeline=timeline,
        path=path,
        hops=hops,
        metrics=figures,
    )
