"""The citation rules: what a sighting may cite, so that time never runs backwards along a
chain and chains stay acyclic by construction."""

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.enums import CitationBasis
from app.errors import Invalid
from app.outlets.models import Outlet
from app.sightings.models import Citation, Sighting

# Clocks disagree; a little slack keeps honest clients from being refused.
FUTURE_TOLERANCE = timedelta(minutes=5)


class Cited(NamedTuple):
    """A sighting to be cited, and what a claim's flows count of it."""

    basis: CitationBasis
    claim_id: str
    outlet_id: str


class CitedRow(Protocol):
    """A stored sighting or one read ahead: what a citation of it is checked against."""

    @property
    def published_at(self) -> datetime: ...

    @property
    def claim_id(self) -> str: ...

    @property
    def outlet_id(self) -> str: ...


def checked_cites(
    ids: Sequence[str], published_at: datetime, found: Mapping[str, CitedRow]
) -> dict[str, Cited]:
    """The cited sightings among those `found`, each of which must be there and be published
    no later than this one."""
    for index, cited_id in enumerate(ids):
        cited = found.get(cited_id)
        if cited is None:
            raise Invalid(f"no sighting with id {cited_id!r}", loc=["cites", index])
        if cited.published_at > published_at:
            # Time never runs backwards along a chain, which is what keeps chains acyclic.
            raise Invalid(
                f"sighting {cited_id!r} was published after this one; a sighting can only cite "
                "what came before it",
                loc=["cites", index],
            )
    return {
        cited_id: Cited(CitationBasis.cites, found[cited_id].claim_id, found[cited_id].outlet_id)
        for cited_id in ids
    }


async def resolve_cites(
    session: AsyncSession, ids: Sequence[str], published_at: datetime
) -> dict[str, Cited]:
    """The cited sightings, each of which must exist and be published no later than this one."""
    found = {s.id: s for s in await session.scalars(select(Sighting).where(Sighting.id.in_(ids)))}
    return checked_cites(ids, published_at, found)


async def latest_of_outlet(
    session: AsyncSession,
    slug: str,
    claim_id: str,
    published_at: datetime,
    citing_id: str | None = None,
) -> tuple[str, str, datetime] | None:
    """The outlet's latest stored sighting of the claim published at or before `published_at`:
    its id, outlet and publication time."""
    latest = (
        await session.execute(
            select(Sighting.id, Sighting.outlet_id, Sighting.published_at)
            .join(Outlet, Outlet.id == Sighting.outlet_id)
            .where(
                Outlet.slug == slug,
                Sighting.claim_id == claim_id,
                Sighting.published_at <= published_at,
                Sighting.id != (citing_id or ""),
            )
            .order_by(Sighting.published_at.desc(), Sighting.recorded_at.desc())
            .limit(1)
        )
    ).first()
    return None if latest is None else (latest[0], latest[1], latest[2])


def no_earlier_sighting(slug: str, index: int) -> Invalid:
    """The refusal of `cites_outlets[index]`: that outlet has nothing of this claim to cite."""
    return Invalid(
        f"outlet {slug!r} has no sighting of this claim published at or before this one; "
        "record it first",
        loc=["cites_outlets", index],
    )


async def resolve_cited_outlets(
    session: AsyncSession,
    slugs: Sequence[str],
    claim_id: str,
    published_at: datetime,
    citing_id: str | None = None,
) -> dict[str, Cited]:
    """Each named outlet's latest sighting of the claim published at or before this one."""
    resolved: dict[str, Cited] = {}
    for index, slug in enumerate(slugs):
        latest = await latest_of_outlet(session, slug, claim_id, published_at, citing_id)
        if latest is None:
            raise no_earlier_sighting(slug, index)
        resolved[latest[0]] = Cited(CitationBasis.cites_outlet, claim_id, latest[1])
    return resolved


async def check_still_earlier(
    session: AsyncSession, cited_ids: list[str], published_at: datetime
) -> None:
    later = await session.scalars(
        select(Sighting.id).where(Sighting.id.in_(cited_ids), Sighting.published_at > published_at)
    )
    if found := sorted(later):
        raise Invalid(
            f"this sighting cites {', '.join(found)}, published after the new date; a sighting "
            "can only cite what came before it",
            loc=["published_at"],
        )


async def check_citers_later(
    session: AsyncSession, sighting_id: str, published_at: datetime
) -> None:
    earlier = await session.scalars(
        select(Sighting.id)
        .join(Citation, Citation.citing_id == Sighting.id)
        .where(Citation.cited_id == sighting_id, Sighting.published_at < published_at)
    )
    if found := sorted(earlier):
        raise Invalid(
            f"{', '.join(found)} cite this sighting and were published before the new date; time "
            "never runs backwards along a chain",
            loc=["published_at"],
        )


async def check_no_cycle(
    session: AsyncSession, sighting_id: str, cited: set[str], published_at: datetime
) -> None:
    """Refuse citations leading back to this sighting through sightings published with it.

    Citing only what came no later keeps chains acyclic except among sightings that share one
    moment; a walk upstream through just those settles it, so its size follows them alone.
    """
    same_moment = select(Sighting.id).where(
        Sighting.id.in_(cited), Sighting.published_at == published_at
    )
    walk = same_moment.cte("same_moment_upstream", recursive=True)
    step = (
        select(Citation.cited_id)
        .join(walk, Citation.citing_id == walk.c.id)
        .join(Sighting, Sighting.id == Citation.cited_id)
        .where(Sighting.published_at == published_at, Citation.citing_id != sighting_id)
    )
    walk = walk.union(step)
    if await session.scalar(select(walk.c.id).where(walk.c.id == sighting_id).limit(1)):
        raise Invalid(
            "these citations would make the chain loop back to this sighting", loc=["cites"]
        )
