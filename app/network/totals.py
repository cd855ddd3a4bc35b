"""Keeping `outlet_totals` and `outlet_links` equal to the sums of the outlet days and flows.

A claim counted again changes the totals of its outlets and pairs by the difference between its
rows before and after; differences add up whatever order concurrent writers commit in, so two
transactions touching one pair never lose each other's counts. Only a first or last time that
went away (a correction, withdrawal or move) is read again from the flows of that pair.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    case,
    delete,
    distinct,
    func,
    inspect,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from app.db import Base, insert_rows, key_chunks, key_in, table_of
from app.network.models import OutletDay, OutletFlow, OutletLink, OutletTotal
from app.outlets.models import Outlet

# Keys per statement: two parameters each, well under both engines' limits.
_KEYS_PER_STATEMENT = 400

Pair = tuple[str, str]


@dataclass(frozen=True)
class Link:
    citations: int
    claims: int
    first_at: datetime | None
    last_at: datetime | None


NO_LINK = Link(0, 0, None, None)
NO_TOTAL = (0, 0, 0, 0)


def _earliest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else min(a, b)


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class Figures:
    """A set of claims' contribution to the totals, read before and after they are recounted,
    or what rows added to other claims add to them."""

    links: dict[Pair, Link]
    totals: dict[str, tuple[int, int, int, int]]

    def plus(self, other: "Figures") -> "Figures":
        """Both contributions together: counts summed, times widened."""
        links = dict(self.links)
        for key, link in other.links.items():
            mine = links.get(key, NO_LINK)
            links[key] = Link(
                mine.citations + link.citations,
                mine.claims + link.claims,
                _earliest(mine.first_at, link.first_at),
                _latest(mine.last_at, link.last_at),
            )
        totals = dict(self.totals)
        for outlet_id, figures in other.totals.items():
            mine_total = totals.get(outlet_id, NO_TOTAL)
            summed = tuple(a + b for a, b in zip(mine_total, figures, strict=True))
            totals[outlet_id] = (summed[0], summed[1], summed[2], summed[3])
        return Figures(links=links, totals=totals)


NO_FIGURES = Figures(links={}, totals={})


async def figures_of(session: AsyncSession, claim_ids: Sequence[str]) -> Figures:
    """What these claims' rows add to each outlet's total and each pair's link."""
    links = {
        (source, target): Link(citations, claims, first_at, last_at)
        for source, target, citations, claims, first_at, last_at in await session.execute(
            select(
                OutletFlow.source_outlet_id,
                OutletFlow.target_outlet_id,
                func.sum(OutletFlow.citations),
                func.count(distinct(OutletFlow.claim_id)),
                func.min(OutletFlow.first_at),
                func.max(OutletFlow.last_at),
            )
            .where(OutletFlow.claim_id.in_(claim_ids))
            .group_by(OutletFlow.source_outlet_id, OutletFlow.target_outlet_id)
        )
    }
    totals = {
        outlet_id: (claims, sightings, first, after)
        for outlet_id, claims, sightings, first, after in await session.execute(
            select(
                OutletDay.outlet_id,
                func.count(distinct(OutletDay.claim_id)),
                func.sum(OutletDay.sightings),
                func.sum(OutletDay.carried_first),
                func.sum(OutletDay.after_denial),
            )
            .where(OutletDay.claim_id.in_(claim_ids))
            .group_by(OutletDay.outlet_id)
        )
    }
    return Figures(links=links, totals=totals)


def _in_chunks(rows: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(rows), _KEYS_PER_STATEMENT):
        yield rows[start : start + _KEYS_PER_STATEMENT]


# What a row names rather than counts: kept as the row first had it.
_NAMES = frozenset({"source_slug", "target_slug"})


async def add_to(session: AsyncSession, model: type[Base], rows: list[dict[str, Any]]) -> None:
    """Add the rows' figures to those under their keys (a new key starts from them); first and
    last times only ever move outwards here."""
    if not rows:
        return
    table = inspect(model).columns
    keys = list(inspect(model).primary_key)
    key_names = {key.name for key in keys}

    def adding(upsert: Any) -> Any:
        new = upsert.excluded
        update: dict[str, ColumnElement[Any]] = {}
        for name in rows[0]:
            if name in ("first_at", "last_at"):
                outwards = (
                    new[name] < table[name] if name == "first_at" else new[name] > table[name]
                )
                update[name] = case((outwards, new[name]), else_=table[name])
            elif name not in key_names | _NAMES:
                update[name] = table[name] + new[name]
        return upsert.on_conflict_do_update(index_elements=keys, set_=update)

    await insert_rows(session, table_of(model), rows, adding)


