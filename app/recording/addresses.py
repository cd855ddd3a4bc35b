"""Where a sighting was seen: its URL's canonical form, the outlet a URL names, and the
sighting already recorded at the same address.

Each is one call per item, so the single POST, the batch and `tracer import` share them.
"""

from functools import lru_cache

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.errors import Conflict, Invalid
from app.outlets import domains
from app.outlets.models import Outlet
from app.sightings.models import Sighting
from app.urls import canonical_url

NO_OUTLET = (
    "no outlet's domains match this url: name the outlet by its slug (or inline), "
    "or add the address to an outlet's domains"
)


# A batch asks for each of its URLs twice (reading ahead, then checking the item); sized for a
# few batches at once.
@lru_cache(maxsize=16_384)
def canonical_of(url: str) -> str:
    """The canonical form of a URL already checked by the request's schema."""
    return canonical_url(url)


async def outlet_from_url(*, session: AsyncSession, url: str) -> Outlet:
    """The outlet whose domains match `url`; a 422 naming `outlet` when none does."""
    outlet = await domains.outlet_of(session=session, url=url)
    if outlet is None:
        raise Invalid(NO_OUTLET, loc=["outlet"])
    return outlet


async def recorded_at(
    *,
    session: AsyncSession,
    claim_id: str,
    outlet_id: str,
    canonical: str,
    other_than: str | None = None,
) -> str | None:
    """The sighting of this claim in this outlet at this canonical URL, if there is one."""
    statement = select(Sighting.id).where(
        Sighting.claim_id == claim_id,
        Sighting.outlet_id == outlet_id,
        Sighting.canonical_url == canonical,
        Sighting.duplicate_of.is_(None),
    )
    if other_than is not None:
        statement = statement.where(Sighting.id != other_than)
    return await session.scalar(statement)


def duplicate(existing_id: str) -> Conflict:
    return Conflict(
        "this claim is already recorded in this outlet at this url (in the same or another "
        "form of it)",
        existing_id=existing_id,
    )
