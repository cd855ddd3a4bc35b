from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.alerts import events as alert_events
from app.auth.service import Principal
from app.claims import service as claims
from app.claims.models import Claim
from app.db import insert_or_ignore, utcnow
from app.denials.service import refresh_claim
from app.enums import CitationBasis, Stance
from app.errors import Conflict, Invalid, NotFound
from app.outlets import service as outlets
from app.outlets.models import Outlet
from app.pagination import PageParams, SortKey, paginate
from app.sightings.models import Citation, Sighting
from app.sightings.schemas import CitationOut, SightingCreate
from app.sightings.schemas import Sighting as SightingOut

# Clocks disagree; a little slack keeps honest clients from being refused.
FUTURE_TOLERANCE = timedelta(minutes=5)


def with_outlet() -> Select[Sighting]:
    return select(Sighting).options(joinedload(Sighting.outlet, innerjoin=True))


async def get_or_404(*, session: AsyncSession, sighting_id: str) -> Sighting:
    """The sighting with this id, its outlet loaded, or a 404."""
    sighting = await session.scalar(with_outlet().where(Sighting.id == sighting_id))
    if sighting is None:
        raise NotFound(f"no sighting with id {sighting_id!r}")
    return sighting


async def citations_of(
    *, session: AsyncSession, sighting_ids: Sequence[str]
) -> dict[str, list[Citation]]:
    """The citations each of these sightings makes, in one query."""
    cited: dict[str, list[Citation]] = {sid: [] for sid in sighting_ids}
    if sighting_ids:
        rows = await session.scalars(
            select(Citation).where(Citation.citing_id.in_(sighting_ids)).order_by(Citation.cited_id)
        )
        for citation in rows:
            cited[citation.citing_id].append(citation)
    return cited


def present_one(sighting: Sighting, citations: Sequence[Citation]) -> SightingOut:
    return SightingOut.model_validate(
        {
            **{c.key: getattr(sighting, c.key) for c in Sighting.__table__.columns},
            "outlet": sighting.outlet,
            "cites": [c.cited_id for c in citations],
            "citations": [CitationOut(sighting_id=c.cited_id, basis=c.basis) for c in citations],
        }
    )


async def present(*, session: AsyncSession, sightings: Sequence[Sighting]) -> list[SightingOut]:
    """Sightings as the API shows them, with their citations fetched in one query."""
    cited = await citations_of(session=session, sighting_ids=[s.id for s in sightings])
    return [present_one(s, cited[s.id]) for s in sightings]


async def _resolve_claim(session: AsyncSession, data: SightingCreate) -> Claim:
    if (data.claim_id is None) == (data.claim is None):
        raise Invalid("send exactly one of claim_id or claim", loc=["claim_id"])
    if data.claim is not None:
        claim, _created = await claims.get_or_create(
            session=session, data=data.claim, loc=["claim"]
        )
        return claim
    assert data.claim_id is not None
    existing = await claims.get(session=session, claim_id=data.claim_id)
    if existing is None:
        raise Invalid(f"no claim with id {data.claim_id!r}", loc=["claim_id"])
    return existing


async def _resolve_outlet(session: AsyncSession, data: SightingCreate) -> Outlet:
    if isinstance(data.outlet, str):
        outlet = await outlets.get_by_slug(session=session, slug=data.outlet)
        if outlet is None:
            raise Invalid(
                f"no outlet with slug {data.outlet!r}; create it first or send it inline",
                loc=["outlet"],
            )
        return outlet
    return await outlets.get_or_create(session=session, data=data.outlet)


async def _resolve_cites(
    session: AsyncSession, ids: Sequence[str], published_at: datetime
) -> dict[str, CitationBasis]:
    found = {s.id: s for s in await session.scalars(select(Sighting).where(Sighting.id.in_(ids)))}
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
    return dict.fromkeys(ids, CitationBasis.cites)


async def _resolve_cited_outlets(
    session: AsyncSession, slugs: Sequence[str], claim_id: str, published_at: datetime
) -> dict[str, CitationBasis]:
    resolved: dict[str, CitationBasis] = {}
    for index, slug in enumerate(slugs):
        latest = await session.scalar(
            select(Sighting.id)
            .join(Outlet, Outlet.id == Sighting.outlet_id)
            .where(
                Outlet.slug == slug,
                Sighting.claim_id == claim_id,
                Sighting.published_at <= published_at,
            )
            .order_by(Sighting.published_at.desc(), Sighting.recorded_at.desc())
            .limit(1)
        )
        if latest is None:
            raise Invalid(
                f"outlet {slug!r} has no sighting of this claim published at or before this one; "
                "record it first",
                loc=["cites_outlets", index],
            )
        resolved[latest] = CitationBasis.cites_outlet
    return resolved


async def record(
    *,
    session: AsyncSession,
    principal: Principal,
    data: SightingCreate,
    now: datetime | None = None,
) -> Sighting:
    """Record one appearance of a claim in an outlet, with the sightings it took the claim from."""
    now = now or utcnow()
    if data.published_at > now + FUTURE_TOLERANCE:
        raise Invalid("published_at is in the future", loc=["published_at"])
    claim = await _resolve_claim(session, data)
    outlet = await _resolve_outlet(session, data)
    # Taking the claim's row lock first serialises sightings of one claim, so the counters and
    # denial status computed below always see every committed sighting.
    await session.execute(update(Claim).where(Claim.id == claim.id).values(updated_at=now))
    cited = await _resolve_cited_outlets(session, data.cites_outlets, claim.id, data.published_at)
    # An explicit citation wins over one resolved from an outlet's name.
    cited.update(await _resolve_cites(session, data.cites, data.published_at))

    values: dict[str, Any] = data.model_dump(
        exclude={"claim_id", "claim", "outlet", "cites", "cites_outlets"}
    )
    values |= {
        "claim_id": claim.id,
        "outlet_id": outlet.id,
        "recorded_at": now,
        "recorded_by": principal.name,
        "recorded_by_key_id": principal.key_id,
    }
    new_id = await insert_or_ignore(session, Sighting, values, ["claim_id", "outlet_id", "url"])
    if new_id is None:
        existing = await session.scalar(
            select(Sighting.id).where(
                Sighting.claim_id == claim.id,
                Sighting.outlet_id == outlet.id,
                Sighting.url == data.url,
            )
        )
        assert existing is not None
        raise Conflict(
            "this claim is already recorded in this outlet at this url", existing_id=existing
        )
    session.add_all(
        Citation(citing_id=new_id, cited_id=cited_id, basis=basis)
        for cited_id, basis in cited.items()
    )
    await session.flush()
    await alert_events.sighting_recorded(session=session, sighting_id=new_id)
    await refresh_claim(session=session, claim_id=claim.id)
    return await get_or_404(session=session, sighting_id=new_id)


async def list_sightings(
    *,
    session: AsyncSession,
    page: PageParams,
    claim_id: str | None = None,
    outlet: str | None = None,
    stance: Stance | None = None,
    since: datetime | None = None,
) -> tuple[list[Sighting], str | None]:
    """Sightings in publication order, filtered by claim, outlet slug, stance and start time."""
    statement = with_outlet()
    if claim_id is not None:
        statement = statement.where(Sighting.claim_id == claim_id)
    if outlet is not None:
        statement = statement.where(Sighting.outlet.has(Outlet.slug == outlet))
    if stance is not None:
        statement = statement.where(Sighting.stance == stance)
    if since is not None:
        statement = statement.where(Sighting.published_at >= since)
    keys = [SortKey(Sighting.published_at), SortKey(Sighting.id)]
    return await paginate(session, statement, keys, page)