async def _reread_times(session: AsyncSession, pairs: list[Pair]) -> None:
    """The first and last times of these pairs, read again from their flows."""
    pair = [OutletFlow.source_outlet_id, OutletFlow.target_outlet_id]
    dialect = session.get_bind().dialect.name
    for chunk in key_chunks(pairs):
        rows = await session.execute(
            select(
                OutletFlow.source_outlet_id,
                OutletFlow.target_outlet_id,
                func.min(OutletFlow.first_at),
                func.max(OutletFlow.last_at),
            )
            .where(key_in(dialect, pair, chunk))
            .group_by(OutletFlow.source_outlet_id, OutletFlow.target_outlet_id)
        )
        for source, target, first_at, last_at in rows.all():
            await session.execute(
                update(OutletLink)
                .where(OutletLink.source_outlet_id == source, OutletLink.target_outlet_id == target)
                .values(first_at=first_at, last_at=last_at)
            )


async def _name(session: AsyncSession, links: list[dict[str, Any]]) -> None:
    """Give each link its outlets' slugs, which a new link is stored with."""
    ids = sorted({link[key] for link in links for key in ("source_outlet_id", "target_outlet_id")})
    slugs: dict[str, str] = {}
    for chunk in _in_chunks(ids):
        rows = await session.execute(select(Outlet.id, Outlet.slug).where(Outlet.id.in_(chunk)))
        slugs.update((outlet_id, slug) for outlet_id, slug in rows)
    for link in links:
        link["source_slug"] = slugs[link["source_outlet_id"]]
        link["target_slug"] = slugs[link["target_outlet_id"]]


def _shrunk(old: Link, new: Link) -> bool:
    """Whether the pair's first or last time may have come from rows that went."""
    if old.first_at is None or old.last_at is None:
        return False
    if new.first_at is None or new.last_at is None:
        return True
    return new.first_at > old.first_at or new.last_at < old.last_at


async def apply(session: AsyncSession, before: Figures, after: Figures) -> None:
    """Move the totals by what the recounted claims changed."""
    links: list[dict[str, Any]] = []
    shrunk: list[Pair] = []
    for key in sorted(before.links.keys() | after.links.keys()):
        old, new = before.links.get(key, NO_LINK), after.links.get(key, NO_LINK)
        if old == new:
            continue
        links.append(
            {
                "source_outlet_id": key[0],
                "target_outlet_id": key[1],
                "citations": new.citations - old.citations,
                "claims": new.claims - old.claims,
                "first_at": new.first_at or old.first_at,
                "last_at": new.last_at or old.last_at,
            }
        )
        if _shrunk(old, new):
            shrunk.append(key)
    await _name(session, links)
    totals: list[dict[str, Any]] = []
    for outlet_id in sorted(before.totals.keys() | after.totals.keys()):
        old_total = before.totals.get(outlet_id, NO_TOTAL)
        new_total = after.totals.get(outlet_id, NO_TOTAL)
        if old_total == new_total:
            continue
        delta = [n - o for n, o in zip(new_total, old_total, strict=True)]
        names = ["claims", "sightings", "first_to_carry", "after_denial"]
        totals.append({"outlet_id": outlet_id, **dict(zip(names, delta, strict=True))})
    await add_to(session, OutletLink, links)
    await add_to(session, OutletTotal, totals)
    if shrunk:
        await _reread_times(session, shrunk)
    # Pairs and outlets left with nothing go, so the network lists only what was carried.
    gone_pairs = [key for key in shrunk if key not in after.links]
    pair = [OutletLink.source_outlet_id, OutletLink.target_outlet_id]
    dialect = session.get_bind().dialect.name
    for chunk in key_chunks(gone_pairs):
        await session.execute(
            delete(OutletLink).where(key_in(dialect, pair, chunk), OutletLink.citations <= 0)
        )
    gone = [key for key in before.totals if key not in after.totals]
    for chunk in _in_chunks(gone):
        await session.execute(
            delete(OutletTotal).where(OutletTotal.outlet_id.in_(chunk), OutletTotal.sightings <= 0)
        )
