"""Reading sightings: one by id (410 once withdrawn), or a page of them, now or at a past moment."""

from datetime import datetime
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import contains_eager

from app.enums import Stance
from app.errors import Gone, NotFound
from app.ledger import CURRENT, LedgerView, as_of
from app.outlets.models import Outlet
from app.pagination import PageParams, SortKey, paginate
from app.schemas import utc_z
from app.sightings.models import Sighting, Withdrawal
from app.urls import canonical_url


def with_outlet(view: LedgerView = CURRENT) -> Select[Any]:
    """Sightings of the view, each with its outlet as the view holds it."""
    sightings, outlets = view[Sighting], view[Outlet]
    return (
        select(sightings)
        .join(outlets, outlets.id == sightings.outlet_id)
        .options(contains_eager(sightings.outlet.of_type(outlets)))
        .execution_options(populate_existing=True)
    )


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
    sighting = await session.scalar(with_outlet(view).where(view[Sighting].id == sighting_id))
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


async def list_sightings(
    *,
    session: AsyncSession,
    page: PageParams,
    claim_id: str | None = None,
    outlet: str | None = None,
    stance: Stance | None = None,
    since: datetime | None = None,
    url: str | None = None,
    moment: datetime | None = None,
) -> tuple[list[Any], str | None]:
    """Sightings in publication order, filtered by claim, outlet slug, stance, start time and
    URL (any of its forms)."""
    view = as_of(moment)
    sightings = view[Sighting]
    statement = with_outlet(view)
    if claim_id is not None:
        statement = statement.where(sightings.claim_id == claim_id)
    if outlet is not None:
        statement = statement.where(view[Outlet].slug == outlet)
    if stance is not None:
        statement = statement.where(sightings.stance == stance)
    if since is not None:
        statement = statement.where(sightings.published_at >= since)
    if url is not None:
        statement = statement.where(sightings.canonical_url == canonical_url(url))
    keys = [SortKey(sightings.published_at), SortKey(sightings.id)]
    return await paginate(session, statement, keys, page)
