"""A claim's chain counted as it is written: per outlet, per hour, per outlet-to-outlet flow.

What a dashboard draws of a claim (`GET /v1/claims/{id}/spread`, the claim page) is these
counts. Kept as sightings and citations are written, they are read from a few index ranges
sized by outlets and hours, where counting them again would read each of a claim's 100,000
sightings and 200,000 citations on every request.

Recording only adds, so a recorder adds to the counts (`ChainTally`); a correction, withdrawal
or merge can also take away, and counts the claims it touched again (`recount`), as does a
change of an outlet's kind. Whoever counts again holds the claim's row lock, as for the claim's
other projected fields; adding needs none, as sums add up in any order. Flows count citations
within one claim only: a family of variants, or the chain at a past moment, is counted from the
sightings and citations themselves.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import (
    Boolean,
    ColumnElement,
    case,
    delete,
    func,
    insert,
    inspect,
    literal,
    literal_column,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from app.claims.models import ClaimFlow, ClaimHour, ClaimOutlet
from app.db import Base, insert_rows, keys_present, table_of
from app.enums import DenialStatus, OutletKind, Stance
from app.outlets.models import Outlet
from app.portable import not_indexed
from app.sightings.models import Citation, Sighting

# A sighting without a language of its own is counted under this one (a key cannot be NULL).
NO_LANGUAGE = ""


def hour_of(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


class AddedSighting(NamedTuple):
    claim_id: str
    outlet_id: str
    kind: OutletKind
    stance: Stance
    at: datetime


class AddedCitation(NamedTuple):
    """A citation within one claim: a sighting of the target outlet, published `at`, cites one
    of the source outlet."""

    claim_id: str
    source_outlet_id: str
    target_outlet_id: str
    at: datetime


@dataclass
class Additions:
    """Every sighting and citation within a claim that one transaction recorded: what kept
    projections move by when recording is the only change to their claims."""

    sightings: list[AddedSighting] = field(default_factory=list)
    citations: list[AddedCitation] = field(default_factory=list)
    # The claims this transaction gave an outlet (in a language) they had no row for: only
    # their count of outlets can have changed.
    opened: set[str] = field(default_factory=set)
    # Each claim's sightings, first sighting and denial status as `refresh_claims` left them
    # in this transaction, under the claims' row locks: the projections kept above this domain
    # read them here rather than asking the rows again while every other writer of the same
    # claims waits.
    refreshed: dict[str, tuple[int, datetime | None, DenialStatus]] = field(default_factory=dict)


@dataclass
class ChainTally:
    """What one transaction recorded, counted per claim until written; `added` keeps each
    sighting and citation for the projections kept above this domain."""

    _flows: dict[tuple[str, str, str], tuple[int, datetime]] = field(default_factory=dict)
    _outlets: dict[tuple[str, str, str], tuple[int, datetime, datetime]] = field(
        default_factory=dict
    )
    _hours: dict[tuple[str, datetime, str, str], int] = field(default_factory=dict)
    added: Additions = field(default_factory=Additions)

    def add_sighting(
        self,
        *,
        claim_id: str,
        outlet_id: str,
        kind: OutletKind,
        language: str | None,
        stance: Stance,
        at: datetime,
    ) -> None:
        key = (claim_id, outlet_id, language or NO_LANGUAGE)
        count, first, last = self._outlets.get(key, (0, at, at))
        self._outlets[key] = (count + 1, min(first, at), max(last, at))
        hour = (claim_id, hour_of(at), kind.value, stance.value)
        self._hours[hour] = self._hours.get(hour, 0) + 1
        self.added.sightings.append(AddedSighting(claim_id, outlet_id, kind, stance, at))

    def add_citation(
        self, *, claim_id: str, source_outlet_id: str, target_outlet_id: str, at: datetime
    ) -> None:
        """One citation of a sighting of `source_outlet_id` by one of `target_outlet_id`,
        published `at`, both of the claim."""
        key = (claim_id, source_outlet_id, target_outlet_id)
        citations, first_at = self._flows.get(key, (0, at))
        self._flows[key] = (citations + 1, min(first_at, at))
        self.added.citations.append(AddedCitation(claim_id, source_outlet_id, target_outlet_id, at))

    async def write(self, session: AsyncSession) -> None:
        """Add what was counted to the claims' counts, and start counting afresh."""
        # In key order, so two writers of the same claim's rows meet them in the same order.
        flows = [
            {
                "claim_id": claim_id,
                "source_outlet_id": source,
                "target_outlet_id": target,
                "citations": citations,
                "first_at": first_at,
            }
            for (claim_id, source, target), (citations, first_at) in sorted(self._flows.items())
        ]
        outlets = [
            {
                "claim_id": claim_id,
                "outlet_id": outlet_id,
                "language": language,
                "sightings": count,
                "first_at": first,
                "last_at": last,
            }
            for (claim_id, outlet_id, language), (count, first, last) in sorted(
                self._outlets.items()
            )
        ]
        hours = [
            {"claim_id": claim_id, "hour": hour, "kind": kind, "stance": stance, "sightings": n}
            for (claim_id, hour, kind, stance), n in sorted(self._hours.items())
        ]
        await _add(session, ClaimFlow, flows, summed=["citations"], earliest=["first_at"])
        self.added.opened |= await _add(
            session,
            ClaimOutlet,
            outlets,
            summed=["sightings"],
            earliest=["first_at"],
            latest=["last_at"],
            telling_new=True,
        )
        await _add(session, ClaimHour, hours, summed=["sightings"])
        self._flows.clear()
        self._outlets.clear()
        self._hours.clear()


