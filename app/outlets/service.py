from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Select, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import Action, Actor, Target
from app.db import insert_new, insert_or_ignore, utcnow
from app.derived.freshness import every_document_changed
from app.enums import OutletKind
from app.errors import Conflict, Invalid, NotFound
from app.ledger import LedgerView, as_of
from app.outlets import domains
from app.outlets.models import Outlet, outlet_versions
from app.outlets.schemas import OutletCreate, OutletUpdate
from app.pagination import PageParams, SortKey, paginate
from app.revisions import (
    Journal,
    changed_fields,
    check_revision,
    created,
    revise,
    revised_values,
)
from app.versioning import lock_rows


class KindChangeHook(Protocol):
    async def __call__(self, *, session: AsyncSession, outlet_id: str, now: datetime) -> None: ...


_kind_change_hooks: list[KindChangeHook] = []


def on_kind_change(hook: KindChangeHook) -> KindChangeHook:
    """Run `hook` in the transaction of every correction that changes an outlet's kind.

    What an outlet's kind changes lives above this domain (a claim's denial status counts only
    official outlets); the domains that keep such things register here rather than being called.
    """
    _kind_change_hooks.append(hook)
    return hook


def _search_text(slug: str, name: str, aliases: list[str]) -> str:
    return "\n".join([slug, name, *aliases]).casefold()


def _row_values(data: OutletCreate, actor: Actor, now: datetime) -> dict[str, Any]:
    values = data.model_dump()
    values["search_text"] = _search_text(data.slug, data.name, data.aliases)
    values |= {
        "created_at": now,
        "updated_at": now,
        "recorded_by": actor.name,
        "recorded_by_key_id": actor.key_id,
        **revised_values(actor, now, revision=1),
    }
    return values


async def get_by_slug(*, session: AsyncSession, slug: str) -> Outlet | None:
    """The outlet with this slug, if any."""
    return await session.scalar(select(Outlet).where(Outlet.slug == slug))


async def get_or_404(*, session: AsyncSession, slug: str, moment: datetime | None = None) -> Outlet:
    """The outlet with this slug (as it stood at `moment`, if given), or a 404."""
    view = as_of(moment)
    outlet = await session.scalar(
        select(view[Outlet])
        .where(view[Outlet].slug == slug)
        .execution_options(populate_existing=True)
    )
    if outlet is None:
        raise NotFound(f"no outlet with slug {slug!r}")
    assert isinstance(outlet, Outlet)
    return outlet


async def _insert(
    session: AsyncSession, data: OutletCreate, actor: Actor, now: datetime
) -> str | None:
    new_id = await insert_or_ignore(session, Outlet, _row_values(data, actor, now), ["slug"])
    if new_id is not None:
        if data.domains:
            await domains.assign(session=session, outlet_id=new_id, entries=data.domains)
        await created(session, target=Target.outlet, record_id=new_id, actor=actor, now=now)
    return new_id


async def create_many(
    *, session: AsyncSession, new: Sequence[tuple[str, OutletCreate]], actor: Actor, now: datetime
) -> dict[str, Outlet]:
    """Create these outlets under the ids given, logged in the order given; the outlets by the
    ids given (one another writer created first is that writer's).

    An outlet another writer created meanwhile is theirs; only those inserted here are logged.
    """
    if not new:
        return {}
    rows = [{**_row_values(data, actor, now), "id": outlet_id} for outlet_id, data in new]
    inserted, taken = await insert_new(session, Outlet, rows, "slug")
    journal = Journal()
    for outlet_id, data in new:
        if outlet_id in inserted:
            if data.domains:
                await domains.assign(session=session, outlet_id=outlet_id, entries=data.domains)
            journal.created(target=Target.outlet, record_id=outlet_id, actor=actor, now=now)
    await journal.write(session)
    loaded = await session.scalars(
        select(Outlet)
        .where(Outlet.id.in_(inserted) | Outlet.slug.in_(taken))
        .execution_options(populate_existing=True)
    )
    found: dict[str, Outlet] = {}
    for outlet in loaded:
        found[taken.get(outlet.slug, outlet.id)] = outlet
    return found


