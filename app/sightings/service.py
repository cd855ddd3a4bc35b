from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.service import Principal
from app.db import utcnow
from app.enums import Stance
from app.errors import Gone, NotFound
from app.ledger import as_of, with_outlet
from app.pagination import PageParams, SortKey, paginate
from app.schemas import utc_z
from app.sightings.models import Sighting, Withdrawal
from app.sightings.recorder import Recorder
from app.sightings.schemas import SightingCreate


async def _withdrawal(
    session: AsyncSession, sighting_id: str, moment: datetime | None
) -> Withdrawal | None:
    statement = select(Withdrawal).where(Withdrawal.sighting_id == sighting_id)
    if moment is not None:
        statement = statement.where(Withdrawal.withdrawn_at <= moment)
    return await session.scalar(statement)


async def get_or_404(
    *, session: AsyncSession, sighting_id: str, moment: datetime | None = None
) -> Sighting:
    """The sighting with its outlet (as they stood at `moment`, if given); 410 once withdrawn."""
    view = as_of(moment)
    sighting = await session.scalar(with_outlet(view).where(view.sightings.id == sighting_id))
    if sighting is not None:
        assert isinstance(sighting, Sighting)
        return sighting
    withdrawal = await _withdrawal(session, sighting_id, moment)
    if withdrawal is not None:
        raise Gone(
            f"sighting {sighting_id!r} was withdrawn: {withdrawal.reason}",
            withdrawn_at=utc_z(withdrawal.withdrawn_at),
            withdrawn_by=withdrawal.withdrawn_by,
            reason=withdrawal.reason,
        )
    raise NotFound(f"no sighting with id {sighting_id!r}")


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
    moment: datetime | None = None,
) -> tuple[list[Any], str | None]:
    """Sightings in publication order, filtered by claim, outlet slug, stance and start time."""
    view = as_of(moment)
    sightings = view.sightings
    statement = with_outlet(view)
    if claim_id is not None:
        statement = statement.where(sightings.claim_id == claim_id)
    if outlet is not None:
        statement = statement.where(view.outlets.slug == outlet)
    if stance is not None:
        statement = statement.where(sightings.stance == stance)
    if since is not None:
        statement = statement.where(sightings.published_at >= since)
    keys = [SortKey(sightings.published_at), SortKey(sightings.id)]
    return await paginate(session, statement, keys, page)
