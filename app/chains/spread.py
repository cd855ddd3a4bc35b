"""A chain summarised for dashboards: per outlet, per outlet-to-outlet flow, per time bucket.

Everything but the main path is aggregated by the database, so the answer and the work are
sized by outlets and time buckets. The main path walks only what leads to the first denial
(or, without one, what the earliest origin reached), never reading whole sightings.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from itertools import pairwise
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Text,
    and_,
    case,
    exists,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.chains import service
from app.chains.paths import main_path
from app.chains.schemas import Bucket, Flow, Hop, Metrics, SpreadOutlet
from app.chains.service import Direction, Members
from app.claims.chain_counts import NO_LANGUAGE
from app.claims.models import Claim, ClaimFlow, ClaimHour, ClaimOutlet
from app.claims.schemas import Claim as ClaimOut
from app.db import Unindexed
from app.enums import OutletKind, Stance
from app.errors import Invalid
from app.ledger import CURRENT, LedgerView
from app.outlets.models import Outlet
from app.sightings.models import Citation, Sighting
from app.sightings.rules import SPREADING, lag_seconds
from app.streaming import CHUNK_ROWS, encode, json_items, stream_dicts, stream_rows, time_order


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


async def carried_by(
    session: AsyncSession, view: LedgerView, members: Members, *, counted_for: str | None = None
) -> Carried:
    """Per outlet its sightings and their first and last times, in one pass that also collects
    the languages, so the metrics need no pass of their own over the chain. `counted_for`: as
    for `flows`."""
    sightings, outlets = view[Sighting], view[Outlet]
    if counted_for is not None:
        counted = (
            select(
                ClaimOutlet.outlet_id.label("outlet_id"),
                func.nullif(ClaimOutlet.language, NO_LANGUAGE).label("language"),
                ClaimOutlet.sightings.label("sightings"),
                ClaimOutlet.first_at.label("first_at"),
                ClaimOutlet.last_at.label("last_at"),
            )
            .where(ClaimOutlet.claim_id == counted_for)
            .subquery()
        )
    else:
        # Counted by the sightings' own columns first: a few groups per outlet, which both
        # engines count in one pass, before the outlets are joined to those few.
        counted = (
            select(
                sightings.outlet_id.label("outlet_id"),
                sightings.language.label("language"),
                func.count().label("sightings"),
                func.min(sightings.published_at).label("first_at"),
                func.max(sightings.published_at).label("last_at"),
            )
            .where(members(sightings))
            .group_by(sightings.outlet_id, sightings.language)
            .subquery()
        )
    statement = select(
        outlets.id,
        outlets.slug,
        outlets.kind,
        outlets.country,
        func.coalesce(counted.c.language, outlets.language),
        counted.c.sightings,
        counted.c.first_at,
        counted.c.last_at,
    ).join(outlets, outlets.id == counted.c.outlet_id)
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


def busiest_outlets(claim_id: str, limit: int, *, ties_by_slug: bool = False) -> Select[Any]:
    """The ids of the claim's `limit` outlets with the most sightings, as recording counted
    them (ties by id, or by slug), read from a row per outlet rather than every sighting."""
    statement = select(ClaimOutlet.outlet_id).where(ClaimOutlet.claim_id == claim_id)
    if ties_by_slug:
        statement = statement.join(Outlet, Outlet.id == ClaimOutlet.outlet_id)
    tie = Outlet.slug if ties_by_slug else ClaimOutlet.outlet_id
    return (
        statement.group_by(ClaimOutlet.outlet_id, tie)
        .order_by(func.sum(ClaimOutlet.sightings).desc(), tie)
        .limit(limit)
    )


def _flows_statement(
    view: LedgerView,
    members: Members,
    *,
    busiest: int | None = None,
    counted_for: str | None = None,
) -> Select[Any]:
    """Citations between outlets of the chain, as (from_outlet, to_outlet, citations,
    first_at) rows in the order of their first citation; see `flows`."""
    if counted_for is not None:
        pairs = (
            select(
                ClaimFlow.source_outlet_id.label("source_id"),
                ClaimFlow.target_outlet_id.label("target_id"),
                ClaimFlow.citations.label("citations"),
                ClaimFlow.first_at.label("first_at"),
            )
            .where(ClaimFlow.claim_id == counted_for)
            .subquery()
        )
    else:
        citations = view[Citation]
        cited, citing = aliased(view[Sighting]), aliased(view[Sighting])
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
            .where(members(citing), members(Unindexed(cited)))
            .group_by(cited.outlet_id, citing.outlet_id)
            .subquery()
        )
    among: list[ColumnElement[bool]] = []
    if busiest is not None:
        top: Select[Any]
        if counted_for is not None:
            top = busiest_outlets(counted_for, busiest)
        else:
            sightings = view[Sighting]
            top = (
                select(sightings.outlet_id)
                .where(members(sightings))
                .group_by(sightings.outlet_id)
                .order_by(func.count().desc(), sightings.outlet_id)
                .limit(busiest)
            )
        among = [pairs.c.source_id.in_(top), pairs.c.target_id.in_(top)]
    source, target = aliased(view[Outlet]), aliased(view[Outlet])
    return (
        select(
            source.slug.label("from_outlet"),
            target.slug.label("to_outlet"),
            pairs.c.citations,
            pairs.c.first_at,
        )
        .join(source, source.id == pairs.c.source_id)
        .join(target, target.id == pairs.c.target_id)
        .where(*among)
        .order_by(pairs.c.first_at, source.slug, target.slug)
    )


async def flows(
    session: AsyncSession,
    view: LedgerView,
    members: Members,
    *,
    busiest: int | None = None,
    counted_for: str | None = None,
) -> list[Flow]:
    """Citations between outlets of the chain; with `busiest`, only between that many of its
    busiest outlets (by sightings): a chain carried by thousands of outlets has millions of
    possible pairs, and a picture of it draws the busiest outlets alone.

    `counted_for` names the claim when the chain is that one claim's, now: its flows are then
    read as recording counted them (`app.claims.chain_counts`) instead of joined from its citations.
    """
    statement = _flows_statement(view, members, busiest=busiest, counted_for=counted_for)
    connection = await session.connection()
    # Rows the database typed are taken as they are rather than validated one by one.
    return [
        Flow.model_construct(from_outlet=source, to_outlet=to, citations=count, first_at=first)
        for source, to, count, first in await connection.execute(statement)
    ]


async def _timeline(
    session: AsyncSession,
    view: LedgerView,
    members: Members,
    bucket: BucketSize,
    span: tuple[datetime, datetime] | None,
    *,
    counted_for: str | None = None,
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
    if counted_for is not None:
        # Hours added up into the bucket's width.
        start = _bucket_start(session, ClaimHour.hour, bucket).label("start")
        statement = (
            select(start, ClaimHour.kind, ClaimHour.stance, func.sum(ClaimHour.sightings))
            .where(ClaimHour.claim_id == counted_for)
            .group_by(start, ClaimHour.kind, ClaimHour.stance)
        )
    else:
        sightings, outlets = view[Sighting], view[Outlet]
        start = _bucket_start(session, sightings.published_at, bucket).label("start")
        statement = (
            select(start, outlets.kind, sightings.stance, func.count())
            .join(outlets, outlets.id == sightings.outlet_id)
            .where(members(sightings))
            # Unordered, so the database may count by hashing: the buckets are few, sorted
            # here.
            .group_by(start, outlets.kind, sightings.stance)
        )
    buckets: dict[datetime, dict[str, Any]] = {}
    for moment, kind, stance, count in await session.execute(statement):
        shown = buckets.setdefault(_utc(moment), {"sightings": 0, "by_kind": {}, "by_stance": {}})
        shown["sightings"] += count
        shown["by_kind"][kind] = shown["by_kind"].get(kind, 0) + count
        shown["by_stance"][stance] = shown["by_stance"].get(stance, 0) + count
    return [Bucket(start=at, **shown) for at, shown in sorted(buckets.items())]


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
            published, recorded = _utc(published_at), _utc(recorded_at)
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


async def spread_document(
    *,
    session: AsyncSession,
    claim: Claim,
    bucket: BucketSize,
    include_variants: bool = False,
    view: LedgerView = CURRENT,
) -> AsyncIterator[bytes]:
    """The claim's chain by outlet, flow and time bucket, with its main path and metrics, as
    the JSON of a `Spread`. Everything but the flows is sized by outlets and buckets; the flows
    (up to outlets squared of them) are written as they are read."""
    members = service.chain_members(view=view, claim_id=claim.id, include_variants=include_variants)
    # The claim's own chain, now, has what recording keeps of it ready to read.
    own = view is CURRENT and not include_variants
    counted_for = claim.id if own else None
    carried = await carried_by(session, view, members, counted_for=counted_for)
    outlets = carried.shown
    span = (min(o.first_at for o in outlets), max(o.last_at for o in outlets)) if outlets else None
    timeline = await _timeline(session, view, members, bucket, span, counted_for=counted_for)
    denial = await first_denial(session, view, members)
    figures = await metrics(
        session, view, members, carried, denial, projected=claim if own else None
    )
    path, hops = await main_path_of(session, view, members, denial)
    yield (
        b'{"claim":'
        + ClaimOut.model_validate(claim).model_dump_json().encode()
        + b',"outlets":'
        + _OUTLETS.dump_json(outlets)
        + b',"flows":['
    )
    written = False
    statement = _flows_statement(view, members, counted_for=counted_for)
    if session.get_bind().dialect.name == "postgresql":
        async for rows in stream_rows(session, _as_json_chunks(statement)):
            for (text_chunk,) in rows:
                yield b"," * written + text_chunk.encode()
                written = True
    else:
        async for chunk in stream_dicts(session, statement):
            if chunk:
                yield b"," * written + json_items(chunk)
                written = True
    yield (
        b'],"timeline":'
        + _BUCKETS.dump_json(timeline)
        + b',"path":'
        + encode(path)
        + b',"hops":'
        + _HOPS.dump_json(hops)
        + b',"metrics":'
        + figures.model_dump_json().encode()
        + b"}"
    )


def _as_json_chunks(statement: Select[Any]) -> Select[Any]:
    """The flows as PostgreSQL writes them in JSON, CHUNK_ROWS to a row, in order: tens of
    thousands of flows cost more to convert row by row in Python than to read. Timestamps
    are written as the API writes them (`utc_z`): UTC, with `Z`, microseconds when not zero."""
    flows = statement.order_by(None).subquery()
    place = func.row_number().over(
        order_by=[flows.c.first_at, flows.c.from_outlet, flows.c.to_outlet]
    )
    numbered = select(flows, (place - 1).label("place")).subquery()
    utc = func.timezone("UTC", numbered.c.first_at)
    fraction = func.extract("microseconds", numbered.c.first_at).cast(BigInteger) % 1_000_000
    written_at = (
        func.to_char(utc, 'YYYY-MM-DD"T"HH24:MI:SS')
        + case((fraction != 0, func.to_char(utc, ".US")), else_=literal(""))
        + literal("Z")
    )
    # Written out rather than by json_build_object, whose JSON has spaces the API's has not.
    flow = (
        literal('{"from_outlet":')
        + func.to_json(numbered.c.from_outlet).cast(Text)
        + literal(',"to_outlet":')
        + func.to_json(numbered.c.to_outlet).cast(Text)
        + literal(',"citations":')
        + numbered.c.citations.cast(Text)
        + literal(',"first_at":"')
        + written_at
        + literal('"}')
    )
    chunk = numbered.c.place // CHUNK_ROWS
    return (
        select(func.string_agg(flow, aggregate_order_by(literal(","), numbered.c.place)))
        .group_by(chunk)
        .order_by(chunk)
    )


_OUTLETS = TypeAdapter(list[SpreadOutlet])
_BUCKETS = TypeAdapter(list[Bucket])
_HOPS = TypeAdapter(list[Hop])