async def create(
    *, session: AsyncSession, data: OutletCreate, actor: Actor, now: datetime | None = None
) -> Outlet:
    """Create an outlet; a taken slug is a conflict pointing at the existing one."""
    new_id = await _insert(session, data, actor, now or utcnow())
    if new_id is None:
        existing = await get_or_404(session=session, slug=data.slug)
        raise Conflict(f"slug {data.slug!r} is taken", existing_id=existing.id)
    return await _load(session, new_id)


async def get_or_create(
    *, session: AsyncSession, data: OutletCreate, actor: Actor, now: datetime | None = None
) -> Outlet:
    """The outlet with this slug, created from `data` when there is none."""
    new_id = await _insert(session, data, actor, now or utcnow())
    if new_id is None:
        return await get_or_404(session=session, slug=data.slug)
    return await _load(session, new_id)


async def _load(session: AsyncSession, outlet_id: str) -> Outlet:
    outlet = await session.get(Outlet, outlet_id)
    assert outlet is not None, "a row inserted in this transaction is visible to it"
    return outlet


def _filtered(
    view: LedgerView, kind: OutletKind | None, country: str | None, q: str | None
) -> Select[Any]:
    outlets = view[Outlet]
    statement = select(outlets).execution_options(populate_existing=True)
    if kind is not None:
        statement = statement.where(outlets.kind == kind)
    if country is not None:
        statement = statement.where(outlets.country == country.upper())
    if q:
        statement = statement.where(outlets.search_text.contains(q.casefold(), autoescape=True))
    return statement


async def list_outlets(
    *,
    session: AsyncSession,
    page: PageParams,
    kind: OutletKind | None = None,
    country: str | None = None,
    q: str | None = None,
    moment: datetime | None = None,
) -> tuple[list[Outlet], str | None]:
    """Outlets in slug order, filtered by kind, country and a substring of slug, name or alias."""
    view = as_of(moment)
    statement = _filtered(view, kind, country, q)
    return await paginate(session, statement, [SortKey(view[Outlet].slug)], page)


async def correct(
    *,
    session: AsyncSession,
    slug: str,
    data: OutletUpdate,
    actor: Actor,
    expected_revision: int | None,
    now: datetime | None = None,
) -> Outlet:
    """Apply the fields sent as a new revision; a change of kind recomputes its claims."""
    now = now or utcnow()
    outlet_id = (await get_or_404(session=session, slug=slug)).id
    # Taking the row lock first makes concurrent corrections queue up here, each applied on top
    # of the one before; the row is read again once the lock is held.
    await lock_rows(session, Outlet, Outlet.id == outlet_id)
    outlet = await session.get(Outlet, outlet_id, populate_existing=True)
    assert outlet is not None
    check_revision(outlet.revision, expected_revision)
    sent = data.model_dump(exclude_unset=True, exclude={"reason"})
    for required in ("name", "kind", "aliases", "domains"):
        if required in sent and sent[required] is None:
            raise Invalid(f"{required} cannot be cleared", loc=[required])
    changes = changed_fields(outlet, sent)
    if not changes:
        return outlet
    if "domains" in changes:
        await domains.assign(session=session, outlet_id=outlet.id, entries=sent["domains"])
    shown = {"slug": outlet.slug, "name": outlet.name, "aliases": outlet.aliases} | sent
    await revise(
        session,
        outlet,
        outlet_versions,
        values=sent
        | {
            "search_text": _search_text(shown["slug"], shown["name"], shown["aliases"]),
            "updated_at": now,
        },
        actor=actor,
        now=now,
        target=Target.outlet,
        action=Action.corrected,
        reason=data.reason,
        changes=changes,
    )
    if "kind" in changes:
        for hook in _kind_change_hooks:
            await hook(session=session, outlet_id=outlet.id, now=now)
    # An outlet is shown inside the documents of every claim it carried, and its corrections
    # write no event. Counted last: concurrent corrections queue on the count until commit.
    await every_document_changed(session=session, source="outlets")
    return outlet
