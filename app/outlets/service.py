from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import insert_or_ignore, utcnow
from app.enums import OutletKind
from app.errors import Conflict, Invalid, NotFound
from app.outlets.models import Outlet
from app.outlets.schemas import OutletCreate, OutletUpdate
from app.pagination import PageParams, SortKey, paginate


def _search_text(slug: str, name: str, aliases: list[str]) -> str:
    return "\n".join([slug, name, *aliases]).casefold()


def _row_values(data: OutletCreate) -> dict[str, Any]:
    values = data.model_dump()
    values["search_text"] = _search_text(data.slug, data.name, data.aliases)
    return values


async def get_by_slug(*, session: AsyncSession, slug: str) -> Outlet | None:
    """The outlet with this slug, if any."""
    return await session.scalar(select(Outlet).where(Outlet.slug == slug))


async def get_or_404(*, session: AsyncSession, slug: str) -> Outlet:
    """The outlet with this slug, or a 404."""
    outlet = await get_by_slug(session=session, slug=slug)
    if outlet is None:
        raise NotFound(f"no outlet with slug {slug!r}")
    return outlet


async def create(*, session: AsyncSession, data: OutletCreate) -> Outlet:
    """Create an outlet; a taken slug is a conflict pointing at the existing one."""
    new_id = await insert_or_ignore(session, Outlet, _row_values(data), ["slug"])
    if new_id is None:
        existing = await get_or_404(session=session, slug=data.slug)
        raise Conflict(f"slug {data.slug!r} is taken", existing_id=existing.id)
    return await _load(session, new_id)


async def get_or_create(*, session: AsyncSession, data: OutletCreate) -> Outlet:
    """The outlet with this slug, created from `data` when there is none."""
    new_id = await insert_or_ignore(session, Outlet, _row_values(data), ["slug"])
    if new_id is None:
        return await get_or_404(session=session, slug=data.slug)
    return await _load(session, new_id)


async def _load(session: AsyncSession, outlet_id: str) -> Outlet:
    outlet = await session.get(Outlet, outlet_id)
    assert outlet is not None, "a row inserted in this transaction is visible to it"
    return outlet


def _filtered(kind: OutletKind | None, country: str | None, q: str | None) -> Select[Outlet]:
    statement = select(Outlet)
    if kind is not None:
        statement = statement.where(Outlet.kind == kind)
    if country is not None:
        statement = statement.where(Outlet.country == country.upper())
    if q:
        statement = statement.where(Outlet.search_text.contains(q.casefold(), autoescape=True))
    return statement


async def list_outlets(
    *,
    session: AsyncSession,
    page: PageParams,
    kind: OutletKind | None = None,
    country: str | None = None,
    q: str | None = None,
) -> tuple[list[Outlet], str | None]:
    """Outlets in slug order, filtered by kind, country and a substring of slug, name or alias."""
    return await paginate(session, _filtered(kind, country, q), [SortKey(Outlet.slug)], page)


async def update(
    *, session: AsyncSession, outlet: Outlet, data: OutletUpdate
) -> tuple[Outlet, bool]:
    """Apply the fields sent; also tell whether the outlet's kind changed."""
    changes = data.model_dump(exclude_unset=True)
    for required in ("name", "kind", "aliases"):
        if required in changes and changes[required] is None:
            raise Invalid(f"{required} cannot be cleared", loc=[required])
    kind_changed = "kind" in changes and changes["kind"] != outlet.kind
    for field, value in changes.items():
        setattr(outlet, field, value)
    outlet.search_text = _search_text(outlet.slug, outlet.name, outlet.aliases)
    outlet.updated_at = utcnow()
    await session.flush()
    return outlet, kind_changed
