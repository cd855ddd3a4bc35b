"""A chain's figures per outlet and per outlet-to-outlet flow, read from what recording counted
of the claim (`app.claims.chain_counts`) when the chain is that one claim's, now, and aggregated
from the ledger otherwise; sized by outlets, never by sightings."""

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ColumnElement,
    Select,
    Text,
    case,
    func,
    literal,
    select,
)
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.chains.schemas import Flow, SpreadOutlet
from app.chains.service import Members
from app.claims.chain_counts import NO_LANGUAGE
from app.claims.models import ClaimFlow, ClaimOutlet
from app.ledger import LedgerView
from app.outlets.models import Outlet
from app.portable import Unindexed
from app.sightings.models import Citation, Sighting
from app.streaming import CHUNK_ROWS


def as_utc(value: datetime | str) -> datetime:
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
                "first_at": as_utc(first),
                "last_at": as_utc(last),
            }
            continue
        seen["sightings"] += count
        seen["first_at"] = min(seen["first_at"], as_utc(first))
        seen["last_at"] = max(seen["last_at"], as_utc(last))
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


def flows_statement(
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
    statement = flows_statement(view, members, busiest=busiest, counted_for=counted_for)
    connection = await session.connection()
    # Rows the database typed are taken as they are rather than validated one by one.
    return [
        Flow.model_construct(from_outlet=source, to_outlet=to, citations=count, first_at=first)
        for source, to, count, first in await connection.execute(statement)
    ]


def flows_as_json_chunks(statement: Select[Any]) -> Select[Any]:
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
