from datetime import datetime

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import joinedload

from app.auth.service import Principal
from app.db import utcnow
from app.enums import Stance
from app.errors import NotFound
from app.outlets.models import Outlet
from app.pagination import PageParams, SortKey, paginate
from app.sightings.models import Sighting
from app.sightings.recorder import Recorder
from app.sightings.schemas import SightingCreate


def with_outlet() -> Select[Sighting]:
    return select(Sighting).options(joinedload(Sighting.outlet, innerjoin=True))


async def get_or_404(*, session: AsyncSession, sighting_id: str) -> Sighting:
    """The sighting with this id, its outlet loaded, or a 404."""
    sighting = await session.scalar(with_outlet().where(Sighting.id == sighting_id))
    if sighting is None:
        raise NotFound(f"no sighting with id {sighting_id!r}")
    return sighting


async def record(
    *,
    session: AsyncSession,
    principal: Principal,
    data: SightingCreate,
    now: datetime | None = None,
) -> Sighting:
    """Record one appearance of a claim in an outlet, with the sightings it took the claim from."""
    recorder = Recorder(session=session, principal=principal, now=now or utcnow())
    await recorder.lock_claims([data])
    sighting_id = await recorder.record(data)
    await recorder.finish()
    return await get_or_404(session=session, sighting_id=sighting_id)


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
