"""A chain summarised for dashboards: per outlet, per outlet-to-outlet flow, per time bucket.

Everything but the main path is aggregated by the database, so the answer and the work are
sized by outlets and time buckets. The main path walks only what leads to the first denial
(or, without one, what the earliest origin reached), never reading whole sightings.
"""

import asyncio
from collections.abc import AsyncIterator, Iterable
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import (
    ColumnElement,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.chains import service
from app.chains.assembly import GraphReader
from app.chains.denial_path import first_denial, main_path_of, metrics
from app.chains.outlet_figures import as_utc, carried_by, flows_as_json_chunks, flows_statement
from app.chains.schemas import Bucket, Hop, Metrics, SpreadOutlet
from app.chains.service import Members
from app.claims.models import Claim, ClaimHour
from app.claims.schemas import Claim as ClaimOut
from app.errors import Invalid
from app.ledger import CURRENT, LedgerView
from app.outlets.models import Outlet
from app.sightings.models import Sighting
from app.streaming import CHUNK_ROWS, encode, json_items, stream_dicts, stream_rows


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


def _check_span(bucket: BucketSize, span: tuple[datetime, datetime]) -> None:
    if (span[1] - span[0]) / WIDTH[bucket] > MAX_BUCKETS:
        raise Invalid(
            f"this chain spans more than {MAX_BUCKETS:,} buckets of one {bucket.value}; "
            "ask for a longer bucket",
            loc=["bucket"],
            source="query",
        )


def _buckets(counted: Iterable[tuple[datetime, str, str, int]]) -> list[Bucket]:
    """(bucket start, outlet kind, stance, sightings) counts as the timeline's buckets."""
    buckets: dict[datetime, dict[str, Any]] = {}
    for moment, kind, stance, count in counted:
        shown = buckets.setdefault(as_utc(moment), {"sightings": 0, "by_kind": {}, "by_stance": {}})
        shown["sightings"] += count
        shown["by_kind"][kind] = shown["by_kind"].get(kind, 0) + count
        shown["by_stance"][stance] = shown["by_stance"].get(stance, 0) + count
    return [Bucket(start=at, **shown) for at, shown in sorted(buckets.items())]


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
    _check_span(bucket, span)
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
    return _buckets(await session.execute(statement))


def _bucket_of(moment: datetime, bucket: BucketSize) -> datetime:
    """The start of the UTC bucket holding `moment`, as the databases cut it (weeks from
    Monday)."""
    hour = as_utc(moment).replace(minute=0, second=0, microsecond=0)
    if bucket is BucketSize.hour:
        return hour
    day = hour.replace(hour=0)
    return day if bucket is BucketSize.day else day - timedelta(days=day.weekday())


def _counted_from(
    reader: GraphReader, bucket: BucketSize
) -> tuple[list[SpreadOutlet], list[Bucket], list[dict[str, Any]]]:
    """Outlets, timeline and flows counted from a chain read whole, as the database counts
    them from a claim's rows or recording counted them."""
    outline, outlets = reader.outline, reader.outlets
    at = [as_utc(published) for published in outline.published]
    by_outlet: dict[str, dict[str, Any]] = {}
    hours: dict[tuple[datetime, str, str], int] = {}
    place: dict[str, int] = {}
    for index, (sighting_id, outlet_id, stance) in enumerate(
        zip(outline.ids, outline.outlet_ids, outline.stances, strict=True)
    ):
        place[sighting_id] = index
        outlet = outlets[outlet_id]
        seen = by_outlet.get(outlet_id)
        # In time order: an outlet's first sighting is its first, the last read its last.
        if seen is None:
            by_outlet[outlet_id] = seen = {
                "slug": outlet.slug,
                "kind": outlet.kind,
                "country": outlet.country,
                "sightings": 0,
                "first_at": at[index],
            }
        seen["sightings"] += 1
        seen["last_at"] = at[index]
        hour = (at[index].replace(minute=0, second=0, microsecond=0), outlet.kind.value, stance)
        hours[hour] = hours.get(hour, 0) + 1
    shown = sorted(by_outlet.values(), key=lambda o: (o["first_at"], o["slug"]))
    if shown:
        _check_span(bucket, (shown[0]["first_at"], max(o["last_at"] for o in shown)))
    pairs: dict[tuple[str, str], list[Any]] = {}
    for citing_id, cited in reader.cites.items():
        citing = place[citing_id]
        target, first_at = outline.outlet_ids[citing], at[citing]
        for cited_id, _ in cited:
            pair = pairs.get((outline.outlet_ids[place[cited_id]], target))
            if pair is None:
                pairs[(outline.outlet_ids[place[cited_id]], target)] = [1, first_at]
            else:
                pair[0] += 1
                pair[1] = min(pair[1], first_at)
    flows = sorted(
        (
            {
                "from_outlet": outlets[source].slug,
                "to_outlet": outlets[target].slug,
                "citations": count,
                "first_at": first_at,
            }
            for (source, target), (count, first_at) in pairs.items()
        ),
        key=lambda flow: (flow["first_at"], flow["from_outlet"], flow["to_outlet"]),
    )
    timeline = _buckets(
        (_bucket_of(hour, bucket), kind, stance, n) for (hour, kind, stance), n in hours.items()
    )
    return [SpreadOutlet.model_validate(o) for o in shown], timeline, flows


async def _past_spread(
    session: AsyncSession, claim: Claim, chain: service.ChainView, bucket: BucketSize
) -> AsyncIterator[bytes]:
    """The spread of a claim's chain at a past moment, counted from its rows read once, the
    way its chain is assembled: a few index-driven reads whatever the planner knows."""
    reader = GraphReader(
        session=session,
        members=chain.members,
        view=chain.view,
        outline_only=True,
        own_rows=True,
    )
    await reader.load()
    await reader.read_outline()
    # Seconds of Python on a large chain: in a thread, the process answers others meanwhile.
    outlets, timeline, flows = await asyncio.to_thread(_counted_from, reader, bucket)
    summary = await asyncio.to_thread(reader.summary)
    yield _head(claim, outlets)
    for start in range(0, len(flows), CHUNK_ROWS):
        yield b"," * (start > 0) + json_items(flows[start : start + CHUNK_ROWS])
    yield _tail(timeline, summary.path, summary.hops, summary.metrics)


def _head(claim: Claim, outlets: list[SpreadOutlet]) -> bytes:
    return (
        b'{"claim":'
        + ClaimOut.model_validate(claim).model_dump_json().encode()
        + b',"outlets":'
        + _OUTLETS.dump_json(outlets)
        + b',"flows":['
    )


def _tail(timeline: list[Bucket], path: list[str], hops: list[Hop], figures: Metrics) -> bytes:
    return (
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
    chain = service.claim_chain(view=view, claim_id=claim.id, include_variants=include_variants)
    if chain.own_rows:
        async for part in _past_spread(session, claim, chain, bucket):
            yield part
        return
    view, members = chain.view, chain.members
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
    yield _head(claim, outlets)
    written = False
    statement = flows_statement(view, members, counted_for=counted_for)
    if session.get_bind().dialect.name == "postgresql":
        async for rows in stream_rows(session, flows_as_json_chunks(statement)):
            for (text_chunk,) in rows:
                yield b"," * written + text_chunk.encode()
                written = True
    else:
        async for chunk in stream_dicts(session, statement):
            if chunk:
                yield b"," * written + json_items(chunk)
                written = True
    yield _tail(timeline, path, hops, figures)


_OUTLETS = TypeAdapter(list[SpreadOutlet])
_BUCKETS = TypeAdapter(list[Bucket])
_HOPS = TypeAdapter(list[Hop])