async def _add(
    session: AsyncSession,
    model: type[Base],
    rows: list[dict[str, Any]],
    *,
    summed: list[str],
    earliest: tuple[str, ...] | list[str] = (),
    latest: tuple[str, ...] | list[str] = (),
    telling_new: bool = False,
) -> set[str]:
    """Insert the rows, or add them to those already under their keys; `telling_new`, the
    claims of the rows inserted rather than added to.

    On PostgreSQL the insert says which rows it made (a row it made has no deleting
    transaction yet): a writer of the same key waits for the other's commit, so exactly one
    makes it. SQLite has one writer at a time, which may ask first which keys are there.
    """
    table = inspect(model).columns
    keys = list(inspect(model).primary_key)

    def adding(upsert: Any) -> Any:
        new = upsert.excluded
        update: dict[str, ColumnElement[Any]] = {name: table[name] + new[name] for name in summed}
        for name in earliest:
            update[name] = case((new[name] < table[name], new[name]), else_=table[name])
        for name in latest:
            update[name] = case((new[name] > table[name], new[name]), else_=table[name])
        return upsert.on_conflict_do_update(index_elements=keys, set_=update)

    if not telling_new:
        await insert_rows(session, table_of(model), rows, adding)
        return set()
    if session.get_bind().dialect.name == "postgresql":
        made = literal_column("xmax = 0", Boolean)
        written = await insert_rows(
            session, table_of(model), rows, adding, returning=[table["claim_id"], made]
        )
        return {row[0] for row in written if row[1]}
    names = [key.name for key in keys]
    present = await keys_present(session, keys, [tuple(row[n] for n in names) for row in rows])
    await insert_rows(session, table_of(model), rows, adding)
    return {row["claim_id"] for row in rows if tuple(row[n] for n in names) not in present}


def _hour_start(session: AsyncSession, moment: Any) -> ColumnElement[Any]:
    """The start of the UTC hour of a stored time, as the engine stores a time."""
    if session.get_bind().dialect.name == "postgresql":
        return func.timezone("UTC", func.date_trunc("hour", func.timezone("UTC", moment)))
    # SQLite keeps times as naive UTC text with microseconds, which this keeps comparable.
    return func.strftime("%Y-%m-%d %H:00:00.000000", moment)


async def recount(session: AsyncSession, claim_id: str) -> None:
    """Count the claim's chain again from its sightings and citations, after some were changed
    or removed."""
    for model in (ClaimFlow, ClaimOutlet, ClaimHour):
        await session.execute(delete(model).where(model.claim_id == claim_id))
    citing, cited = aliased(Sighting), aliased(Sighting)
    flows = (
        select(
            literal(claim_id),
            cited.outlet_id,
            citing.outlet_id,
            func.count(),
            func.min(citing.published_at),
        )
        .select_from(citing)
        .join(Citation, Citation.citing_id == citing.id)
        .join(cited, cited.id == Citation.cited_id)
        # Driven from the claim's sightings; the cited end is looked up by its key.
        .where(citing.claim_id == claim_id, not_indexed(cited.claim_id) == claim_id)
        .group_by(cited.outlet_id, citing.outlet_id)
    )
    language = func.coalesce(Sighting.language, literal(NO_LANGUAGE))
    outlets = (
        select(
            literal(claim_id),
            Sighting.outlet_id,
            language,
            func.count(),
            func.min(Sighting.published_at),
            func.max(Sighting.published_at),
        )
        .where(Sighting.claim_id == claim_id)
        .group_by(Sighting.outlet_id, language)
    )
    hour = _hour_start(session, Sighting.published_at)
    hours = (
        select(literal(claim_id), hour, Outlet.kind, Sighting.stance, func.count())
        .join(Outlet, Outlet.id == Sighting.outlet_id)
        .where(Sighting.claim_id == claim_id)
        .group_by(hour, Outlet.kind, Sighting.stance)
    )
    await session.execute(
        insert(ClaimFlow).from_select(
            ["claim_id", "source_outlet_id", "target_outlet_id", "citations", "first_at"], flows
        )
    )
    await session.execute(
        insert(ClaimOutlet).from_select(
            ["claim_id", "outlet_id", "language", "sightings", "first_at", "last_at"], outlets
        )
    )
    await session.execute(
        insert(ClaimHour).from_select(["claim_id", "hour", "kind", "stance", "sightings"], hours)
    )
