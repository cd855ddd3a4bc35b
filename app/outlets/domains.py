"""Outlets by address: the domain entries an outlet publishes under, and the outlet of a URL.

An entry belongs to one outlet at most. A URL belongs to the outlet holding the longest entry
that matches it on a segment boundary (`app.urls.domain_candidates` lists every entry that
could, longest first), so a lookup is one indexed `IN (...)` over a handful of keys.
"""

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_or_ignore
from app.errors import Conflict, NotFound
from app.outlets.models import Outlet, OutletDomain
from app.urls import UrlRefused, best_entry, domain_candidates


async def outlet_of(*, session: AsyncSession, url: str) -> Outlet | None:
    """The outlet whose entries match `url` the longest, or None (also for a refused URL)."""
    try:
        candidates = domain_candidates(url)
    except UrlRefused:
        return None
    rows = await session.execute(
        select(OutletDomain.entry, OutletDomain.outlet_id).where(OutletDomain.entry.in_(candidates))
    )
    owners: dict[str, str] = {entry: owner for entry, owner in rows}
    entry = best_entry(frozenset(owners), candidates)
    return await session.get(Outlet, owners[entry]) if entry is not None else None


async def resolve_or_404(*, session: AsyncSession, url: str) -> Outlet:
    """The outlet of `url`, or a 404 saying that no outlet's domains match it."""
    outlet = await outlet_of(session=session, url=url)
    if outlet is None:
        raise NotFound("no outlet's domains match this url")
    return outlet


async def assign(*, session: AsyncSession, outlet_id: str, entries: list[str]) -> None:
    """Make `entries` (canonical already) the outlet's; one another outlet holds is a Conflict."""
    taken = await session.execute(
        select(OutletDomain.entry, OutletDomain.outlet_id).where(
            OutletDomain.entry.in_(entries), OutletDomain.outlet_id != outlet_id
        )
    )
    for entry, owner in taken:
        _refuse(entry, owner)
    await session.execute(
        delete(OutletDomain).where(
            OutletDomain.outlet_id == outlet_id, OutletDomain.entry.not_in(entries)
        )
    )
    for entry in entries:
        # A concurrent writer may take the entry between the check above and this insert.
        if (
            await insert_or_ignore(
                session, OutletDomain, {"entry": entry, "outlet_id": outlet_id}, ["entry"]
            )
            is None
        ):
            holder = await session.scalar(
                select(OutletDomain.outlet_id).where(OutletDomain.entry == entry)
            )
            if holder != outlet_id:
                _refuse(entry, holder or "")


def _refuse(entry: str, owner: str) -> None:
    raise Conflict(f"domain {entry!r} belongs to another outlet already", existing_id=owner)
